"""The three ideas of Headstart as types: a source model, a target task, a transfer policy.

Everything a plugin contributes implements one of the Protocols below. Core never imports a
domain library; it talks to sources, tasks and policies only through these types.

Vocabulary:

* A **block** is a named, ordered group of a source's parameters (``stem``, ``stage1`` …,
  ``embeddings``, ``layer0`` …). Blocks are listed from input to output; the engine appends the
  task's head as the last block, named ``head``.
* A **phase** is a stretch of epochs during which a fixed set of blocks trains (all of each
  block's parameters, or a selection: biases, normalisation affines, added adapters, name
  patterns), each at its own learning rate, with a given normalisation behaviour.
* A **policy** turns (block names, number of epochs) into phases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = [
    "HEAD",
    "Batch",
    "Block",
    "DatasetFormat",
    "DatasetReader",
    "Examples",
    "FeatureSpec",
    "Features",
    "LocalModel",
    "Metric",
    "MetricFn",
    "NormMode",
    "Phase",
    "PolicyFactory",
    "PolicyType",
    "PredictingTask",
    "SourceModel",
    "SourceProvider",
    "TargetTask",
    "TaskFactory",
    "TaskType",
    "TransferPolicy",
]

#: Name of the block the engine appends for the task's head.
HEAD = "head"

#: A collated batch: ``{"inputs": <what SourceModel.forward takes>, "targets": <what the loss takes>}``
#: plus any extra keys the task wants to carry (ids, lengths, raw texts …).
Batch = dict[str, Any]


class NormMode(StrEnum):
    """How normalisation layers of a *trainable* block behave (frozen blocks are always ``frozen``).

    * ``train``: ordinary behaviour; BatchNorm updates running statistics in training mode.
    * ``frozen``: normalisation layers stay in eval mode after ``model.train()`` and their affine
      parameters do not train.
    * ``frozen-stats``: running statistics stay fixed (eval mode), affine parameters train.
    """

    TRAIN = "train"
    FROZEN = "frozen"
    FROZEN_STATS = "frozen-stats"


@dataclass(frozen=True)
class Block:
    """One entry of a source's block map.

    ``members`` are paths inside the source's ``backbone`` (``"layer1"``, ``"blocks.0"``,
    ``"encoder.layer.3"``), each naming a sub-module or a single parameter. A parameter belongs to
    the block whose member is the longest prefix of its name, so a block map can say
    ``stem = ("conv1", "bn1")`` and leave everything else to later blocks. Every parameter of the
    backbone must belong to exactly one block. Members are listed in the order they run.
    """

    name: str
    members: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name:
            raise ValueError(f"block name {self.name!r} must be non-empty and contain no ':'")
        if not self.members:
            raise ValueError(f"block {self.name!r} has no members")


@dataclass(frozen=True)
class FeatureSpec:
    """What a source's ``forward`` returns, so a task can build a matching head.

    * ``kind``: ``"vector"`` — one feature vector per example, shape ``[batch, dim]``;
      ``"sequence"`` — one per position (token, audio frame), shape ``[batch, length, dim]``
      with a ``mask`` of shape ``[batch, length]`` (true where real).
    * ``dim``: feature size.
    * ``extras``: free-form facts a task may use (``{"frame_rate": 50.0}``, ``{"pooling": "mean"}``).
    """

    kind: str
    dim: int
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("vector", "sequence"):
            raise ValueError(f"FeatureSpec.kind must be 'vector' or 'sequence', not {self.kind!r}")
        if self.dim <= 0:
            raise ValueError(f"FeatureSpec.dim must be positive, not {self.dim}")


@dataclass
class Features:
    """The output of ``SourceModel.forward``: ``values`` and, for sequences, a ``mask``."""

    values: torch.Tensor
    mask: torch.Tensor | None = None


@dataclass(frozen=True)
class Phase:
    """A stretch of training with one freeze plan, produced by a policy.

    * ``name``: shown in plans and logs (``"lp"``, ``"unfreeze-3"``).
    * ``start_epoch``: first epoch (0-based) of this phase; a phase lasts until the next one starts.
    * ``trainable``: names of blocks that train (``"head"`` included when the head trains).
    * ``lr_scale``: learning-rate multiplier per trainable block (missing blocks use 1.0);
      the block's learning rate is ``trainer.lr * lr_scale[block]``.
    * ``norm_mode``: behaviour of normalisation layers inside trainable blocks.
    * ``params``: which parameters train inside a trainable block (a block left out: all of them),
      as a tuple of selectors, any of which may match: ``"all"``; ``"bias"`` (parameters named
      ``bias``); ``"norm"`` (affine parameters of normalisation layers); ``"added"`` (what the
      policy's ``prepare`` added, e.g. adapters); or a name pattern (``fnmatch``) matched against
      the parameter's name in the model, such as ``"*.attention.*"``. ``{"layer3": ("bias",)}``
      trains only the biases of ``layer3``. A block in which nothing is selected counts as frozen.
    """

    name: str
    start_epoch: int
    trainable: frozenset[str]
    lr_scale: Mapping[str, float] = field(default_factory=dict)
    norm_mode: NormMode = NormMode.TRAIN
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class Examples(Protocol):
    """A map-style dataset: ``len(examples)`` and ``examples[i]`` (a list, or a torch ``Dataset``
    with ``__len__``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


@runtime_checkable
class SourceModel(Protocol):
    """A pretrained network without its original head, and what it needs to read raw input.

    An implementer provides:

    * ``name``: the resolved name, e.g. ``"timm:resnet50"``.
    * ``backbone``: the ``nn.Module`` that owns every parameter of the source.
    * ``blocks``: the block map, ordered from input to output, covering every parameter of
      ``backbone`` exactly once (see :class:`Block`).
    * ``output_spec``: a :class:`FeatureSpec` describing what ``forward`` returns.
    * ``preprocessor``: whatever turns raw examples into ``forward``'s inputs (an image transform,
      a tokenizer, an audio feature extractor); tasks use it in their datasets and collate.
    * ``forward(inputs)``: runs the backbone on collated inputs and returns :class:`Features`.
      It must call the block members through their ``__call__`` in block order so the engine can
      run a frozen prefix under ``torch.no_grad()``.
    * ``reinitialize(seed)``: replaces every weight with a fresh random initialisation (used by
      the ``scratch`` policy, the from-scratch baseline).
    * ``describe()``: a JSON-serialisable dict saved with the run (name, options, weights origin).

    Optional: ``default_lr`` (a float, or a property) — the AdamW rate at which the source's family
    fine-tunes a model of this size in a recipe-length run (5e-4 for ImageNet CNNs, 3e-5 × 768 /
    width for BERT-class encoders); when the experiment sets no ``trainer.lr`` it is scaled up for
    short runs and policies derive their default rates from it (``experiment/lr.py``).

    Optional: ``default_keep_frozen`` (a tuple of block names) — blocks that no policy trains unless
    the experiment sets ``policy.keep_frozen`` itself (wav2vec 2.0's feature encoder, by convention).
    ``adapter_targets`` (a tuple of ``fnmatch`` patterns over module names inside ``backbone``) —
    the layers the ``lora`` policy adapts by default (attention projections such as
    ``"*.query"``); without it, every ``Linear`` / ``Conv1d`` / ``Conv2d`` with ``groups=1``.

    Optional: ``save_for_inference(directory) -> dict`` writes what rebuilding this source's
    architecture and preprocessor needs (a config, a tokenizer, a feature extractor) into
    ``directory`` and returns a source section that rebuilds it from there without pretrained
    weights; ``{files}`` in the section's values stands for ``directory``. Saved with the run, it
    makes the run directory load on a machine without the original files. Without it a run
    loads its source from the experiment's own source section.
    """

    # read-only members: an instance attribute, a class attribute or a property satisfies each
    @property
    def name(self) -> str: ...

    @property
    def backbone(self) -> nn.Module: ...

    @property
    def blocks(self) -> Sequence[Block]: ...

    @property
    def output_spec(self) -> FeatureSpec: ...

    @property
    def preprocessor(self) -> Any: ...

    def forward(self, inputs: Any) -> Features: ...

    def reinitialize(self, seed: int) -> None: ...

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class SourceProvider(Protocol):
    """A scheme of source names (``timm`` in ``timm:resnet50``), contributed by a plugin.

    * ``scheme``: the part before the colon.
    * ``resolve(name, **options)``: builds the :class:`SourceModel` called ``name`` with the
      experiment's source options (``pretrained``, ``weights`` …). Raises ``LookupError`` for an
      unknown name and ``ValueError`` for a bad option, each saying what would be valid.
    * ``available()``: known names, used to suggest close matches (may be a partial list).

    Optional, for the contract kit (``headstart.testing``): ``contract_example(tmp_path)`` returns
    source sections (``{"name": "scheme:name", **options}``) small enough for a unit test.

    Several providers may share a scheme (the NLP and speech plugins both serve ``hf:``): they are
    tried in registration order, and a provider that raises ``LookupError`` passes the name on.
    """

    @property
    def scheme(self) -> str: ...

    def resolve(self, name: str, **options: Any) -> SourceModel: ...

    def available(self) -> Sequence[str]: ...


@runtime_checkable
class TargetTask(Protocol):
    """What the new model must learn: data, head, loss, metrics.

    An implementer provides:

    * ``prepare(source)``: reads the data (raising errors that name the file and line), builds
      vocabularies or label sets, and keeps the source's preprocessor for collate.
    * ``splits()``: the names of the available splits among ``train``, ``val``, ``test``.
    * ``dataset(split, train)``: a map-style dataset of raw examples for a split; ``train`` says
      whether training augmentation applies.
    * ``collate(examples)``: turns examples into a :data:`Batch` with ``inputs`` and ``targets``.
    * ``build_head(spec)``: a fresh head ``nn.Module`` taking :class:`Features`.
    * ``loss(outputs, batch)``: a scalar loss tensor from the head's outputs.
    * ``predictions(outputs, batch)``: ``(predictions, references)`` lists for the metrics.
    * ``metrics``: metric names (resolved through the registry); ``metrics[0]`` is the default
      for early stopping and "best" checkpoints.
    * ``summary()``: facts for ``summary.json`` (class counts, skipped files …).
    """

    @property
    def name(self) -> str: ...

    @property
    def metrics(self) -> Sequence[str]: ...

    def prepare(self, source: SourceModel) -> None: ...

    def splits(self) -> Sequence[str]: ...

    def dataset(self, split: str, train: bool) -> Examples: ...

    def collate(self, examples: list[Any]) -> Batch: ...

    def build_head(self, spec: FeatureSpec) -> nn.Module: ...

    def loss(self, outputs: Any, batch: Batch) -> torch.Tensor: ...

    def predictions(self, outputs: Any, batch: Batch) -> tuple[list[Any], list[Any]]: ...

    def summary(self) -> dict[str, Any]: ...


@runtime_checkable
class PredictingTask(Protocol):
    """A task whose trained model can be used without its training data: ``headstart predict``,
    ``headstart evaluate``, :func:`headstart.load` and ``headstart export`` work for it.

    * ``inference_state()``: after ``prepare``, everything inference needs that is not in the
      weights — label set, vocabulary, the task's preprocessing settings, head options — as a
      JSON-serialisable dict. It is saved in the run directory (``inference.json``).
    * ``restore(state, source)``: instead of ``prepare``: make the task ready for
      ``build_head`` and the methods below from a saved state, reading no data.
    * ``predict_example(raw)``: one raw input (a file path, a text, a dict of columns …) to what
      ``predict_collate`` takes; raises :class:`~headstart.DataError` naming the input when it is bad.
    * ``predict_collate(examples)``: a :data:`Batch` with ``inputs`` (no targets needed).
    * ``decode(outputs, batch, top_k)``: one JSON-serialisable dict per example, with names, not
      indices (``{"label": "cat", "score": 0.93, "top_k": [...]}``, ``{"transcript": …}``,
      ``{"entities": [...]}``).
    * ``labelled_dataset(data)``: a labelled set in the task's training format (the value a
      ``data`` split takes) as a dataset ``collate`` accepts, with the restored label set
      (``headstart evaluate``).
    """

    def inference_state(self) -> dict[str, Any]: ...

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None: ...

    def predict_example(self, raw: Any) -> Any: ...

    def predict_collate(self, examples: list[Any]) -> Batch: ...

    def decode(self, outputs: Any, batch: Batch, top_k: int = 1) -> list[dict[str, Any]]: ...

    def labelled_dataset(self, data: Any) -> Examples: ...


@runtime_checkable
class TransferPolicy(Protocol):
    """Which blocks (and which parameters in them) train when, at what learning rate, how
    normalisation behaves, what the policy adds to the model, and any penalty on the loss.

    Subclass :class:`headstart.Policy` (it provides the defaults) and override:

    * ``name``: the registered name (``"top-k"``).
    * ``phases(blocks, epochs)``: given the block names (input to output, ``"head"`` last) and
      the number of epochs, the phases in order; the first starts at epoch 0 and start epochs
      strictly increase.
    * ``prepare(model, seed)``: changes the :class:`~headstart.TransferModel` before the freeze
      engine fixes its optimizer group layout — adds adapter modules, re-initialises the source
      (the ``scratch`` baseline). Parameters it adds belong to the block whose member contains
      them, like any other, and a phase selects them with ``"added"`` (see :class:`Phase`).
      Called once per model, also when a run is rebuilt to resume or to load its checkpoint.
    * ``regularizer(model)``: a penalty (a scalar tensor) added to every training loss, or
      ``None``; L2-SP pulls weights towards their pretrained values this way. The policy may
      keep what it needs from the first call.

    Optional (``Policy`` provides the first): ``default_lr(source_lr) -> (lr, head_lr_scale)``, the
    rates used when the experiment sets no ``trainer.lr``; ``solver`` (``"lbfgs"`` or ``"sgd"``):
    with ``lbfgs``, a phase that trains only a linear head on cached features is one converged fit.
    """

    @property
    def name(self) -> str: ...  # read-only: a class attribute (ClassVar) satisfies it

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]: ...

    def prepare(self, model: Any, seed: int) -> None: ...

    def regularizer(self, model: Any) -> torch.Tensor | None: ...


#: Builds a task from the experiment's ``task`` options: ``factory(**options)``; usually the task's class.
TaskFactory = Callable[..., TargetTask]

#: Builds a policy from the experiment's ``policy`` options: ``factory(**options)``; usually a class.
PolicyFactory = Callable[..., TransferPolicy]

#: ``fn(predictions, references)``: one number, or several by name (precision / recall / f1).
MetricFn = Callable[[Sequence[Any], Sequence[Any]], float | Mapping[str, float]]


class DatasetReader(Protocol):
    """``read(path)``: the examples of one file (or folder), each a ``dict``."""

    def __call__(self, path: str | Path, /) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class TaskType:
    """A task contributed by a plugin: ``factory(**options)`` builds a :class:`TargetTask`.

    Optional, for the contract kit: ``factory.contract_example(tmp_path)`` returns
    ``{"source": {...}, "task": {...}}`` with tiny data it writes under ``tmp_path``.
    """

    name: str
    factory: TaskFactory
    description: str = ""


@dataclass(frozen=True)
class PolicyType:
    """A policy contributed by a plugin: ``factory(**options)`` builds a :class:`TransferPolicy`."""

    name: str
    factory: PolicyFactory
    description: str = ""


@dataclass(frozen=True)
class DatasetFormat:
    """A file format for examples: ``read(path)`` returns a list of examples.

    Each example is a ``dict``; readers add ``"_where"`` (``"file.csv:12"``) so tasks can name the
    file and line in their errors.
    """

    name: str
    read: DatasetReader
    description: str = ""


@dataclass(frozen=True)
class Metric:
    """A metric: ``fn(predictions, references) -> float`` (or several floats by name);
    ``higher_is_better`` orients it."""

    name: str
    fn: MetricFn
    higher_is_better: bool = True
    description: str = ""


@dataclass(frozen=True)
class LocalModel:
    """A local directory (or file) that stands in for a hub id, so the id works offline.

    ``id`` is the hub id (``"sentence-transformers/all-MiniLM-L6-v2"``), ``path`` where its files
    are (a Hugging Face directory, a checkpoint file), ``scheme`` the source scheme it is for,
    ``extras`` what else a loader needs to use the files as the hub's (``{"mean": …, "std": …}``).
    """

    id: str
    path: str
    scheme: str
    description: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)
