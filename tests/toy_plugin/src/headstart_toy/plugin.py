"""Hook implementations of the toy plugin (the only module with ``@hookimpl``)."""

from __future__ import annotations

from headstart import SourceProvider, TaskType, hookimpl

from .sources import ToyProvider
from .tasks import VectorClassification


@hookimpl
def headstart_source_providers() -> list[SourceProvider]:
    return [ToyProvider()]


@hookimpl
def headstart_task_types() -> list[TaskType]:
    return [
        TaskType(VectorClassification.name, VectorClassification, "classify feature vectors (CSV or synthetic blobs)")
    ]
