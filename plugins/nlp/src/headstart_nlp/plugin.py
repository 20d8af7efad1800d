"""Hook implementations of the NLP plugin (the only module with ``@hookimpl``)."""

from __future__ import annotations

from headstart import DatasetFormat, LocalModel, Metric, SourceProvider, TaskType, hookimpl

from .data import read_conll, read_glue_tsv
from .entities import entity_f1, entity_precision, entity_recall
from .local import local_models
from .ner import TokenClassification
from .sources import HFTextProvider
from .text_tasks import TextClassification, TextRegression


@hookimpl
def headstart_source_providers() -> list[SourceProvider]:
    return [HFTextProvider()]


@hookimpl
def headstart_local_models() -> list[LocalModel]:
    return local_models()


@hookimpl
def headstart_task_types() -> list[TaskType]:
    return [
        TaskType(
            TextClassification.name,
            TextClassification,
            "one label per text or text pair (CSV / TSV / GLUE TSV / JSONL); accuracy, macro-F1, MCC",
        ),
        TaskType(
            TextRegression.name,
            TextRegression,
            "one number per text or text pair (STS-B style); Pearson, Spearman",
        ),
        TaskType(
            TokenClassification.name,
            TokenClassification,
            "one tag per word of CoNLL-2003 files (NER, BIO / IOB2 / IOB1); entity precision, recall, F1",
        ),
    ]


@hookimpl
def headstart_dataset_formats() -> list[DatasetFormat]:
    return [
        DatasetFormat("glue-tsv", read_glue_tsv, "GLUE-style TSV: tab-separated, header line, quotes taken literally"),
        DatasetFormat(
            "conll", read_conll, "CoNLL-2003: one token per line with its fields, blank line between sentences"
        ),
    ]


@hookimpl
def headstart_metrics() -> list[Metric]:
    return [
        Metric("entity-f1", entity_f1, True, "entity-level F1 over BIO / IOB2 / IOB1 tag sequences (conlleval)"),
        Metric("entity-precision", entity_precision, True, "entity-level precision (type and span must match)"),
        Metric("entity-recall", entity_recall, True, "entity-level recall (type and span must match)"),
    ]
