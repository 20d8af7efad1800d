"""Fixtures for the vision plugin's tests: ImageFolder trees and CSV files written with Pillow,
scikit-learn's digits in a per-session cache, and small experiment configs on tiny timm models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

#: Colour of each synthetic class: the classes differ in colour, so a few steps learn them.
COLOURS = [(220, 40, 40), (40, 200, 60), (40, 60, 220), (230, 220, 40), (200, 40, 220), (40, 210, 210)]


def _write_image(path: Path, colour: tuple[int, int, int], size: int = 20, seed: int = 0) -> Path:
    """A noisy image of one colour with a darker square in a random place."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 25, (size, size, 3)), 0, 255)
    x, y = rng.integers(0, size // 2, 2)
    pixels[y : y + size // 3, x : x + size // 3] *= 0.4
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype("uint8")).save(path)
    return path


def write_tree(root: Path, counts: dict[str, int], size: int = 20, seed: int = 0) -> Path:
    """An ImageFolder tree ``root/<class>/<i>.png`` with ``counts[class]`` images per class."""
    for c, (label, n) in enumerate(counts.items()):
        for i in range(n):
            _write_image(root / label / f"{i:03d}.png", COLOURS[c % len(COLOURS)], size, seed * 1000 + c * 100 + i)
    return root


@pytest.fixture
def write_image() -> Callable[..., Path]:
    """``write_image(path, colour, size=20, seed=0)`` writes one noisy PNG."""
    return _write_image


@pytest.fixture
def image_tree(tmp_path: Path) -> Callable[..., Path]:
    """``image_tree(name, counts)`` writes an ImageFolder tree under tmp_path."""

    def make(name: str = "tree", counts: dict[str, int] | None = None, size: int = 20, seed: int = 0) -> Path:
        return write_tree(tmp_path / name, counts or {"red": 6, "green": 6, "blue": 6}, size, seed)

    return make


@pytest.fixture
def split_tree(tmp_path: Path) -> Path:
    """``root/train``, ``root/val``, ``root/test`` trees of three colour classes."""
    root = tmp_path / "images"
    write_tree(root / "train", {"red": 8, "green": 8, "blue": 8}, seed=0)
    write_tree(root / "val", {"red": 3, "green": 3, "blue": 3}, seed=1)
    write_tree(root / "test", {"red": 3, "green": 3, "blue": 3}, seed=2)
    return root


@pytest.fixture(scope="session")
def headstart_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A per-session ``HEADSTART_CACHE`` (built-in datasets are written there, not in $HOME)."""
    path = tmp_path_factory.mktemp("headstart-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("HEADSTART_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def digits_tree(headstart_cache: Path) -> Path:
    """scikit-learn's digits as an ImageFolder tree (written once per session)."""
    from headstart_vision.data import materialize_digits

    return materialize_digits()


def config(data: Any, **sections: Any) -> dict[str, Any]:
    """A small experiment: ``timm:test_resnet`` (random weights), 32-px images, linear probe."""
    out: dict[str, Any] = {
        "name": "vision-test",
        "seed": 0,
        "source": {"name": "timm:test_resnet", "pretrained": False},
        "task": {"name": "image-classification", "data": data, "image_size": 32, "augment": False},
        "policy": {"name": "linear-probe"},
        "trainer": {"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False, "device": "cpu", "log_every": 1},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


@pytest.fixture
def vision_config(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``vision_config(data, task={…}, policy={…})``: :func:`config` with runs under tmp_path."""

    def make(data: Any, **sections: Any) -> dict[str, Any]:
        return config(data, output_dir=str(tmp_path / "runs"), **sections)

    return make
