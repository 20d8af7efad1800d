"""``headstart export --to timm | torchvision``: the run as the library's own model — its key
names, the new classifier in the library's classifier slot, and the preprocessing it was trained
with — checked by loading it back with the library's own loader.

* ``timm``: ``model.safetensors`` + ``config.json`` written by timm's ``save_for_hf`` (hub
  layout: architecture, ``num_classes``, ``label_names``, ``pretrained_cfg`` with mean / std /
  input size / crop). Load with ``timm.create_model("local-dir:<folder>", pretrained=True)``, or with
  ``timm.create_model(name, pretrained=True, num_classes=N,
  pretrained_cfg_overlay=dict(file="<folder>/model.safetensors", num_classes=N))``.
* ``torchvision``: ``model.pth`` (a state dict for ``torchvision.models.get_model(name,
  num_classes=N)``, loadable with ``weights_only=True``) + ``preprocess.json`` (resize, crop,
  mean, std, interpolation) + ``labels.json``.

Only a linear head maps onto the libraries' classifiers; an MLP head exports to ``onnx``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from headstart import ClassificationHead, ConfigError

if TYPE_CHECKING:
    from headstart import Predictor


def _linear(predictor: Predictor) -> nn.Linear:
    head = predictor.model.head
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if isinstance(head, ClassificationHead) else []
    if len(linears) != 1:
        raise ConfigError(
            "only a linear head (task.head: linear) maps onto the library's classifier; export this run with --to onnx"
        )
    return linears[0]


def _labels(predictor: Predictor) -> list[str]:
    return list(predictor.labels or [])


def _check(model: nn.Module, predictor: Predictor) -> float:
    x = predictor.task.example_batch()["inputs"]  # type: ignore[attr-defined]
    model.eval()
    with torch.no_grad():
        return float((model(x) - predictor.model(x)).abs().max())


def _backbone_into(model: nn.Module, predictor: Predictor, classifier: nn.Linear) -> None:
    """The run's backbone weights into ``model`` (same key names), and the head into its classifier."""
    missing, unexpected = model.load_state_dict(predictor.model.backbone.state_dict(), strict=False)
    classifier_keys = {n for n, p in model.named_parameters() if any(p is q for q in classifier.parameters())}
    if unexpected or set(missing) - classifier_keys:
        raise ConfigError(
            f"the backbone does not fit the library's model: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    linear = _linear(predictor)
    with torch.no_grad():
        classifier.weight.copy_(linear.weight)
        classifier.bias.copy_(linear.bias)


def export_timm(predictor: Predictor, folder: Path) -> dict[str, Any]:
    import timm
    from timm.models import save_for_hf

    source: Any = predictor.source
    name = source.name.split(":", 1)[1]
    labels = _labels(predictor)
    model: Any = timm.create_model(
        name, pretrained=False, num_classes=len(labels), **source.rebuild.get("model_args", {})
    )
    classifier = model.get_classifier()
    if not isinstance(classifier, nn.Linear):
        raise ConfigError(f"timm:{name} has no linear classifier to hold the head; export with --to onnx")
    _backbone_into(model, predictor, classifier)
    pre = predictor.task.preprocessor  # type: ignore[attr-defined]
    data_config = {
        "input_size": (3, pre.input_size, pre.input_size),
        "mean": tuple(pre.mean),
        "std": tuple(pre.std),
        "crop_pct": pre.crop_pct,
        "interpolation": pre.interpolation,
    }
    save_for_hf(
        model,
        str(folder),
        model_config={"label_names": labels, "pretrained_cfg": dict(data_config)},
        safe_serialization=True,
        data_config=data_config,
    )
    reloaded = timm.create_model(f"local-dir:{folder}", pretrained=True)
    return {
        "files": ["model.safetensors", "config.json"],
        "load_with": f"timm.create_model('local-dir:{folder}', pretrained=True)",
        "num_classes": len(labels),
        "labels": labels,
        "max_abs_diff": _check(reloaded, predictor),
        "checked_with": f"timm {timm.__version__} create_model('local-dir:…')",
    }


def _torchvision_classifier(model: nn.Module) -> nn.Linear:
    from .sources import _CLASSIFIER_ATTRS

    for attr in _CLASSIFIER_ATTRS:
        clf = getattr(model, attr, None)
        if isinstance(clf, nn.Linear):
            return clf
        if isinstance(clf, nn.Module):
            linears = [m for m in clf.modules() if isinstance(m, nn.Linear)]
            if linears:
                return linears[-1]
    raise ConfigError(f"{type(model).__name__} has no linear classifier to hold the head; export with --to onnx")


def export_torchvision(predictor: Predictor, folder: Path) -> dict[str, Any]:
    from torchvision import models

    name = predictor.source.name.split(":", 1)[1]
    labels = _labels(predictor)
    model = models.get_model(name, weights=None, num_classes=len(labels))
    _backbone_into(model, predictor, _torchvision_classifier(model))
    torch.save(model.state_dict(), folder / "model.pth")
    pre = predictor.task.preprocessor  # type: ignore[attr-defined]
    preprocess = {
        "resize": max(pre.input_size, round(pre.input_size / pre.crop_pct)),
        "crop": pre.input_size,
        "mean": list(pre.mean),
        "std": list(pre.std),
        "interpolation": pre.interpolation,
    }
    (folder / "preprocess.json").write_text(json.dumps(preprocess, indent=2) + "\n", encoding="utf-8")
    (folder / "labels.json").write_text(json.dumps(labels) + "\n", encoding="utf-8")
    reloaded = models.get_model(name, weights=None, num_classes=len(labels))
    reloaded.load_state_dict(torch.load(folder / "model.pth", weights_only=True))
    return {
        "files": ["model.pth", "preprocess.json", "labels.json"],
        "load_with": f"torchvision.models.get_model({name!r}, num_classes={len(labels)}).load_state_dict(...)",
        "labels": labels,
        "preprocess": preprocess,
        "max_abs_diff": _check(reloaded, predictor),
        "checked_with": "torchvision constructor + load_state_dict(weights_only=True)",
    }
