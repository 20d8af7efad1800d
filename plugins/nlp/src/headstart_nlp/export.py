"""``headstart export --to hf``: a text run as a Hugging Face model directory (``save_pretrained``
weights and config with ``id2label`` / ``label2id``, and the tokenizer), checked by loading it
with ``transformers``' own ``AutoModelFor…`` class.

* ``token-classification`` with a linear head is exactly ``AutoModelForTokenClassification``
  (dropout + a linear layer on every token): standard classes, no extra code.
* ``text-classification`` / ``text-regression``: Headstart's head reads the ``[CLS]`` token or
  the mean over the attention mask, with no pooler layer; no standard class does that (BERT's
  adds a dense + tanh pooler), so the export carries ``modeling_headstart.py``, registered in
  ``config.json``'s ``auto_map``. Loading it needs ``trust_remote_code=True`` — the code is that
  one file, written by Headstart, readable in the folder. A regression head is exported with its
  target scaling folded in, so the logit is the prediction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from headstart import ClassificationHead, ConfigError, SequenceHead

if TYPE_CHECKING:
    from headstart import Predictor

MODELING = Path(__file__).with_name("hf_modeling.py")


def _labels(predictor: Predictor) -> tuple[dict[int, str], dict[str, int]]:
    labels = predictor.labels or ["value"]
    return dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def _token_classification(predictor: Predictor, folder: Path) -> dict[str, Any]:
    from transformers import AutoModelForTokenClassification

    head = predictor.model.head
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if isinstance(head, SequenceHead) else []
    if len(linears) != 1:
        raise ConfigError("only a linear head (no task.hidden) is AutoModelForTokenClassification; use --to onnx")
    id2label, label2id = _labels(predictor)
    base: Any = predictor.model.backbone.config  # a transformers config
    config = base.__class__.from_dict({**base.to_dict(), "id2label": id2label, "label2id": label2id})
    model = AutoModelForTokenClassification.from_config(config)
    base = getattr(model, model.base_model_prefix)
    missing, unexpected = base.load_state_dict(predictor.model.backbone.state_dict(), strict=False)
    unexpected = [k for k in unexpected if not k.startswith("pooler.")]  # the token model has no pooler
    if missing or unexpected:
        raise ConfigError(
            f"the encoder does not fit {type(model).__name__}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    with torch.no_grad():
        model.classifier.weight.copy_(linears[0].weight)
        model.classifier.bias.copy_(linears[0].bias)
    model.save_pretrained(folder)
    predictor.source.preprocessor.save_pretrained(folder)
    reloaded = AutoModelForTokenClassification.from_pretrained(folder).eval()
    inputs = predictor.task.example_batch()["inputs"]  # type: ignore[attr-defined]
    with torch.no_grad():
        diff = _diff(reloaded(**inputs).logits, predictor.model(inputs))
    return {
        "files": sorted(p.name for p in folder.iterdir()),
        "load_with": f"AutoModelForTokenClassification.from_pretrained({str(folder)!r}) or pipeline('token-classification', model=…)",
        "max_abs_diff": diff,
        "checked_with": "transformers AutoModelForTokenClassification",
    }


def _sequence_classification(predictor: Predictor, folder: Path) -> dict[str, Any]:
    from transformers import AutoModelForSequenceClassification

    head = predictor.model.head
    if not isinstance(head, ClassificationHead) or head.pooling not in ("cls", "mean"):
        raise ConfigError("the head cannot be written as a Hugging Face model; use --to onnx")
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    hidden = linears[0].out_features if len(linears) == 2 else None
    state = {f"head.{k}": v.clone() for k, v in head.state_dict().items()}
    task: Any = predictor.task
    regression = predictor.labels is None
    if regression:  # fold the target scaling into the last layer: the logit is the prediction
        last = max(k for k in state if k.endswith(".weight"))
        state[last] *= task.std
        bias = last.replace(".weight", ".bias")
        state[bias] = state[bias] * task.std + task.mean
    state.update({f"encoder.{k}": v for k, v in predictor.model.backbone.state_dict().items()})
    id2label, label2id = _labels(predictor)
    base: Any = predictor.model.backbone.config  # a transformers config
    encoder = base.to_dict()
    config = {
        "model_type": "headstart-text",
        "architectures": ["HeadstartForSequenceClassification"],
        "auto_map": {
            "AutoConfig": "modeling_headstart.HeadstartTextConfig",
            "AutoModelForSequenceClassification": "modeling_headstart.HeadstartForSequenceClassification",
        },
        "encoder": encoder,
        "pooling": head.pooling,
        "head_hidden": hidden,
        "id2label": {str(k): v for k, v in id2label.items()},
        "label2id": label2id,
        "problem_type": "regression" if regression else "single_label_classification",
    }
    (folder / "modeling_headstart.py").write_text(MODELING.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"), metadata={"format": "pt"}
    )
    predictor.source.preprocessor.save_pretrained(folder)
    reloaded = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    inputs = predictor.task.example_batch()["inputs"]  # type: ignore[attr-defined]
    with torch.no_grad():
        ours = predictor.model(inputs)
        if regression:
            ours = ours * task.std + task.mean
        diff = _diff(reloaded(**inputs).logits, ours)
    return {
        "files": sorted(p.name for p in folder.iterdir()),
        "load_with": f"AutoModelForSequenceClassification.from_pretrained({str(folder)!r}, trust_remote_code=True)",
        "max_abs_diff": diff,
        "checked_with": "transformers AutoModelForSequenceClassification (trust_remote_code: modeling_headstart.py)",
    }


def export_hf(predictor: Predictor, folder: Path) -> dict[str, Any]:
    name = getattr(predictor.task, "name", "")
    if name == "token-classification":
        return _token_classification(predictor, folder)
    if name in ("text-classification", "text-regression"):
        return _sequence_classification(predictor, folder)
    raise ConfigError(f"--to hf does not know task {name!r}; use --to onnx")
