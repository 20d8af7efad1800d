"""The model a run trains: a source's backbone followed by a task's head."""

from __future__ import annotations

from typing import Any

from torch import nn

from .interfaces import HEAD, Block, Features, SourceModel


class TransferModel(nn.Module):
    """``head(source.forward(inputs))``, with the block map of the whole model.

    Modules that the freeze engine locks in eval mode (every module of a frozen block, and the
    normalisation layers of trainable blocks whose norm mode is not ``train``) stay in eval mode
    after ``train()``: the lock is re-applied on every call, so no caller can forget it.
    """

    source: SourceModel

    def __init__(self, source: SourceModel, head: nn.Module) -> None:
        super().__init__()
        # not registered as a sub-module: its parameters live in ``backbone``
        object.__setattr__(self, "source", source)
        self.backbone = source.backbone
        self.head = head
        self._eval_locked: list[nn.Module] = []

    @property
    def blocks(self) -> list[Block]:
        """Source blocks (members prefixed with ``backbone.``) and the head block, last."""
        out = [Block(b.name, tuple(f"backbone.{m}" for m in b.members)) for b in self.source.blocks]
        out.append(Block(HEAD, (HEAD,)))
        return out

    def lock_eval(self, modules: list[nn.Module]) -> None:
        """Keep each of ``modules`` (itself, not its children) in eval mode from now on; replaces
        the previous set."""
        self._eval_locked = list(modules)
        self.train(self.training)

    def train(self, mode: bool = True) -> TransferModel:
        super().train(mode)
        for m in self._eval_locked:
            m.training = False
        return self

    def features(self, inputs: Any) -> Features:
        return self.source.forward(inputs)

    def forward(self, inputs: Any) -> Any:
        return self.head(self.source.forward(inputs))
