"""Every class a task trains must have training examples: one check, the same line in every domain.

A class with no training example still gets an output unit, so the model trains, reports and
predicts a class it has never seen (its logits only ever pushed down) — a label set written by
hand with a typo, an empty class folder, a label budget or ``skip_bad`` that removed a class's
last example. ``require_every_class`` refuses that with one line naming the data, the classes and
what would be right. Every built-in classification task calls it on the training examples it keeps
(after budgets and skipping), and third-party tasks are offered it through the public API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

from .formats import DataError

#: What would be right, when the label set was given by ``task.labels``.
REMOVE_FROM_LABELS = "add examples of it or remove it from task.labels"


def require_every_class(
    classes: Sequence[Hashable],
    train_labels: Iterable[Hashable],
    where: object,
    fix: str = REMOVE_FROM_LABELS,
    *,
    what: str = "class",
) -> None:
    """Raise a :class:`DataError` naming ``where`` (the training file or folder) unless each of
    ``classes`` occurs among ``train_labels`` (the labels of the training examples kept).

    ``fix`` says what would be right (default: add examples or remove the class from
    ``task.labels``); ``what`` names a class in the message (``class``, ``entity type`` …)."""
    counts = Counter(train_labels)
    empty = [c for c in classes if not counts[c]]
    if not empty:
        return
    plural = "es" if what.endswith("s") else "s"
    names = ", ".join(repr(str(c)) for c in empty)
    listed = ", ".join(str(c) for c in classes)
    raise DataError(
        f"{where}: no training examples of {what}{plural if len(empty) > 1 else ''} {names} "
        f"({what}{plural}: {listed}); {fix}"
    )
