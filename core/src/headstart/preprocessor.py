"""What a task takes from its source: the preprocessor of the kind the task works with.

A source carries its domain's preprocessing as ``source.preprocessor`` (an image transform, an
audio feature extractor, a tokenizer). A task that needs one kind asks for it here, so a source of
another domain fails the same way for every task: one line naming the task, the sources that
would serve it and the source given.
"""

from __future__ import annotations

from typing import TypeVar

from .interfaces import SourceModel
from .options import ConfigError

P = TypeVar("P")


def source_preprocessor(source: SourceModel, kind: type[P], task: str, sources: str) -> P:
    """``source.preprocessor`` when it is a ``kind``; otherwise a ConfigError saying that task
    ``task`` needs ``sources`` (``"an image source (timm:…, torchvision:…)"``)."""
    pre = getattr(source, "preprocessor", None)
    if not isinstance(pre, kind):
        raise ConfigError(
            f"task {task} needs {sources}; source {source.name} has no {kind.__name__} "
            f"(its preprocessor: {type(pre).__name__})"
        )
    return pre
