"""Image preprocessing from a source's pretrained configuration: an eval and a train transform.

:class:`ImagePreprocessor` is what a vision source puts in ``SourceModel.preprocessor``: input
size, mean / std, interpolation and centre-crop fraction, as the weights were trained. The eval
transform resizes to ``size / crop_pct`` and centre-crops ``size``; the train transform adds the
usual augmentation (random resized crop, horizontal flip), configured by :class:`Augment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from headstart import check_options

if TYPE_CHECKING:
    from torchvision.transforms import InterpolationMode

#: torchvision's interpolation modes by name (the values of ``InterpolationMode``); torchvision
#: itself is imported only when a transform is built, so registering the plugin stays light.
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def _mode(name: str) -> InterpolationMode:
    from torchvision.transforms import InterpolationMode

    return InterpolationMode(name)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Augment:
    """Training augmentation. ``scale`` and ``ratio`` are RandomResizedCrop's ranges (area fraction,
    aspect ratio); ``hflip`` the probability of a horizontal flip (0 for digits and text);
    ``color_jitter`` the strength of brightness / contrast / saturation jitter (0: off)."""

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    color_jitter: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"augment.scale = {list(self.scale)}: expected 0 < low <= high <= 1")
        if not 0.0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"augment.ratio = {list(self.ratio)}: expected 0 < low <= high")
        if not 0.0 <= self.hflip <= 1.0:
            raise ValueError(f"augment.hflip = {self.hflip}: expected a probability in [0, 1]")
        if self.color_jitter < 0:
            raise ValueError(f"augment.color_jitter = {self.color_jitter}: expected >= 0")

    @classmethod
    def from_option(cls, value: bool | Mapping[str, Any] | None) -> Augment | None:
        """``true`` -> defaults, ``false``/``null`` -> no augmentation, a mapping -> these settings."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        return cls(**check_options(cls, dict(value), "task.augment"))


@dataclass(frozen=True)
class ImagePreprocessor:
    """How a source reads images: the pretrained configuration of its weights.

    ``input_size`` is the side of the square crop the network sees; ``crop_pct`` the fraction of
    the resized image that the eval centre crop keeps (0.875: resize 256, crop 224).
    """

    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"
    crop_pct: float = 0.875
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation {self.interpolation!r}; valid: {', '.join(INTERPOLATIONS)}")
        if not 0.0 < self.crop_pct <= 1.0:
            raise ValueError(f"crop_pct = {self.crop_pct}: expected a fraction in (0, 1]")
        if self.input_size < 1:
            raise ValueError(f"input_size = {self.input_size}: expected a positive number of pixels")
        if len(self.mean) != 3 or len(self.std) != 3 or any(s <= 0 for s in self.std):
            raise ValueError(f"mean {self.mean} / std {self.std}: expected three numbers each, std > 0")

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> ImagePreprocessor:
        """A copy with some fields replaced (``input_size``, ``mean``, ``std``, ``interpolation``, ``crop_pct``)."""
        if not overrides:
            return self
        valid = ("input_size", "mean", "std", "interpolation", "crop_pct")
        unknown = [k for k in overrides if k not in valid]
        if unknown:
            raise ValueError(f"unknown preprocessing key(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        clean: dict[str, Any] = {
            k: tuple(float(x) for x in v) if k in ("mean", "std") else v for k, v in overrides.items()
        }
        return replace(self, **clean)

    def describe(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "crop_pct": self.crop_pct,
        }

    def _tail(self) -> list[Callable[[Any], Any]]:
        from torchvision import transforms as T

        return [T.ToTensor(), T.Normalize(self.mean, self.std)]

    def eval_transform(self) -> Callable[[Any], torch.Tensor]:
        """Resize the short side to ``input_size / crop_pct``, centre-crop, normalise."""
        from torchvision import transforms as T

        resize = max(self.input_size, round(self.input_size / self.crop_pct))
        mode = _mode(self.interpolation)
        transform: Callable[[Any], torch.Tensor] = T.Compose(
            [T.Resize(resize, interpolation=mode), T.CenterCrop(self.input_size), *self._tail()]
        )
        return transform

    def train_transform(self, augment: Augment | None) -> Callable[[Any], torch.Tensor]:
        """Random resized crop, flip and jitter as ``augment`` says; the eval transform when None."""
        if augment is None:
            return self.eval_transform()
        from torchvision import transforms as T

        mode = _mode(self.interpolation)
        steps: list[Callable[[Any], Any]] = [
            T.RandomResizedCrop(self.input_size, scale=augment.scale, ratio=augment.ratio, interpolation=mode)
        ]
        if augment.hflip > 0:
            steps.append(T.RandomHorizontalFlip(augment.hflip))
        if augment.color_jitter > 0:
            j = augment.color_jitter
            steps.append(T.ColorJitter(brightness=j, contrast=j, saturation=j))
        transform: Callable[[Any], torch.Tensor] = T.Compose([*steps, *self._tail()])
        return transform


def from_timm_config(config: Mapping[str, Any]) -> ImagePreprocessor:
    """From timm's ``resolve_data_config`` / ``pretrained_cfg`` dict."""
    size = config.get("input_size", (3, 224, 224))
    interpolation = str(config.get("interpolation") or "bicubic")
    return ImagePreprocessor(
        input_size=int(size[-1]),
        mean=tuple(float(x) for x in config.get("mean", IMAGENET_MEAN)),  # type: ignore[arg-type]
        std=tuple(float(x) for x in config.get("std", IMAGENET_STD)),  # type: ignore[arg-type]
        interpolation=interpolation if interpolation in INTERPOLATIONS else "bicubic",
        crop_pct=float(config.get("crop_pct") or 0.875),
    )


def from_torchvision_transforms(preset: Any) -> ImagePreprocessor:
    """From a torchvision weights enum's ``transforms()`` preset (``ImageClassification``)."""
    crop = int(preset.crop_size[0])
    resize = int(preset.resize_size[0])
    mode = getattr(preset.interpolation, "value", preset.interpolation)
    name = mode if mode in INTERPOLATIONS else "bilinear"
    return ImagePreprocessor(
        input_size=crop,
        mean=tuple(float(x) for x in preset.mean),  # type: ignore[arg-type]
        std=tuple(float(x) for x in preset.std),  # type: ignore[arg-type]
        interpolation=name,
        crop_pct=min(1.0, crop / resize),
    )
