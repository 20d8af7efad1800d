"""Image data: ImageFolder trees, CSV files of ``path,label``, stratified splits, scikit-learn's digits.

Everything here turns files into lists of :class:`ImageItem` (path, label, where it was listed)
and checks them: an empty class folder, a missing file, a label that the train split never saw,
or an image that cannot be decoded stops with a :class:`headstart.DataError` naming the file (or,
with ``skip_bad``, a bad image is left out and counted).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError

from headstart import DataError, read_csv, require_columns

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


@dataclass(frozen=True)
class ImageItem:
    """One example: the image file, its class name, and where it was listed (folder or ``file.csv:3``)."""

    path: Path
    label: str
    where: str


# --- listing ------------------------------------------------------------------------------------


def _images_under(folder: Path, folders: list[str]) -> list[Path]:
    """Image files under ``folder`` at any depth, in ``Path`` order: the files of
    ``folder.rglob("*")`` (symlinked folders are not entered) whose name does not start with a
    dot and whose extension is in :data:`IMAGE_EXTENSIONS`, from ``os.scandir``
    entries, whose file type usually needs no ``stat`` call per file. Every folder read is
    appended to ``folders``."""
    found: list[tuple[tuple[str, ...], Path]] = []
    pending = [folder]
    while pending:
        here = pending.pop()
        folders.append(str(here))
        with os.scandir(here) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(here / entry.name)
                elif (
                    not entry.name.startswith(".")
                    and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
                    and entry.is_file()
                ):
                    path = here / entry.name
                    found.append((path.parts, path))
    found.sort(key=lambda pair: pair[0])
    return [path for _, path in found]


#: Seconds a folder must have been left alone before its listing is remembered: a file added
#: within the same tick of a coarse file-system clock would not change the folder's time.
SETTLED_S = 2.0
#: Folder trees listed by this process: root -> (each folder read with its modification time, the
#: items). The cells of a ``compare`` matrix list the same tree again and again.
_LISTED: dict[str, tuple[list[tuple[str, int]], list[ImageItem]]] = {}


def _times(folders: list[str]) -> list[tuple[str, int]] | None:
    try:
        return [(f, os.stat(f).st_mtime_ns) for f in folders]
    except OSError:
        return None


def scan_folder(root: Path) -> list[ImageItem]:
    """An ImageFolder tree: one sub-folder per class, images inside (any depth). An empty class
    folder is an error. A tree listed before by this process is listed again only when one of
    its folders changed since (files added, removed or renamed change their folder's time)."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (expected an ImageFolder tree: one sub-folder per class)")
    known = _LISTED.get(str(root))
    if known is not None and _times([f for f, _ in known[0]]) == known[0]:
        return list(known[1])
    started = time.time_ns()
    folders = [str(root)]
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class folders; an ImageFolder tree has one sub-folder per class")
    items: list[ImageItem] = []
    for folder in classes:
        files = _images_under(folder, folders)
        if not files:
            raise DataError(
                f"{folder}: class folder {folder.name!r} has no images "
                f"(extensions: {', '.join(sorted(IMAGE_EXTENSIONS))}); remove it or add images"
            )
        where = str(folder)
        items.extend(ImageItem(p, folder.name, where) for p in files)
    times = _times(folders)
    if times is not None and all(t < started - SETTLED_S * 1e9 for _, t in times):
        _LISTED[str(root)] = (times, list(items))
    return items


def read_csv_items(file: Path, path_column: str = "path", label_column: str = "label") -> list[ImageItem]:
    """A CSV with a header line and ``path,label`` columns; relative paths are relative to the CSV."""
    rows = read_csv(file)
    require_columns(rows, [path_column, label_column], file)
    items = []
    for row in rows:
        raw, label = str(row[path_column]).strip(), str(row[label_column]).strip()
        if not raw or not label:
            raise DataError(f"{row['_where']}: empty {path_column if not raw else label_column}")
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = file.parent / path
        if not path.is_file():
            raise DataError(f"{row['_where']}: image {raw!r} not found (looked for {path})")
        items.append(ImageItem(path, label, row["_where"]))
    return items


def read_items(location: str | Path, path_column: str = "path", label_column: str = "label") -> list[ImageItem]:
    """A folder (ImageFolder tree) or a ``.csv`` file."""
    p = Path(location).expanduser()
    if p.suffix.lower() == ".csv":
        if not p.is_file():
            raise DataError(f"{p}: no such CSV file")
        return read_csv_items(p, path_column, label_column)
    return scan_folder(p)


def stratified_split(items: Sequence[ImageItem], fractions: dict[str, float], seed: int) -> dict[str, list[ImageItem]]:
    """Split by class: each class's examples are shuffled with ``seed`` and ``fractions[split]`` of
    them (rounded, at least one where the class has enough) go to each split; the rest is train."""
    total = sum(fractions.values())
    if any(f < 0 for f in fractions.values()) or total >= 1.0:
        raise ValueError(f"split fractions {fractions} must be >= 0 and sum to less than 1 (the rest is train)")
    by_class: dict[str, list[ImageItem]] = defaultdict(list)
    for item in items:
        by_class[item.label].append(item)
    out: dict[str, list[ImageItem]] = {"train": [], **{s: [] for s in fractions}}
    rng = random.Random(seed)
    for label in sorted(by_class):
        group = list(by_class[label])
        rng.shuffle(group)
        start = 0
        for split, frac in fractions.items():
            n = round(len(group) * frac)
            if frac > 0 and n == 0 and len(group) - start > 1:
                n = 1
            n = min(n, len(group) - start - 1)  # keep at least one for train
            out[split].extend(group[start : start + max(n, 0)])
            start += max(n, 0)
        out["train"].extend(group[start:])
    return out


def check_labels(splits: dict[str, list[ImageItem]]) -> list[str]:
    """The sorted class names of train; a label elsewhere that train never saw is an error."""
    if not splits.get("train"):
        raise DataError("the train split has no examples")
    labels = sorted({i.label for i in splits["train"]})
    known = set(labels)
    for split, items in splits.items():
        for item in items:
            if item.label not in known:
                raise DataError(
                    f"{item.where}: label {item.label!r} in the {split} split does not occur in train "
                    f"(train classes: {', '.join(labels)})"
                )
    return labels


# --- reading and checking images -----------------------------------------------------------------


def open_image(path: Path) -> Image.Image:
    """The image as RGB; a DataError naming the file when it cannot be read or decoded."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None


#: Files this process has decoded without error, as (path, size, mtime_ns): the cells of a
#: ``compare`` matrix build the same task again and again, and need not decode every image again.
_DECODED: set[tuple[str, int, int]] = set()


def verify_images(items: list[ImageItem], skip_bad: bool) -> tuple[list[ImageItem], list[str]]:
    """Decode every image once; return the good items and the bad files (an error without ``skip_bad``).
    A file already decoded by this process and unchanged since (same size and modification time)
    is not decoded again."""
    good, bad = [], []
    for item in items:
        try:
            path = str(item.path)  # once: os.stat of a Path converts it again
            stat = os.stat(path)
            seen = (path, stat.st_size, stat.st_mtime_ns)
            if seen not in _DECODED:
                with Image.open(item.path) as img:
                    img.load()
                _DECODED.add(seen)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            if not skip_bad:
                raise DataError(
                    f"{item.path}: cannot read image ({type(exc).__name__}: {exc}); "
                    "fix or remove the file, or set task.skip_bad: true to skip unreadable images"
                ) from None
            bad.append(str(item.path))
            continue
        good.append(item)
    return good, bad


@dataclass(frozen=True)
class BadImage:
    """Placeholder for an image that failed to decode while loading (with ``skip_bad``)."""

    path: str


class ImageDataset(torch.utils.data.Dataset[Any]):
    """Map-style dataset of ``(image tensor, class index)``. An image that fails to decode now
    (after passing the check at prepare time) raises, or with ``skip_bad`` yields a
    :class:`BadImage`, which the task's collate drops and counts."""

    def __init__(
        self, items: Sequence[ImageItem], index: dict[str, int], transform: Callable[[Any], Any], skip_bad: bool
    ) -> None:
        self.items = list(items)
        self.index = index
        self.transform = transform
        self.skip_bad = skip_bad

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int] | BadImage:
        item = self.items[i]
        try:
            image = open_image(item.path)
        except DataError:
            if self.skip_bad:
                return BadImage(str(item.path))
            raise
        return self.transform(image), self.index[item.label]


