"""The training loop end to end on the toy plugin: files, events, resume, determinism, stopping."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from headstart import hookimpl, parse_config
from headstart.experiment import run_experiment

from ..conftest import straight_and_resumed, toy_config


def _weights(run_dir: Path) -> dict[str, Any]:
    return load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors"))


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("elapsed_s")
    return rows


def test_a_run_writes_config_metrics_checkpoints_and_summary(tmp_path: Path) -> None:
    run_dir, summary = run_experiment(parse_config(toy_config()), tmp_path / "run")
    assert (run_dir / "config.yaml").is_file()
    rows = _rows(run_dir)
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert {"train_loss", "val_loss", "val_accuracy", "val_macro-f1"} <= set(rows[0])
    with (run_dir / "metrics.csv").open() as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2]
    assert (run_dir / "checkpoints" / "last" / "model.safetensors").is_file()
    assert (run_dir / "checkpoints" / "best" / "state.pt").is_file()
    saved = json.loads((run_dir / "summary.json").read_text())
    assert saved["final"]["epoch"] == 2 and saved["epochs_run"] == 3
    assert saved["best"]["value"] == max(r["val_accuracy"] for r in rows)
    assert saved["trainable_params_max"] == saved["total_params"]
    assert saved["wall_time_s"] > 0 and saved["peak_memory_mb"] > 0
    assert set(saved["test"]) == {"loss", "accuracy", "macro-f1"}
    assert summary == saved


def test_training_learns_the_toy_task(tmp_path: Path) -> None:
    config = toy_config(trainer={"epochs": 6, "batch_size": 8, "lr": 0.01, "progress": False})
    _, summary = run_experiment(parse_config(config), tmp_path / "run")
    assert summary["best"]["value"] > 0.8  # 3 well-separated blobs; chance is 1/3


def test_same_seed_same_weights_on_cpu(tmp_path: Path) -> None:
    run_experiment(parse_config(toy_config()), tmp_path / "a")
    run_experiment(parse_config(toy_config()), tmp_path / "b")
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all((a[k] == b[k]).all() for k in a)


@pytest.mark.parametrize(
    ("policy", "rows_before"),
    [
        ({"name": "gradual-unfreeze", "every": 1}, [0, 1]),
        ({"name": "lp-ft", "solver": "sgd"}, [0, 1]),
        ({"name": "lp-ft"}, [0]),  # the L-BFGS probe is one row for the LP phase's two epochs
        ({"name": "filtered", "schedule": "gradual-unfreeze", "params": ["bias"], "options": {"every": 1}}, [0, 1]),
        ({"name": "lora", "rank": 2, "head_epochs": 2, "dropout": 0.1}, [0, 1]),
        ({"name": "bitfit"}, [0, 1]),
        ({"name": "norm-tune"}, [0, 1]),
    ],
    ids=lambda p: p["name"] if isinstance(p, dict) else "",
)
def test_resume_from_last_ends_with_identical_weights(
    tmp_path: Path, extra_plugin: Any, policy: dict[str, Any], rows_before: list[int]
) -> None:
    config = toy_config(
        policy=policy,
        trainer={
            "epochs": 4,
            "batch_size": 8,
            "lr": 0.01,
            "progress": False,
            "grad_accum": 2,
            "warmup_steps": 2,
            "log_every": 1,
        },
    )

    def interrupted(run_dir: Path) -> None:  # 3 steps per epoch: step 8 is inside epoch 3
        assert [r["epoch"] for r in _rows(run_dir)] == rows_before

    straight_dir, resumed_dir = straight_and_resumed(config, tmp_path, extra_plugin, interrupted=interrupted)
    straight, resumed = _weights(straight_dir), _weights(resumed_dir)
    assert straight.keys() == resumed.keys()
    assert all((straight[k] == resumed[k]).all() for k in straight), "resumed weights differ"
    assert _rows(tmp_path / "straight") == _rows(tmp_path / "resumed")


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def headstart_on_run_start(self, run: Any) -> None:
        self.events.append(("run_start", run.epoch))

    @hookimpl
    def headstart_on_phase_start(self, run: Any, phase: Any) -> None:
        self.events.append(("phase_start", phase.name))

    @hookimpl
    def headstart_on_epoch_start(self, run: Any, epoch: int) -> None:
        self.events.append(("epoch_start", epoch))

    @hookimpl
    def headstart_on_evaluate(self, run: Any, epoch: int, split: str, metrics: dict[str, float]) -> None:
        self.events.append(("evaluate", split))

    @hookimpl
    def headstart_on_epoch_end(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
        self.events.append(("epoch_end", metrics["epoch"]))

    @hookimpl
    def headstart_on_checkpoint(self, run: Any, path: str, kind: str) -> None:
        self.events.append(("checkpoint", kind))

    @hookimpl
    def headstart_on_run_end(self, run: Any, summary: dict[str, Any]) -> None:
        self.events.append(("run_end", summary["epochs_run"]))


def test_events_fire_at_their_documented_points(tmp_path: Path, extra_plugin: Any) -> None:
    recorder = _Recorder()
    extra_plugin(recorder, "recorder")
    config = toy_config(
        policy={"name": "lp-ft", "lp_epochs": 1}, trainer={"epochs": 2, "progress": False, "monitor": "loss"}
    )
    run_experiment(parse_config(config), tmp_path / "run")
    kinds = [e for e in recorder.events if e[0] != "checkpoint"]
    assert kinds == [
        ("run_start", 0),
        ("phase_start", "lp"),
        ("epoch_start", 0),
        ("evaluate", "val"),
        ("epoch_end", 0),
        ("phase_start", "ft"),
        ("epoch_start", 1),
        ("evaluate", "val"),
        ("epoch_end", 1),
        ("evaluate", "test"),
        ("run_end", 2),
    ]
    assert ("checkpoint", "last") in recorder.events


def test_step_events_carry_loss_only_on_logging_steps(tmp_path: Path, extra_plugin: Any) -> None:
    seen: list[dict[str, Any]] = []

    class Steps:
        @hookimpl
        def headstart_on_step_end(self, run: Any, step: int, metrics: dict[str, Any]) -> None:
            seen.append(dict(metrics, step=step))

    extra_plugin(Steps(), "steps")
    config = toy_config(trainer={"epochs": 1, "batch_size": 8, "log_every": 3, "progress": False})
    run_experiment(parse_config(config), tmp_path / "run")
    assert [s["step"] for s in seen] == [1, 2, 3, 4, 5, 6]
    assert [("loss" in s) for s in seen] == [False, False, True, False, False, True]
    assert all(s["lr"] > 0 for s in seen)


def test_early_stopping_stops_after_patience(tmp_path: Path, extra_plugin: Any) -> None:
    config = toy_config(
        trainer={"epochs": 8, "lr": 1e-9, "progress": False, "patience": 2, "monitor": "loss", "min_delta": 0.1}
    )
    _, summary = run_experiment(parse_config(config), tmp_path / "run")
    assert summary["stopped_early"] and summary["epochs_run"] == 3
    assert summary["best"]["epoch"] == 0


def test_the_frozen_source_stays_untouched_under_linear_probe(tmp_path: Path) -> None:
    run_dir, summary = run_experiment(parse_config(toy_config(policy={"name": "linear-probe"})), tmp_path / "run")
    from headstart.experiment import build

    fresh = build(parse_config(toy_config(policy={"name": "linear-probe"}))).model.state_dict()
    trained = _weights(run_dir)
    for key, value in trained.items():
        if key.startswith("backbone."):  # weights and BatchNorm statistics alike
            assert (fresh[key] == value).all(), key
    assert not (fresh["head.fc.weight"] == trained["head.fc.weight"]).all()
    assert summary["trainable_params"] == {"linear-probe": 3 * 16 + 3}


def test_scratch_discards_the_pretrained_weights(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from headstart.experiment import build

    source = build(parse_config(toy_config())).source
    save_file(
        {k: torch.full_like(v, 0.5) for k, v in source.backbone.state_dict().items()}, str(tmp_path / "w.safetensors")
    )
    src = dict(toy_config()["source"], weights=str(tmp_path / "w.safetensors"))
    pretrained = build(parse_config(toy_config(source=src))).model.state_dict()
    scratch = build(parse_config(toy_config(source=src, policy={"name": "scratch"}))).model.state_dict()
    assert (pretrained["backbone.stem.0.weight"] == 0.5).all()
    assert not (scratch["backbone.stem.0.weight"] == 0.5).any()
    assert (scratch["backbone.stem.1.running_var"] == 1.0).all()  # statistics reset too


def test_gradient_accumulation_equals_the_larger_batch(tmp_path: Path) -> None:
    def run(name: str, batch: int, accum: int) -> dict[str, Any]:
        config = toy_config(
            policy={"name": "full", "norm_mode": "frozen-stats"},  # no batch statistics
            trainer={
                "epochs": 2,
                "batch_size": batch,
                "grad_accum": accum,
                "lr": 0.01,
                "progress": False,
                "clip_grad_norm": None,
            },
        )
        config["source"]["dropout"] = 0.0
        config["task"]["synthetic"]["per_class"] = 16  # 48 examples: whole batches of 8 and of 4
        return run_experiment(parse_config(config), tmp_path / name)[1]

    # accumulation needs the same examples in each optimizer step: one sample order for both runs
    whole, accumulated = run("whole", 8, 1), run("accum", 4, 2)
    assert whole["final"]["step"] == accumulated["final"]["step"] == 12
    assert accumulated["final"]["val_loss"] == pytest.approx(whole["final"]["val_loss"], rel=1e-5)


def test_a_policy_regularizer_is_added_to_the_loss(tmp_path: Path) -> None:

    from headstart.engine.loop import train
    from headstart.policies import Full
    from headstart.testing import run_context

    class ShrinkHead(Full):
        def regularizer(self, model: Any) -> torch.Tensor:
            return 10.0 * model.head.fc.weight.pow(2).sum()

    def head_norm(policy: Any, name: str) -> float:
        config = toy_config(trainer={"epochs": 3, "lr": 0.1, "progress": False, "weight_decay": 0.0})
        run = run_context(config, tmp_path / name, policy=policy, hook=_NoHooks())
        train(run)
        return float(run.model.head.fc.weight.detach().norm())

    assert head_norm(ShrinkHead(), "shrunk") < 0.5 * head_norm(Full(), "plain")


class _NoHooks:
    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: None


def test_a_linear_probe_is_fit_to_convergence_with_l2_chosen_on_val(tmp_path: Path) -> None:
    from headstart.engine.probe import L2_GRID

    trainer = {"epochs": 5, "batch_size": 8, "lr": 0.01, "progress": False}
    run_dir, lbfgs = run_experiment(
        parse_config(toy_config(policy={"name": "linear-probe"}, trainer=trainer)), tmp_path / "lbfgs"
    )
    probe = lbfgs["probe"]["linear-probe"]
    assert probe["solver"] == "lbfgs" and probe["l2"] in L2_GRID and probe["chosen_by"] == "validation"
    assert set(probe["val_scores"]) == {f"{s:g}" for s in L2_GRID}
    assert probe["val_score"] == max(probe["val_scores"].values()) == lbfgs["best"]["value"]
    rows = _rows(run_dir)
    assert [r["epoch"] for r in rows] == [0]  # one fit stands for the phase's five epochs
    assert rows[0]["probe_l2"] == probe["l2"] and lbfgs["epochs_run"] == 5
    _, sgd = run_experiment(
        parse_config(toy_config(policy={"name": "linear-probe", "solver": "sgd"}, trainer=trainer)), tmp_path / "sgd"
    )
    assert sgd["probe"] == {}
    assert lbfgs["best"]["value"] >= sgd["best"]["value"]


def test_lp_ft_fine_tunes_from_the_converged_probe(tmp_path: Path) -> None:
    trainer = {"epochs": 4, "batch_size": 8, "lr": 0.01, "progress": False}
    config = toy_config(policy={"name": "lp-ft", "lp_epochs": 2}, trainer=trainer)
    run_dir, summary = run_experiment(parse_config(config), tmp_path / "run")
    rows = _rows(run_dir)
    assert [(r["epoch"], r["phase"]) for r in rows] == [(0, "lp"), (2, "ft"), (3, "ft")]
    assert "lp" in summary["probe"] and rows[1]["step"] == 3 * 6  # the FT schedule is unchanged by the fit
    # the LP row's validation metrics are those of the converged head that fine-tuning starts from
    assert rows[0]["val_accuracy"] == summary["probe"]["lp"]["val_score"]


class _Checkpoints:
    def __init__(self) -> None:
        self.epochs: list[int] = []

    @hookimpl
    def headstart_on_checkpoint(self, run: Any, path: str, kind: str) -> None:
        if kind == "last":
            self.epochs.append(int(Path(path).name.removeprefix("epoch-")))


def _cached_then_full(**trainer: Any) -> dict[str, Any]:
    """LP-FT whose LP phase (epochs 0-3) trains the head by epochs on cached features; with
    ``min_delta`` this large only epoch 0 improves ``best``."""
    settings = {"epochs": 6, "batch_size": 8, "lr": 0.01, "progress": False, "min_delta": 1e9, **trainer}
    return toy_config(policy={"name": "lp-ft", "lp_epochs": 4, "solver": "sgd"}, trainer=settings)


def test_a_cached_head_phase_writes_checkpoints_only_when_due(
    tmp_path: Path, extra_plugin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headstart.engine import loop

    written = _Checkpoints()
    extra_plugin(written, "checkpoints")
    monkeypatch.setattr(loop, "CACHED_CHECKPOINT_S", 1e9)  # never due by time here
    run_dir, _ = run_experiment(parse_config(_cached_then_full()), tmp_path / "sparse")
    # the cached phase: epoch 0 (a new best) and 3 (its last); the fine-tuning phase: every epoch
    assert written.epochs == [0, 3, 4, 5]
    assert [r["epoch"] for r in _rows(run_dir)] == [0, 1, 2, 3, 4, 5]  # every row reaches the files
    assert (run_dir / "checkpoints" / "best").resolve().name == "epoch-0000"
    written.epochs.clear()
    monkeypatch.setattr(loop, "CACHED_CHECKPOINT_S", 0.0)  # always due: one per epoch
    run_experiment(parse_config(_cached_then_full()), tmp_path / "every")
    assert written.epochs == [0, 1, 2, 3, 4, 5]
    assert _rows(run_dir) == _rows(tmp_path / "every")  # the same training either way


class _Written:
    def __init__(self) -> None:
        self.links: list[tuple[int, str]] = []

    @hookimpl
    def headstart_on_checkpoint(self, run: Any, path: str, kind: str) -> None:
        self.links.append((int(Path(path).name.removeprefix("epoch-")), kind))


def test_a_probes_new_best_is_held_in_memory_and_written_with_the_next_checkpoint(
    tmp_path: Path, extra_plugin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headstart.engine import loop

    written = _Written()
    extra_plugin(written, "checkpoints")

    def probe(name: str, every: bool, min_delta: float) -> Path:
        monkeypatch.setattr(loop, "CACHED_CHECKPOINT_S", 0.0 if every else 1e9)
        trainer = {"epochs": 4, "batch_size": 8, "lr": 0.05, "progress": False, "min_delta": min_delta}
        config = toy_config(policy={"name": "linear-probe", "solver": "sgd"}, trainer=trainer)
        run_dir, _ = run_experiment(parse_config(config), tmp_path / name)
        return run_dir

    # only epoch 0 improves: held through epochs 1-2, written before the phase's last epoch
    held = probe("held", every=False, min_delta=1e9)
    assert written.links == [(0, "best"), (3, "last")]
    written.links.clear()
    each = probe("each", every=True, min_delta=1e9)  # a checkpoint every epoch, as before
    assert written.links == [(0, "last"), (0, "best"), (1, "last"), (2, "last"), (3, "last")]
    for run_dir in (held, each):
        assert (run_dir / "checkpoints" / "best").resolve().name == "epoch-0000"
    best = [load_file(str(d / "checkpoints" / "best" / "model.safetensors")) for d in (held, each)]
    last = _weights(held)
    assert best[0].keys() == best[1].keys() and all(torch.equal(best[0][k], best[1][k]) for k in best[0])
    assert not all(torch.equal(best[0][k], last[k]) for k in best[0])  # a copy of epoch 0, not the live head
    states = [torch.load(d / "checkpoints" / "best" / "state.pt", weights_only=True) for d in (held, each)]
    assert states[0]["epoch"] == states[1]["epoch"] == 1 and states[0]["step"] == states[1]["step"]
    held_state, each_state = (s["optimizer"]["state"] for s in states)  # the optimizer as it was then
    assert held_state.keys() == each_state.keys() and held_state
    for k in held_state:
        assert all(torch.equal(held_state[k][n], each_state[k][n]) for n in ("exp_avg", "exp_avg_sq", "step"))

    written.links.clear()
    probe("improving", every=False, min_delta=-1e9)  # every epoch improves: the last one supersedes
    assert written.links == [(3, "last"), (3, "best")]


def test_a_run_stopped_between_sparse_checkpoints_resumes_exactly(
    tmp_path: Path, extra_plugin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headstart.engine import loop

    monkeypatch.setattr(loop, "CACHED_CHECKPOINT_S", 1e9)

    def interrupted(run_dir: Path) -> None:  # stopped in epoch 2: epoch 1 was never written
        assert [r["epoch"] for r in _rows(run_dir)] == [0]
        assert (run_dir / "checkpoints" / "last").resolve().name == "epoch-0000"

    config = _cached_then_full(log_every=1)
    straight_dir, resumed_dir = straight_and_resumed(
        config, tmp_path, extra_plugin, at_step=14, interrupted=interrupted
    )
    straight, resumed = _weights(straight_dir), _weights(resumed_dir)
    assert all((straight[k] == resumed[k]).all() for k in straight), "resumed weights differ"
    assert _rows(straight_dir) == _rows(resumed_dir)


def test_step_end_reaches_every_step_unless_an_implementation_only_reads_logging_steps(
    tmp_path: Path, extra_plugin: Any
) -> None:
    from headstart.plugins import logging_steps_only

    class Every:
        def __init__(self) -> None:
            self.steps: list[int] = []

        @hookimpl
        def headstart_on_step_end(self, run: Any, step: int, metrics: dict[str, Any]) -> None:
            self.steps.append(step)

    class Logged(Every):
        @hookimpl
        @logging_steps_only
        def headstart_on_step_end(self, run: Any, step: int, metrics: dict[str, Any]) -> None:
            self.steps.append(step)

    logged = Logged()
    extra_plugin(logged, "logged")
    config = toy_config(trainer={"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False, "log_every": 4})
    _, summary = run_experiment(parse_config(config), tmp_path / "logged")
    steps = summary["final"]["step"]
    assert steps > 8 and logged.steps == list(range(4, steps + 1, 4))
    every = Every()
    extra_plugin(every, "every")  # one implementation wants every step: every step is called
    run_experiment(parse_config(config), tmp_path / "every")
    assert every.steps == list(range(1, steps + 1))
    assert len(logged.steps) == len(range(4, steps + 1, 4)) + steps  # then called with the others: it checks
