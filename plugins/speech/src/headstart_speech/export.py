"""``headstart export --to hf`` for speech runs on Hugging Face sources (wav2vec 2.0, HuBERT,
WavLM …): a ``save_pretrained`` directory that transformers' own classes load, checked against
Headstart's outputs.

* ``speech-recognition``: ``AutoModelForCTC`` (the encoder, dropout, a linear layer per frame:
  exactly Headstart's CTC head) with a ``Wav2Vec2Processor``: the feature extractor with the
  source's audio settings and a CTC tokenizer whose vocabulary is the run's (the blank is the
  padding token, id 0; a space is the word delimiter ``|``). ``pipeline("automatic-speech-
  recognition", model=folder)`` transcribes files.
* ``audio-classification``: ``AutoModelForAudioClassification``; its projector is set to the
  identity (``classifier_proj_size`` = hidden size) so mean pooling + the classifier are exactly
  Headstart's head. transformers pools over the attention mask only for models that take one:
  a wav2vec2-base-style model without it averages a padded batch over the padding too, as it
  would in any transformers pipeline — single recordings match exactly.

Only a linear head maps onto these classes (and mean pooling for classification); otherwise use
``--to onnx``. torchaudio sources export to ``onnx`` and ``torch-export``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from headstart import ClassificationHead, ConfigError, checked_hf_export, hf_model, hf_writer

if TYPE_CHECKING:
    from headstart import Predictor

DELIMITER = "|"


def _single_linear(head: nn.Module) -> nn.Linear:
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 1:
        raise ConfigError("only a linear head (no head_hidden) maps onto a transformers class; use --to onnx")
    return linears[0]


def _feature_extractor(predictor: Predictor) -> Any:
    from transformers import Wav2Vec2FeatureExtractor

    pre = predictor.task.preprocessor  # type: ignore[attr-defined]
    return Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=pre.sample_rate,
        padding_value=pre.padding_value,
        do_normalize=pre.normalize,
        return_attention_mask=pre.attention_mask,
    )


def _hf_inputs(predictor: Predictor, batch: dict[str, Any]) -> dict[str, Any]:
    inputs = batch["inputs"]
    use_mask = predictor.task.preprocessor.attention_mask  # type: ignore[attr-defined]
    return {
        "input_values": inputs["input_values"],
        **({"attention_mask": inputs["attention_mask"]} if use_mask else {}),
    }


def _ctc(predictor: Predictor, folder: Path) -> dict[str, Any]:
    from transformers import AutoModelForCTC, Wav2Vec2CTCTokenizer, Wav2Vec2Processor

    task: Any = predictor.task
    chars = [DELIMITER if c == " " else c for c in task.vocab.chars]
    if DELIMITER in task.vocab.chars:
        raise ConfigError(f"the vocabulary has {DELIMITER!r}, the CTC tokenizer's word delimiter; use --to onnx")
    vocab = {"<pad>": 0, **{c: i + 1 for i, c in enumerate(chars)}}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(
        str(folder / "vocab.json"), pad_token="<pad>", word_delimiter_token=DELIMITER, do_lower_case=False
    )
    Wav2Vec2Processor(feature_extractor=_feature_extractor(predictor), tokenizer=tokenizer).save_pretrained(folder)
    linear = _single_linear(predictor.model.head)
    model = hf_model(AutoModelForCTC, predictor, vocab_size=len(vocab), pad_token_id=0, architectures=None)
    with torch.no_grad():
        model.lm_head.weight.copy_(linear.weight)
        model.lm_head.bias.copy_(linear.bias)
    model.save_pretrained(folder)
    batch = task.example_batch()

    def outputs(reloaded: Any) -> tuple[torch.Tensor, torch.Tensor]:
        ours, _ = predictor.model(batch["inputs"])
        theirs = reloaded(**_hf_inputs(predictor, batch)).logits
        n = min(ours.shape[1], theirs.shape[1])
        return theirs[:, :n], ours[:, :n]

    return checked_hf_export(folder, AutoModelForCTC, outputs, pipeline="automatic-speech-recognition")


def _classification(predictor: Predictor, folder: Path) -> dict[str, Any]:
    from transformers import AutoModelForAudioClassification

    head = predictor.model.head
    if not isinstance(head, ClassificationHead) or head.pooling != "mean":
        raise ConfigError("only mean pooling maps onto AutoModelForAudioClassification; use --to onnx")
    linear = _single_linear(head)
    backbone: Any = predictor.model.backbone  # a transformers model
    hidden = int(backbone.config.hidden_size)
    model = hf_model(
        AutoModelForAudioClassification,
        predictor,
        labels=list(predictor.labels or []),
        classifier_proj_size=hidden,
        use_weighted_layer_sum=False,
        architectures=None,
    )
    with torch.no_grad():
        model.projector.weight.copy_(torch.eye(hidden))
        model.projector.bias.zero_()
        model.classifier.weight.copy_(linear.weight)
        model.classifier.bias.copy_(linear.bias)
    model.save_pretrained(folder)
    _feature_extractor(predictor).save_pretrained(folder)
    task: Any = predictor.task
    wave = task.example_batch()["inputs"]["input_values"][0]
    batch = task.predict_collate([wave])  # one recording: no padding to treat differently
    return checked_hf_export(
        folder,
        AutoModelForAudioClassification,
        lambda reloaded: (reloaded(**_hf_inputs(predictor, batch)).logits, predictor.model(batch["inputs"])),
        pipeline="audio-classification",
    )


export_hf = hf_writer({"speech-recognition": _ctc, "audio-classification": _classification})