def class_counts(items: Sequence[ImageItem]) -> dict[str, int]:
    return dict(sorted(Counter(i.label for i in items).items()))


# --- built-in data: scikit-learn's digits ---------------------------------------------------------


def cache_dir() -> Path:
    """``$HEADSTART_CACHE`` or ``~/.cache/headstart``: where built-in datasets are written."""
    env = os.environ.get("HEADSTART_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "headstart"


def materialize_digits(root: str | Path | None = None, size: int = 32) -> Path:
    """Write scikit-learn's 1,797 handwritten digits (8x8 scans) as an ImageFolder tree of PNGs
    (``0/ … 9/``), upscaled to ``size`` pixels, once; return the tree's folder.

    The tree is written to a temporary folder and renamed into place, so a crash never leaves a
    half-written dataset behind.
    """
    base = Path(root).expanduser() if root is not None else cache_dir() / "datasets"
    target = base / f"digits-{size}px"
    if (target / ".complete").is_file():
        return target  # written before: no scikit-learn import (about 2 s) for it
    import numpy as np
    from sklearn.datasets import load_digits

    base.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    tmp = Path(tempfile.mkdtemp(prefix=".digits-", dir=base))
    try:
        for i, (image, label) in enumerate(zip(digits.images, digits.target)):
            folder = tmp / str(int(label))
            folder.mkdir(exist_ok=True)
            pixels = (np.asarray(image) * (255.0 / 16.0)).clip(0, 255).astype("uint8")
            img = Image.fromarray(pixels)  # 2-D uint8: greyscale
            if size != 8:
                img = img.resize((size, size), Image.Resampling.BICUBIC)
            img.save(folder / f"{i:04d}.png")
        (tmp / ".complete").write_text("scikit-learn load_digits()\n", encoding="utf-8")
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


#: Built-in datasets: ``data: builtin:<name>`` -> a function writing an ImageFolder tree.
BUILTIN_DATASETS: dict[str, Callable[..., Path]] = {"digits": materialize_digits}
