"""The non-finite watch keeps each step's loss and gradient norm and names the first bad step at a check."""

from __future__ import annotations

import math

import pytest
import torch

from headstart.engine.nonfinite import NonFiniteWatch, TrainingDiverged


def test_the_first_bad_step_and_its_kind_are_kept() -> None:
    watch = NonFiniteWatch(torch.device("cpu"))
    watch.record(1, torch.tensor(0.5), torch.tensor(2.0))
    watch.check(0, "hint")  # all finite: nothing raised
    watch.record(2, torch.tensor(0.5), torch.tensor(math.inf))  # finite loss, bad gradients
    watch.record(3, torch.tensor(math.nan), None)  # a later bad step does not replace the first
    with pytest.raises(TrainingDiverged, match=r"non-finite gradients at step 2 \(epoch 4\); hint"):
        watch.check(4, "hint")
    loss_first = NonFiniteWatch(torch.device("cpu"))
    loss_first.record(7, torch.tensor(math.inf), torch.tensor(math.nan))
    with pytest.raises(TrainingDiverged, match="non-finite loss at step 7"):
        loss_first.check(0, "hint")


def test_a_check_covers_the_steps_since_the_last_one() -> None:
    watch = NonFiniteWatch(torch.device("cpu"))
    watch.check(0, "hint")  # nothing recorded yet
    watch.record(1, torch.tensor(0.5), None)  # a step that did not read its gradient norm
    watch.record(2, torch.tensor(0.4), torch.tensor(1.0))
    watch.check(0, "hint")
    watch.record(3, torch.tensor(0.3), torch.tensor(math.nan))
    with pytest.raises(TrainingDiverged, match="non-finite gradients at step 3"):
        watch.check(1, "hint")
    watch.check(1, "hint")  # what a check has read is not read again


def test_a_long_stretch_between_checks_is_tested_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    from headstart.engine import nonfinite

    monkeypatch.setattr(nonfinite, "MAX_KEPT", 4)
    watch = NonFiniteWatch(torch.device("cpu"))
    for step in range(1, 11):  # step 3 is bad; steps 7-10 are bad too but later
        bad = step == 3 or step >= 7
        watch.record(step, torch.tensor(math.nan if bad else 0.5), torch.tensor(1.0))
        assert len(watch._steps) < 4  # never more kept than MAX_KEPT
    with pytest.raises(TrainingDiverged, match="non-finite loss at step 3"):
        watch.check(2, "hint")
    watch.check(2, "hint")  # reported once
