"""Label budgets, one meaning in every domain: a seeded, stratified draw of training examples.

``sample_per_class(labels, per_class, seed)`` keeps at most ``per_class`` examples of each label,
drawn uniformly at random with ``seed`` (every subset of that size is equally likely), and
returns their indices in the split's original order. Every built-in task's ``max_per_class``
uses it, and third-party tasks are offered it through the public API.

The seed is the run's ``seed`` unless the task's ``data_seed`` option pins it: ``build`` writes
the run seed into ``task.data_seed`` when a task takes that option and sets a budget, so the
resolved config (and the feature-cache key) names the draw, and a report's interval over seeds
covers both the training noise and which labelled examples were drawn. Pin ``data_seed`` to
measure the training noise alone on one fixed draw.

A budget selects from the split, so its features do too: while ``build`` prepares a task it
records the draws made (:func:`recording`); a run whose task made exactly one, of its training
split, knows which examples of the full split it keeps (:class:`BudgetDraw`), and the feature
cache gives it those rows of the full split's entry — computed once for every budget and seed of a
``compare`` matrix — instead of running the source over the budgeted split again.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: The task options that make a label budget; without them the task reads its full split.
BUDGET_OPTIONS = ("max_per_class", "data_seed")

_DRAWS: contextvars.ContextVar[list[tuple[int, list[int]]] | None] = contextvars.ContextVar("draws", default=None)


@dataclass(frozen=True)
class BudgetDraw:
    """A run's label budget as the feature cache sees it: ``indices`` of the ``size`` training
    examples the task has without its budget; ``full_config`` is the run's config without the
    budget options (it keys the full split's features), ``full_task`` builds and prepares the
    task without its budget (to compute them when no run has yet)."""

    size: int
    indices: list[int]
    full_config: dict[str, Any]
    full_task: Callable[[], Any]


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[int, list[int]]]]:
    """Collect ``(split size, kept indices)`` of every budget drawn with :func:`sample_per_class`
    inside the block."""
    draws: list[tuple[int, list[int]]] = []
    token = _DRAWS.set(draws)
    try:
        yield draws
    finally:
        _DRAWS.reset(token)


def sample_per_class(labels: Sequence[Hashable], per_class: int | None, seed: int) -> list[int]:
    """Indices of at most ``per_class`` examples of each label (all when ``None``), drawn with
    ``seed``, in their original order. Labels with fewer examples keep all of them."""
    if per_class is None:
        return list(range(len(labels)))
    if per_class < 1:
        raise ValueError(f"a label budget must be >= 1 example per class (or null), got {per_class}")
    by_label: dict[Hashable, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    keep: list[int] = []
    for label in sorted(by_label, key=repr):  # a fixed order of draws, whatever the split's order
        idx = by_label[label]
        keep.extend(rng.sample(idx, per_class) if len(idx) > per_class else idx)
    keep.sort()
    draws = _DRAWS.get()
    if draws is not None:
        draws.append((len(labels), list(keep)))
    return keep
