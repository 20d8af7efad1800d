"""Each block schedule's phases on a given block map."""

from __future__ import annotations

import pytest
import torch

from headstart.freeze.plan import validate_phases
from headstart.policies import LPFT, Discriminative, Full, GradualUnfreeze, LinearProbe, Scratch, TopK, prepare_model

from ..freeze.conftest import make_model

BLOCKS = ["stem", "stage1", "stage2", "stage3", "head"]


def test_linear_probe_trains_only_the_head() -> None:
    phases = LinearProbe().phases(BLOCKS, 5)
    assert [(p.start_epoch, set(p.trainable)) for p in phases] == [(0, {"head"})]


def test_full_trains_everything_at_one_rate() -> None:
    (phase,) = Full().phases(BLOCKS, 5)
    assert set(phase.trainable) == set(BLOCKS) and dict(phase.lr_scale) == {}


@pytest.mark.parametrize(
    ("k", "expected"), [(0, {"head"}), (1, {"stage3", "head"}), (2, {"stage2", "stage3", "head"}), (4, set(BLOCKS))]
)
def test_top_k_trains_the_last_k_blocks(k: int, expected: set[str]) -> None:
    (phase,) = TopK(k=k).phases(BLOCKS, 5)
    assert set(phase.trainable) == expected


def test_top_k_larger_than_the_source_says_how_many_blocks_exist() -> None:
    with pytest.raises(ValueError, match=r"k=5 but the source has only 4 blocks \(stem, stage1, stage2, stage3\)"):
        TopK(k=5).phases(BLOCKS, 5)


def test_discriminative_decays_by_depth_from_the_head() -> None:
    (phase,) = Discriminative(decay=0.5).phases(BLOCKS, 5)
    assert dict(phase.lr_scale) == {"head": 1.0, "stage3": 0.5, "stage2": 0.25, "stage1": 0.125, "stem": 0.0625}


def test_gradual_unfreeze_adds_one_block_from_the_top_every_n_epochs() -> None:
    phases = GradualUnfreeze(every=2).phases(BLOCKS, 10)
    assert [p.start_epoch for p in phases] == [0, 2, 4, 6, 8]
    assert [set(p.trainable) for p in phases] == [
        {"head"},
        {"stage3", "head"},
        {"stage2", "stage3", "head"},
        {"stage1", "stage2", "stage3", "head"},
        set(BLOCKS),
    ]
    validate_phases(phases, BLOCKS, 10, "gradual-unfreeze")


def test_gradual_unfreeze_stops_adding_phases_when_epochs_run_out() -> None:
    phases = GradualUnfreeze(every=1).phases(BLOCKS, 3)
    assert [p.name for p in phases] == ["unfreeze-0", "unfreeze-1", "unfreeze-2"]


def test_gradual_unfreeze_with_decay_scales_unfrozen_blocks() -> None:
    phases = GradualUnfreeze(every=1, decay=0.5).phases(BLOCKS, 5)
    assert dict(phases[2].lr_scale) == {"head": 1.0, "stage3": 0.5, "stage2": 0.25}


def test_lp_ft_probes_then_fine_tunes_everything_at_a_lower_rate() -> None:
    lp, ft = LPFT(ft_lr_scale=0.2).phases(BLOCKS, 6)
    assert (lp.start_epoch, set(lp.trainable)) == (0, {"head"})
    assert (ft.start_epoch, set(ft.trainable)) == (3, set(BLOCKS))
    assert set(ft.lr_scale.values()) == {0.2}


def test_lp_ft_needs_an_epoch_to_fine_tune() -> None:
    with pytest.raises(ValueError, match="leaves no epoch to fine-tune"):
        LPFT(lp_epochs=4).phases(BLOCKS, 4)


def test_scratch_reinitialises_in_prepare_and_trains_everything() -> None:
    (phase,) = Scratch().phases(BLOCKS, 2)
    assert set(phase.trainable) == set(BLOCKS) and phase.name == "scratch"
    assert Full().phases(BLOCKS, 2)[0].name == "full"
    model = make_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert prepare_model(Full(), model, seed=3) == frozenset()
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    assert prepare_model(Scratch(), model, seed=3) == frozenset()  # nothing added, weights replaced
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    assert changed and all(n.startswith("backbone.") for n in changed)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (lambda: Discriminative(decay=0), r"decay must be in \(0, 1\], got 0"),
        (lambda: GradualUnfreeze(every=0), "every must be >= 1, got 0"),
        (lambda: TopK(k=-1), "k must be >= 0, got -1"),
        (lambda: LPFT(lp_epochs=0), "lp_epochs must be >= 1, got 0"),
        (lambda: LinearProbe(solver="adam"), "solver must be lbfgs or sgd, got 'adam'"),
    ],
)
def test_bad_options_are_refused_naming_the_option_the_rule_and_the_value(bad, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=f"^{message}$"):
        bad()
