"""Transferability estimates: rank candidate sources on a target task from frozen features.

* :func:`logme` — LogME (You et al., ICML 2021), classification and regression forms;
* :func:`h_score` — the shrinkage-regularised H-score (Bao et al. 2019; Ibrahim et al. 2022);
* :func:`kendall_tau` — how well an estimate's order agrees with fine-tuned results;
* :func:`rank_sources` — features of each source on a task's train split (through the engine's
  feature cache), pooled as the task's head pools them, scored and sorted.
"""

from __future__ import annotations

from .features import TaskFeatures, UnsupportedTaskError, task_features
from .logme import logme
from .ranking import format_table, rank_sources, source_label, write_ranking
from .scores import h_score, kendall_tau

__all__ = [
    "TaskFeatures",
    "UnsupportedTaskError",
    "format_table",
    "h_score",
    "kendall_tau",
    "logme",
    "rank_sources",
    "source_label",
    "task_features",
    "write_ranking",
]
