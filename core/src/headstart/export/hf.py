"""What the plugins' ``headstart export --to hf`` writers share; the writers (NLP, speech) know
their model classes, this module the steps every one of them takes:

* :func:`hf_model`: a transformers ``AutoModelFor…`` class built from the source's own config
  (with the task's changes: labels, vocabulary size …), the run's encoder weights loaded into its
  base model — an encoder that does not fit is a ConfigError naming the keys;
* :func:`checked_hf_export`: the written folder loaded back with the class's ``from_pretrained``,
  its outputs compared with Headstart's on the same inputs, and the facts ``export.json`` keeps;
* :func:`hf_writer`: a source's ``hf`` writer, choosing the function for the run's task.

transformers is never imported here: the classes come from the plugin that calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..options import ConfigError

if TYPE_CHECKING:
    from ..inference.predictor import Predictor

#: One task's writer: ``(predictor, folder) -> export.json's facts``.
HFWriter = Callable[["Predictor", Path], dict[str, Any]]


def hf_model(
    auto_class: Any,
    predictor: Predictor,
    *,
    labels: Sequence[str] | None = None,
    ignore_unexpected: tuple[str, ...] = (),
    **changes: Any,
) -> Any:
    """``auto_class.from_config`` on the run's backbone config with ``changes`` (and ``labels`` as
    ``id2label`` / ``label2id``), holding the run's encoder weights. Encoder keys starting with
    ``ignore_unexpected`` may be left over (a pooler the class has no place for)."""
    base: Any = predictor.model.backbone.config  # a transformers config
    if labels is not None:
        changes = {"id2label": dict(enumerate(labels)), "label2id": {k: i for i, k in enumerate(labels)}, **changes}
    model = auto_class.from_config(base.__class__.from_dict({**base.to_dict(), **changes}))
    encoder = getattr(model, model.base_model_prefix)
    missing, unexpected = encoder.load_state_dict(predictor.model.backbone.state_dict(), strict=False)
    unexpected = [k for k in unexpected if not k.startswith(ignore_unexpected)]
    if missing or unexpected:
        raise ConfigError(
            f"the encoder does not fit {type(model).__name__}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return model


def checked_hf_export(
    folder: Path,
    auto_class: Any,
    outputs: Callable[[Any], tuple[torch.Tensor, torch.Tensor]],
    *,
    pipeline: str | None = None,
    remote_code: str | None = None,
) -> dict[str, Any]:
    """Load ``folder`` back with ``auto_class.from_pretrained`` (in eval mode) and return the facts
    of the export: its files, how to load it, and ``max_abs_diff`` between the two tensors that
    ``outputs(reloaded)`` returns (the reloaded model's and Headstart's, on the same inputs; run
    without gradients). ``pipeline``: the transformers pipeline task that serves the folder;
    ``remote_code``: the file of code the folder carries, loaded with ``trust_remote_code=True``."""
    name = auto_class.__name__
    trust = {"trust_remote_code": True} if remote_code else {}
    reloaded = auto_class.from_pretrained(folder, **trust).eval()
    with torch.no_grad():
        theirs, ours = outputs(reloaded)
    load_with = f"{name}.from_pretrained({str(folder)!r}{', trust_remote_code=True' if remote_code else ''})"
    return {
        "files": sorted(p.name for p in folder.iterdir()),
        "load_with": load_with + (f" or pipeline({pipeline!r}, model=…)" if pipeline else ""),
        "max_abs_diff": float((theirs.float() - ours.float()).abs().max()),
        "checked_with": f"transformers {name}" + (f" (trust_remote_code: {remote_code})" if remote_code else ""),
    }


def hf_writer(writers: Mapping[str, HFWriter]) -> HFWriter:
    """The ``hf`` writer of a source: the function of ``writers`` named by the run's task; any
    other task is a ConfigError pointing to ``--to onnx``."""

    def write(predictor: Predictor, folder: Path) -> dict[str, Any]:
        name = getattr(predictor.task, "name", "")
        if name not in writers:
            raise ConfigError(f"--to hf does not know task {name!r}; use --to onnx")
        return writers[name](predictor, folder)

    return write
