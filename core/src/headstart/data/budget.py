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
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Sequence


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
    return sorted(keep)
