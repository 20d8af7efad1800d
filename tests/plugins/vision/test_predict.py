"""A trained image-classification run predicts, evaluates and loads without its training data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import headstart
from headstart import DataError, parse_config, run_experiment

from .conftest import config as vision_config_dict
from .conftest import write_tree


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A short run on 32-px colour classes (image_size differs from the source's 224 px); returns
    (run directory, a copy of the test images kept outside the training data)."""
    root = tmp_path_factory.mktemp("vision-predict")
    data = root / "images"
    write_tree(data / "train", {"red": 8, "green": 8, "blue": 8}, seed=0)
    write_tree(data / "val", {"red": 3, "green": 3, "blue": 3}, seed=1)
    keep = write_tree(root / "kept-test", {"red": 3, "green": 3, "blue": 3}, seed=2)
    config = vision_config_dict(str(data), output_dir=str(root / "runs"), trainer={"epochs": 3, "lr": 0.05})
    run_dir, _ = run_experiment(parse_config({**config, "policy": {"name": "full"}}))
    shutil.rmtree(data)  # the training data is gone: the run must stand on its own
    return run_dir, keep


def test_predict_names_labels_with_the_tasks_preprocessing(trained: tuple[Path, Path]) -> None:
    run_dir, images = trained
    predictor = headstart.load(run_dir, device="cpu")
    assert predictor.labels == ["blue", "green", "red"]
    assert predictor.task.preprocessor.input_size == 32  # the task's image_size, not timm's 224 px
    files = sorted(images.rglob("*.png"))
    results = predictor.predict(files, batch_size=4, top_k=2)
    assert len(results) == len(files)
    for r in results:
        assert r["label"] in predictor.labels and r["top_k"][0]["label"] == r["label"]
        assert 0.0 < r["score"] <= 1.0 and len(r["top_k"]) == 2 and r["top_k"][0]["score"] >= r["top_k"][1]["score"]
    correct = sum(Path(r["input"]).parent.name == r["label"] for r in results)
    assert correct >= 0.8 * len(files), results
    # the same as the model's own forward on the same pixels
    x = predictor.task.predict_example(files[0])
    with torch.no_grad():
        logits = predictor.model(x[None])
    assert results[0]["score"] == pytest.approx(float(logits.softmax(-1).max()), abs=1e-5)
    single = predictor.predict(str(files[0]))
    assert isinstance(single, dict) and single["label"] == results[0]["label"]


def test_bad_inputs_are_named_and_skipped_or_raised(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, images = trained
    predictor = headstart.load(run_dir, device="cpu")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    good = next(images.rglob("*.png"))
    with pytest.raises(DataError, match=r"broken\.png"):
        predictor.predict([good, bad])
    out = predictor.predict([good, bad, tmp_path / "missing.png"], errors="skip")
    assert "label" in out[0] and "broken.png" in out[1]["error"] and "no such file" in out[2]["error"]


def test_evaluate_reports_the_tasks_metrics_on_a_new_labelled_set(trained: tuple[Path, Path]) -> None:
    run_dir, images = trained
    metrics = headstart.load(run_dir, device="cpu").evaluate(images)
    assert metrics["examples"] == 9
    assert set(metrics) >= {"loss", "accuracy", "macro-f1"}
    assert metrics["accuracy"] >= 0.8


def test_unknown_label_in_evaluation_data_is_named(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, _ = trained
    other = write_tree(tmp_path / "other", {"purple": 2})
    with pytest.raises(DataError, match="purple"):
        headstart.load(run_dir, device="cpu").evaluate(other)


def test_last_checkpoint_and_moved_run_directory(trained: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, images = trained
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(run_dir, moved, symlinks=True)
    predictor = headstart.load(moved, checkpoint="last", device="cpu")
    assert predictor.checkpoint.parent.parent == moved.resolve()
    out = predictor.predict(sorted(images.rglob("*.png"))[:2])
    assert all("label" in r for r in out)
    assert isinstance(predictor.model, torch.nn.Module) and not predictor.model.training


def test_cli_predicts_a_folder_and_a_csv_of_paths(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import json

    from headstart.cli import main

    run_dir, images = trained
    folder = tmp_path / "new"
    shutil.copytree(images, folder)
    (folder / "notes.md").write_text("not an image")  # not an image type: not picked from a folder
    (folder / "red" / "broken.png").write_bytes(b"nope")
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run_dir), str(folder), "-o", str(out), "--on-error", "skip", "--device", "cpu"]) == 0
    assert "skipped" in capsys.readouterr().err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 9 and all(r["label"] in ("blue", "green", "red") for r in rows)
    listing = tmp_path / "list.csv"
    listing.write_text("path\n" + "\n".join(str(Path(r["input"]).relative_to(tmp_path)) for r in rows[:2]) + "\n")
    assert main(["predict", str(run_dir), str(listing), "--device", "cpu"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["label"] for x in lines] == [r["label"] for r in rows[:2]]
