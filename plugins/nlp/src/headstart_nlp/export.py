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

from headstart import ClassificationHead, ConfigError, SequenceHead, checked_hf_export, hf_model, hf_writer

if TYPE_CHECKING:
    from headstart import Predictor

MODELING = Path(__file__).with_name("hf_modeling.py")
#: its name in the exported folder (``config.json``'s ``auto_map`` names it)
MODELING_FILE = "modeling_headstart.py"


def _labels(predictor: Predictor) -> list[str]:
    return predictor.labels or ["value"]


def _token_classification(predictor: Predictor, folder: Path) -> dict[str, Any]:
    from transformers import AutoModelForTokenClassification

    head = predictor.model.head
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if isinstance(head, SequenceHead) else []
    if len(linears) != 1:
        raise ConfigError("only a linear head (no task.hidden) is AutoModelForTokenClassification; use --to onnx")
    model = hf_model(
        AutoModelForTokenClassification,
        predictor,
        labels=_labels(predictor),
        ignore_unexpected=("pooler.",),  # the token model has no pooler
    )
    with torch.no_grad():
        model.classifier.weight.copy_(linears[0].weight)
        model.classifier.bias.copy_(linears[0].bias)
    model.save_pretrained(folder)
    predictor.source.preprocessor.save_pretrained(folder)
    inputs = predictor.task.example_batch()["inputs"]  # type: ignore[attr-defined]
    return checked_hf_export(
        folder,
        AutoModelForTokenClassification,
        lambda reloaded: (reloaded(**inputs).logits, predictor.model(inputs)),
        pipeline="token-classification",
    )


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
    labels = _labels(predictor)
    base: Any = predictor.model.backbone.config  # a transformers config
    config = {
        "model_type": "headstart-text",
        "architectures": ["HeadstartForSequenceClassification"],
        "auto_map": {
            "AutoConfig": "modeling_headstart.HeadstartTextConfig",
            "AutoModelForSequenceClassification": "modeling_headstart.HeadstartForSequenceClassification",
        },
        "encoder": base.to_dict(),
        "pooling": head.pooling,
        "head_hidden": hidden,
        "id2label": {str(i): label for i, label in enumerate(labels)},
        "label2id": {label: i for i, label in enumerate(labels)},
        "problem_type": "regression" if regression else "single_label_classification",
    }
    (folder / MODELING_FILE).write_text(MODELING.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"), metadata={"format": "pt"}
    )
    predictor.source.preprocessor.save_pretrained(folder)
    inputs = predictor.task.example_batch()["inputs"]  # type: ignore[attr-defined]

    def outputs(reloaded: Any) -> tuple[torch.Tensor, torch.Tensor]:
        ours = predictor.model(inputs)
        return reloaded(**inputs).logits, ours * task.std + task.mean if regression else ours

    return checked_hf_export(folder, AutoModelForSequenceClassification, outputs, remote_code=MODELING_FILE)


export_hf = hf_writer(
    {
        "token-classification": _token_classification,
        "text-classification": _sequence_classification,
        "text-regression": _sequence_classification,
    }
)
