"""The split names every task uses, and the one check of a task's ``data`` / ``split`` options.

A task's data comes in up to three splits: ``train`` (required), ``val`` (picks ``best`` and
drives early stopping) and ``test`` (measured once, with the best weights). A task that takes a
mapping ``{split: file}`` checks it with :func:`check_splits`; a task that carves ``val`` / ``test``
out of ``train`` (``split: {val: 0.1}``) passes that mapping as ``carve``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ..options import suggest

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
#: The splits that can be carved out of ``train``.
CARVED_SPLITS: tuple[Split, ...] = ("val", "test")


def check_splits(
    data: Mapping[str, Any] | None, carve: Mapping[str, Any] | None = None, *, where: str = "data"
) -> None:
    """Refuse a ``data`` mapping with an unknown split name or without ``train``, and a ``carve``
    mapping (the task's ``split`` option) that names anything but ``val`` / ``test`` or a split
    ``data`` gives as a file already. ``data`` is None when the task's data is not a mapping (a
    directory, a built-in dataset); then only ``carve`` is checked. Errors are ``ValueError``s
    naming the key and the valid choices."""
    if data is not None:
        for name in data:
            if name not in SPLITS:
                raise ValueError(
                    f"{where}.{name}: unknown split{suggest(str(name), SPLITS)}; valid splits: {', '.join(SPLITS)}"
                )
        if "train" not in data:
            raise ValueError(f"{where} needs a train entry; got splits {', '.join(data) or '(none)'}")
    for name in carve or {}:
        if name not in CARVED_SPLITS:
            raise ValueError(
                f"split.{name}: only {' and '.join(CARVED_SPLITS)} can be carved from train"
                f"{suggest(str(name), CARVED_SPLITS)}"
            )
        if data is not None and name in data:
            raise ValueError(
                f"split.{name}: {where}.{name} gives the {name} split already; carve it or give it, not both"
            )
