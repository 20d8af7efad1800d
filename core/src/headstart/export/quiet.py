"""Warnings torch raises about its own internals during an export, which a user can neither act
on nor silence: they would print above Headstart's lines (and above an error line).

Each is named by its exact message and category and silenced only around the one torch call that
raises it; any other warning still shows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: (category, message regex) of each internal warning, with the call that raises it (torch 2.11).
TORCH_INTERNAL = (
    # torch.onnx.export(dynamo=True): torch's exporter still tests pytree specs the deprecated way
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
    # torch.export.load: the archive's bytes are read-only; torch copies them before use
    (UserWarning, r"The given buffer is not writable"),
)


@contextmanager
def torch_internal_warnings() -> Iterator[None]:
    """Silence :data:`TORCH_INTERNAL` (and nothing else) inside the block."""
    with warnings.catch_warnings():
        for category, message in TORCH_INTERNAL:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield
