"""image-classification: ImageFolder trees, CSV files, splits, bad images, class weights, metrics."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from headstart import ConfigError, DataError, Ranked, build, get_registry, parse_config
from headstart_vision.data import materialize_digits, stratified_split
from headstart_vision.tasks import ImageClassification


@pytest.fixture(scope="module")
def tiny_source() -> Any:
    return get_registry().source("timm:test_resnet", pretrained=False)


def prepared(tiny_source: Any, **options: Any) -> ImageClassification:
    task = ImageClassification(**{"image_size": 32, "augment": False, **options})
    task.prepare(tiny_source)
    return task


def test_train_val_test_folders(split_tree: Path, tiny_source: Any) -> None:
    task = prepared(tiny_source, data=str(split_tree))
    assert task.splits() == ["train", "val", "test"]
    assert task.labels == ["blue", "green", "red"]
    assert task.summary()["examples"] == {"train": 24, "val": 9, "test": 9}
    x, y = task.dataset("val", train=False)[0]
    assert x.shape == (3, 32, 32) and y == 0
    batch = task.collate([task.dataset("train", train=True)[i] for i in range(4)])
    assert batch["inputs"].shape == (4, 3, 32, 32) and batch["targets"].dtype == torch.long
    assert task.metrics == ("accuracy", "macro-f1")  # fewer than five classes: no top-5


def test_one_tree_is_split_stratified_and_seeded(image_tree: Callable[..., Path], tiny_source: Any) -> None:
    root = image_tree(counts={"a": 10, "b": 10, "c": 20})
    task = prepared(tiny_source, data=str(root), split={"val": 0.2, "test": 0.1}, split_seed=3)
    counts = {s: {c: sum(i.label == c for i in task.items[s]) for c in "abc"} for s in task.splits()}
    assert counts["val"] == {"a": 2, "b": 2, "c": 4} and counts["test"] == {"a": 1, "b": 1, "c": 2}
    again = prepared(tiny_source, data=str(root), split={"val": 0.2, "test": 0.1}, split_seed=3)
    other = prepared(tiny_source, data=str(root), split={"val": 0.2, "test": 0.1}, split_seed=4)
    assert [i.path for i in again.items["val"]] == [i.path for i in task.items["val"]]
    assert [i.path for i in other.items["val"]] != [i.path for i in task.items["val"]]
    all_paths = [i.path for s in task.splits() for i in task.items[s]]
    assert len(all_paths) == len(set(all_paths)) == 40


def test_stratified_split_keeps_one_train_example_per_class() -> None:
    from headstart_vision.data import ImageItem

    items = [ImageItem(Path(f"{c}{i}"), c, "x") for c, n in (("a", 1), ("b", 2)) for i in range(n)]
    out = stratified_split(items, {"val": 0.5}, seed=0)
    assert {i.label for i in out["train"]} == {"a", "b"}


def test_csv_of_path_and_label(tmp_path: Path, tiny_source: Any, write_image: Callable[..., Path]) -> None:
    for i in range(4):
        write_image(tmp_path / "img" / f"r{i}.png", (230, 30, 30), seed=i)
        write_image(tmp_path / "img" / f"g{i}.png", (30, 230, 30), seed=i)
    rows = [(f"img/r{i}.png", "red") for i in range(3)] + [(f"img/g{i}.png", "green") for i in range(3)]
    for name, data in (("train.csv", rows), ("val.csv", [("img/r3.png", "red"), ("img/g3.png", "green")])):
        with (tmp_path / name).open("w", newline="") as f:
            csv.writer(f).writerows([("path", "label"), *data])
    task = prepared(tiny_source, data={"train": str(tmp_path / "train.csv"), "val": str(tmp_path / "val.csv")})
    assert task.summary()["examples"] == {"train": 6, "val": 2} and task.labels == ["green", "red"]
    (tmp_path / "val.csv").write_text("path,label\nimg/r3.png,red\nimg/nope.png,green\n")
    with pytest.raises(DataError, match=r"val\.csv:3: image 'img/nope\.png' not found"):
        prepared(tiny_source, data={"train": str(tmp_path / "train.csv"), "val": str(tmp_path / "val.csv")})
    (tmp_path / "val.csv").write_text("file,label\nimg/r3.png,red\n")
    with pytest.raises(DataError, match=r"val\.csv: missing column\(s\) path"):
        prepared(tiny_source, data={"train": str(tmp_path / "train.csv"), "val": str(tmp_path / "val.csv")})


def test_label_in_val_that_train_never_saw(
    split_tree: Path, tiny_source: Any, write_image: Callable[..., Path]
) -> None:
    write_image(split_tree / "val" / "purple" / "0.png", (128, 0, 128))
    with pytest.raises(DataError, match=r"val/purple: label 'purple' in the val split does not occur in train"):
        prepared(tiny_source, data=str(split_tree))


def test_empty_class_folder(split_tree: Path, tiny_source: Any) -> None:
    (split_tree / "train" / "orange").mkdir()
    (split_tree / "train" / "orange" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"train/orange: class folder 'orange' has no images"):
        prepared(tiny_source, data=str(split_tree))


def test_corrupt_image_stops_with_its_name_or_is_skipped_and_counted(split_tree: Path, tiny_source: Any) -> None:
    bad = split_tree / "train" / "red" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (split_tree / "val" / "blue" / "empty.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"broken\.png: cannot read image.*skip_bad"):
        prepared(tiny_source, data=str(split_tree))
    task = prepared(tiny_source, data=str(split_tree), skip_bad=True)
    summary = task.summary()
    assert summary["skipped_images"] == 2 and summary["examples"] == {"train": 24, "val": 9, "test": 9}
    assert any(f.endswith("broken.png") for f in summary["skipped_files"])


def test_image_that_breaks_after_prepare_is_named_or_skipped(split_tree: Path, tiny_source: Any) -> None:
    task = prepared(tiny_source, data=str(split_tree), skip_bad=True)
    victim = task.items["train"][0].path
    victim.write_bytes(b"truncated")
    examples = [task.dataset("train", train=True)[i] for i in range(3)]
    batch = task.collate(examples)
    assert batch["inputs"].shape[0] == 2 and task.summary()["skipped_images"] == 1
    strict = prepared(tiny_source, data=str(split_tree), check_images=False)
    with pytest.raises(DataError, match=str(victim.name)):
        strict.dataset("train", train=True)[0]


def test_class_weights_balance_the_loss(image_tree: Callable[..., Path], tiny_source: Any) -> None:
    root = image_tree(counts={"a": 12, "b": 4})
    task = prepared(tiny_source, data=str(root), split={"val": 0.0}, class_weights=True)
    assert task.class_weight is not None and task.class_weight.tolist() == pytest.approx([16 / 24, 16 / 8])
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
    batch = {"targets": torch.tensor([0, 1])}
    plain = torch.nn.functional.cross_entropy(logits, batch["targets"])
    assert task.loss(logits, batch).item() > plain.item()  # the rare class's error weighs more


def test_top5_with_five_or_more_classes(image_tree: Callable[..., Path], tiny_source: Any) -> None:
    root = image_tree(counts={c: 3 for c in "abcdef"})
    task = prepared(tiny_source, data=str(root), split={"val": 0.0})
    assert task.metrics == ("accuracy", "macro-f1", "top5-accuracy")
    preds, refs = task.predictions(torch.tensor([[0.0, 5, 4, 3, 2, 1]]), {"targets": torch.tensor([4])})
    assert isinstance(preds[0], Ranked) and preds[0] == 1 and preds[0].ranked == (1, 2, 3, 4, 5) and refs == [4]


def test_mlp_head(split_tree: Path, tiny_source: Any) -> None:
    task = prepared(tiny_source, data=str(split_tree), head="mlp", hidden=16, dropout=0.1)
    head = task.build_head(tiny_source.output_spec)
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(tiny_source.output_spec.dim, 16), (16, 3)]


def test_augmentation_is_random_in_training_and_off_for_eval(split_tree: Path, tiny_source: Any) -> None:
    task = prepared(tiny_source, data=str(split_tree), augment={"scale": [0.3, 0.6], "hflip": 0.5})
    train, evaluation = task.dataset("train", train=True), task.dataset("train", train=False)
    torch.manual_seed(0)
    assert not torch.equal(train[0][0], train[0][0])
    assert torch.equal(evaluation[0][0], evaluation[0][0])
    off = prepared(tiny_source, data=str(split_tree), augment=False)
    assert torch.equal(off.dataset("train", train=True)[0][0], evaluation[0][0])


def test_bad_options_name_the_key(split_tree: Path) -> None:
    base = {"source": {"name": "timm:test_resnet", "pretrained": False}, "policy": "linear-probe"}
    for task, message in (
        (
            {"data": str(split_tree), "head": "svm"},
            r"task\.head = 'svm' is not valid; valid choices: 'linear' \| 'mlp'",
        ),
        ({"data": "builtin:mnist"}, r"unknown built-in dataset; valid: builtin:digits"),
        (
            {"data": {"training": "x"}},
            r"data\.training: unknown split \(did you mean 'train'\?\); valid splits: train, val, test",
        ),
        ({"data": str(split_tree), "augment": {"hflip": 2}}, r"augment\.hflip = 2"),
        ({"data": str(split_tree), "augment": {"flip": 0.5}}, r"task\.augment\.flip: unknown key"),
    ):
        with pytest.raises(ConfigError, match=message):
            build(parse_config({**base, "task": {"name": "image-classification", **task}}))


def test_non_image_source_is_refused(split_tree: Path) -> None:
    config = parse_config(
        {"source": "toy:mlp", "task": {"name": "image-classification", "data": str(split_tree)}, "policy": "full"}
    )
    with pytest.raises(ConfigError, match="task image-classification needs an image source"):
        build(config)


def test_digits_are_materialised_once_as_an_imagefolder_tree(tmp_path: Path) -> None:
    root = materialize_digits(tmp_path, size=16)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert classes == [str(d) for d in range(10)]
    assert sum(1 for _ in root.rglob("*.png")) == 1797
    stamp = (root / "0").stat().st_mtime_ns
    assert materialize_digits(tmp_path, size=16) == root and (root / "0").stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".digits-")]


def test_images_are_decoded_once_per_process_until_a_file_changes(
    split_tree: Path, tiny_source: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cells of a compare matrix prepare the same task again: checked files are not decoded
    again, but a file rewritten since (other size or time) is, and a broken one still stops."""
    import headstart_vision.data as data

    prepared(tiny_source, data=str(split_tree))
    opened: list[str] = []
    real_open = data.Image.open
    monkeypatch.setattr(data.Image, "open", lambda path, *a: opened.append(str(path)) or real_open(path, *a))
    prepared(tiny_source, data=str(split_tree))
    assert opened == []
    victim = next((split_tree / "train" / "red").iterdir())
    victim.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match=rf"{victim.name}: cannot read image"):
        prepared(tiny_source, data=str(split_tree))
    assert opened == [str(victim)]


