"""The frozen-feature cache: same results as without it, computed once, never stale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from headstart import Features, hookimpl, parse_config
from headstart.engine.feature_cache import CachedSplit, cache_key, weights_hash
from headstart.experiment import run_experiment

from ..conftest import toy_config


def _run(tmp_path: Path, name: str, policy: dict[str, Any], cache: str, **trainer: Any) -> tuple[Path, dict[str, Any]]:
    settings = {"epochs": 4, "batch_size": 8, "lr": 0.01, "progress": False, "feature_cache": cache, **trainer}
    return run_experiment(parse_config(toy_config(policy=policy, trainer=settings)), tmp_path / name)


@pytest.mark.parametrize(
    "policy", [{"name": "linear-probe", "solver": "sgd"}, {"name": "lp-ft", "lp_epochs": 2, "solver": "sgd"}]
)
def test_training_on_cached_features_equals_training_without(tmp_path: Path, policy: dict[str, Any]) -> None:
    with_dir, with_cache = _run(tmp_path, "with", policy, "memory")
    without_dir, without = _run(tmp_path, "without", policy, "off")
    # train and val once each; test too when the last phase is head-only (its backbone is cached)
    assert with_cache["feature_cache"]["computed"] == (3 if policy["name"] == "linear-probe" else 2)
    assert without["feature_cache"]["computed"] == 0
    a = load_file(str(with_dir / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(without_dir / "checkpoints" / "last" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert with_cache["final"]["val_loss"] == pytest.approx(without["final"]["val_loss"], rel=1e-5)


class _CountForwards:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def headstart_on_run_start(self, run: Any) -> None:
        run.model.backbone.register_forward_hook(lambda *a: setattr(self, "calls", self.calls + 1))


def test_the_backbone_runs_once_per_example_under_a_linear_probe(tmp_path: Path, extra_plugin: Any) -> None:
    counter = _CountForwards()
    extra_plugin(counter, "count")
    _, summary = _run(tmp_path, "run", {"name": "linear-probe"}, "memory")
    batches = {split: -(-n // 8) for split, n in summary["task"]["examples"].items()}
    # train + val once each for the cache, test once at the end; not once per epoch
    assert counter.calls == batches["train"] + batches["val"] + batches["test"]


def test_disk_cache_is_shared_between_runs_and_keyed_by_weights(tmp_path: Path) -> None:
    shared = str(tmp_path / "shared")
    _, first = _run(tmp_path, "a", {"name": "linear-probe"}, "disk", feature_cache_dir=shared)
    _, second = _run(tmp_path, "b", {"name": "linear-probe"}, "disk", feature_cache_dir=shared)
    assert first["feature_cache"] == {"computed": 3, "reused_from_disk": 0}  # train, val, test
    assert second["feature_cache"] == {"computed": 0, "reused_from_disk": 3}
    assert first["final"]["val_loss"] == pytest.approx(second["final"]["val_loss"], rel=1e-6)
    # other source weights (another seed initialises another toy source) never reuse the entries
    config = toy_config(
        seed=1,
        policy={"name": "linear-probe"},
        trainer={"epochs": 1, "progress": False, "feature_cache": "disk", "feature_cache_dir": shared},
    )
    _, third = run_experiment(parse_config(config), tmp_path / "c")
    assert third["feature_cache"]["computed"] == 3
    assert len(list(Path(shared).glob("*.safetensors"))) == 6


def test_keys_change_with_weights_transform_and_split() -> None:
    model = torch.nn.Linear(2, 2)
    base = cache_key({"name": "s"}, {"name": "t", "size": 8}, "train", 10, weights_hash(model))
    assert cache_key({"name": "s"}, {"name": "t", "size": 9}, "train", 10, weights_hash(model)) != base
    assert cache_key({"name": "s"}, {"name": "t", "size": 8}, "val", 10, weights_hash(model)) != base
    for precision in ("bf16", "fp16"):  # features computed under autocast are other numbers
        assert cache_key({"name": "s"}, {"name": "t", "size": 8}, "train", 10, weights_hash(model), precision) != base
    with torch.no_grad():
        model.weight[0, 0] += 1e-3
    assert cache_key({"name": "s"}, {"name": "t", "size": 8}, "train", 10, weights_hash(model)) != base


def test_sequence_features_are_stored_without_padding_and_padded_per_batch() -> None:
    split = CachedSplit([torch.ones(2, 3), torch.ones(4, 3) * 2], sequence=True)
    feats: Features = split.lookup(torch.tensor([1, 0]), torch.device("cpu"))
    assert feats.values.shape == (2, 4, 3)
    assert feats.mask is not None and feats.mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert feats.values[1, 2:].abs().sum() == 0


def test_summary_reports_the_cache(tmp_path: Path) -> None:
    run_dir, _ = _run(tmp_path, "run", {"name": "full"}, "auto")
    assert json.loads((run_dir / "summary.json").read_text())["feature_cache"]["computed"] == 0  # nothing frozen


def test_the_cache_keeps_per_example_fields_and_rebuilds_batches_from_tensors(tmp_path: Path) -> None:
    from headstart.engine.feature_cache import FeatureCache, compute_features
    from headstart.experiment.build import build

    built = build(parse_config(toy_config(policy={"name": "linear-probe"})))
    data = built.task.dataset("train", train=False)
    batches = [built.task.collate(data[i : i + 5]) for i in range(0, len(data), 5)]
    values, sequence, extras = compute_features(built.model, batches, torch.device("cpu"), "fp32")
    assert extras is not None and torch.equal(extras["targets"], torch.tensor([y for _, y in data]))
    for mode in ("memory", "disk"):
        split = FeatureCache(mode, tmp_path / mode, 1.0).get("k", lambda: (values, sequence, extras))
        batch = split.batch(torch.tensor([7, 2]))
        assert batch["targets"].tolist() == [data[7][1], data[2][1]]
        expected = built.model.eval().features({"x": torch.stack([data[7][0], data[2][0]])}).values
        torch.testing.assert_close(batch["_features"].values, expected)
    assert (tmp_path / "disk" / "k.safetensors").is_file()


def test_a_field_padded_per_batch_is_not_rebuilt_from_the_cache() -> None:
    from headstart.engine.feature_cache import _Extras

    extras = _Extras()
    extras.add({"inputs": None, "targets": torch.zeros(2, 3), "refs": ["a", "b"]}, 2)
    extras.add({"inputs": None, "targets": torch.zeros(2, 5), "refs": ["c", "d"]}, 2)
    assert extras.result() is None
    ok = _Extras()
    ok.add({"inputs": None, "targets": torch.zeros(2, 3), "refs": ["a", "b"]}, 2)
    ok.add({"inputs": None, "targets": torch.ones(1, 3), "refs": ["c"]}, 1)
    result = ok.result()
    assert result is not None and result["targets"].shape == (3, 3) and result["refs"] == ["a", "b", "c"]


def test_cached_features_share_the_engine_entries(tmp_path: Path) -> None:
    from headstart.experiment.features import cached_features

    shared = tmp_path / "shared"
    _run(tmp_path, "a", {"name": "linear-probe"}, "disk", feature_cache_dir=str(shared))
    files = sorted(shared.glob("*.safetensors"))
    config = parse_config(toy_config(policy={"name": "linear-probe"}))
    split = cached_features(config, "train", shared)
    assert sorted(shared.glob("*.safetensors")) == files  # read, not recomputed
    assert split.extras is not None and len(split.extras["targets"]) == len(split) == split.matrix().shape[0]
    fresh = cached_features(config, "train")  # no directory: computed in memory
    torch.testing.assert_close(fresh.matrix(), split.matrix())
    with pytest.raises(ValueError, match="split 'dev'"):
        cached_features(config, "dev")


class _Untouchable:
    """After the head-only phase starts, reading a train or val example raises."""

    def __init__(self) -> None:
        self.armed = False

    @hookimpl
    def headstart_on_phase_start(self, run: Any, phase: Any) -> None:
        task, plugin = run.task, self
        original = task.dataset

        class Raising:
            def __init__(self, data: Any) -> None:
                self.data = data

            def __len__(self) -> int:
                return len(self.data)

            def __getitem__(self, i: int) -> Any:
                raise AssertionError("a cached epoch read the dataset")

        def dataset(split: str, train: bool) -> Any:
            data = original(split, train)
            return Raising(data) if plugin.armed and split != "test" else data

        task.dataset = dataset
        self.armed = True

    @hookimpl
    def headstart_on_run_end(self, run: Any, summary: Any) -> None:
        self.armed = False


def test_cached_epochs_never_read_the_dataset(tmp_path: Path, extra_plugin: Any) -> None:
    sgd = {"name": "linear-probe", "solver": "sgd"}  # epochs over the cache (L-BFGS reads it once)
    reference_dir, reference = _run(tmp_path, "reference", sgd, "off")
    extra_plugin(_Untouchable(), "untouchable")
    run_dir, summary = _run(tmp_path, "cached", sgd, "memory")
    assert summary["epochs_run"] == 4
    a = load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(reference_dir / "checkpoints" / "last" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert summary["test"]["accuracy"] == pytest.approx(reference["test"]["accuracy"])


def test_vector_features_are_one_matrix_in_memory_and_on_disk(tmp_path: Path) -> None:
    from safetensors import safe_open

    from headstart.engine.feature_cache import FeatureCache, compute_features, feature_batch_size

    rows = [torch.randn(3, 4), torch.randn(2, 4)]
    batches = [{"inputs": None, "targets": torch.arange(len(r))} for r in rows]

    class _Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rows = iter(rows)

        def features(self, inputs: Any) -> Features:
            return Features(next(self.rows))

    values, sequence, _ = compute_features(_Model(), batches, torch.device("cpu"), "fp32")  # type: ignore[arg-type]
    assert isinstance(values, torch.Tensor) and not sequence and torch.equal(values, torch.cat(rows))
    split = FeatureCache("disk", tmp_path, 1.0).get("k", lambda: (values, sequence, None))
    with safe_open(str(tmp_path / "k.safetensors"), "pt") as f:
        assert list(f.keys()) == ["features"]
    reread = FeatureCache("disk", tmp_path, 1.0).get("k", lambda: pytest.fail("recomputed"))
    assert torch.equal(reread.matrix(), values) and torch.equal(split.subset([4, 0]).matrix(), values[[4, 0]])
    # the backbone sees at most 32 examples at once on a CPU, the evaluation batch elsewhere
    assert feature_batch_size(64, torch.device("cpu")) == 32 and feature_batch_size(8, torch.device("cpu")) == 8
    assert feature_batch_size(64, torch.device("cuda")) == 64


def test_a_shared_entry_is_read_once_per_process_until_its_file_changes(tmp_path: Path) -> None:
    import os

    from headstart.engine.feature_cache import FeatureCache

    made = [torch.arange(12.0).reshape(4, 3)]

    def make() -> Any:
        return made[-1], False, {"targets": torch.tensor([0, 1, 0, 1])}

    first = FeatureCache("auto", tmp_path, 1024, shared=True).get("k", make)
    again = FeatureCache("auto", tmp_path, 1024, shared=True).find("k")  # another run, same process
    assert again is first and torch.equal(again.matrix(), made[0])
    made.append(torch.ones(5, 3))
    other = FeatureCache("auto", tmp_path / "elsewhere", 1024, shared=True).get("k", make)
    os.replace(tmp_path / "elsewhere" / "k.safetensors", tmp_path / "k.safetensors")  # the file changed
    changed = FeatureCache("auto", tmp_path, 1024, shared=True).find("k")
    assert changed is not None and changed is not first and changed is not other
    assert torch.equal(changed.matrix(), made[1]) and len(changed) == 5
