"""A Headstart text classifier as a transformers model: the encoder, then [CLS] or masked-mean
pooling, then the head (dropout + linear, or a one-hidden-layer MLP) — exactly as trained.

Written into a ``headstart export --to hf`` folder as ``modeling_headstart.py``."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class HeadstartTextConfig(PretrainedConfig):
    model_type = "headstart-text"

    def __init__(
        self, encoder: dict[str, Any] | None = None, pooling: str = "cls", head_hidden: int | None = None, **kwargs: Any
    ) -> None:
        self.encoder = dict(encoder or {})
        self.pooling = pooling
        self.head_hidden = head_hidden
        super().__init__(**kwargs)


class _Head(nn.Module):
    def __init__(self, dim: int, outputs: int, hidden: int | None) -> None:
        super().__init__()
        if hidden is None:
            self.net = nn.Sequential(nn.Dropout(0.0), nn.Linear(dim, outputs))
        else:
            self.net = nn.Sequential(
                nn.Dropout(0.0), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, outputs)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class HeadstartForSequenceClassification(PreTrainedModel):
    config_class = HeadstartTextConfig
    base_model_prefix = "encoder"

    def __init__(self, config: HeadstartTextConfig) -> None:
        super().__init__(config)
        settings = dict(config.encoder)
        self.encoder = AutoModel.from_config(AutoConfig.for_model(settings.pop("model_type"), **settings))
        self.head = _Head(self.encoder.config.hidden_size, cast(int, config.num_labels), config.head_hidden)
        self.post_init()  # type: ignore[no-untyped-call]  # transformers is not annotated

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = (attention_mask if attention_mask is not None else torch.ones(hidden.shape[:2])).to(hidden.dtype)
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return SequenceClassifierOutput(logits=self.head(pooled))