def test_a_folder_lists_what_rglob_lists_in_path_order(tmp_path: Path) -> None:
    from headstart_vision.data import IMAGE_EXTENSIONS, scan_folder

    root = tmp_path / "tree"
    files = ["a/9.png", "a/10.PNG", "a/sub/deeper/x.jpg", "a/.hidden.png", "a/notes.txt", "a/.cache/y.png"]
    files += ["b/b-1.jpeg", "b/b_0.png", "b/sub.d/z.webp"]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.png").write_bytes(b"")
    (root / "a" / "linked-dir").symlink_to(outside, target_is_directory=True)  # not entered, as rglob does
    (root / "b" / "linked.png").symlink_to(outside / "o.png")  # a file through a link: listed
    (root / "b" / "broken.png").symlink_to(tmp_path / "missing.png")  # nothing behind it: not listed

    def expected(folder: Path) -> list[Path]:
        found = [
            p
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
        ]
        return sorted(found, key=lambda p: p.parts)

    items = scan_folder(root)
    assert [i.path for i in items] == expected(root / "a") + expected(root / "b")
    assert [i.label for i in items] == ["a"] * len(expected(root / "a")) + ["b"] * len(expected(root / "b"))
    assert root / "b" / "linked.png" in [i.path for i in items]
    assert not any("linked-dir" in str(i.path) or i.path.name == "broken.png" for i in items)


def test_a_listed_tree_is_listed_again_only_when_a_folder_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from headstart_vision import data

    root = tmp_path / "tree"
    for name in ("a/1.png", "a/sub/2.png", "b/3.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    folders = [root, root / "a", root / "a" / "sub", root / "b"]
    for folder in folders:  # left alone for a minute: settled
        os.utime(folder, ns=(time.time_ns() - 60 * 10**9,) * 2)
    reads: list[str] = []
    real = os.scandir
    monkeypatch.setattr(data.os, "scandir", lambda p: (reads.append(str(p)), real(p))[1])

    first = data.scan_folder(root)
    assert len(first) == 3 and reads
    reads.clear()
    assert data.scan_folder(root) == first and not reads  # remembered: no folder read again

    (root / "a" / "sub" / "4.png").write_bytes(b"")  # a file added deep down changes its folder's time
    again = data.scan_folder(root)
    assert reads and [i.path.name for i in again] == ["1.png", "2.png", "4.png", "3.png"]
    reads.clear()
    assert data.scan_folder(root) == again and reads  # just changed, not settled: read every time
