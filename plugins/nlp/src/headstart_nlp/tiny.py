"""Tiny random encoders saved in exactly the on-disk format the hub serves.

For tests and contract examples: a WordPiece tokenizer over a small vocabulary (whole words,
letters and ``##`` continuation pieces, so unknown words split into several sub-tokens) and a
randomly initialised model of a few thousand parameters, written with ``save_pretrained`` so
``hf:<directory>`` loads them through the same code path as a hub model.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

#: Whole words of the tiny vocabulary; any other word is spelt with letter pieces.
WORDS = (
    "the a an is was and or not no yes very good great fine bad awful poor movie film plot actor "
    "story love hate like boring fun dull it this that of in on to he she they we you i "
    "paris london berlin john mary acme corp visited works for lives"
).split()

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def vocabulary() -> list[str]:
    """Specials, whole words, single characters and their ``##`` continuations."""
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    return [*SPECIALS, *WORDS, *chars, *(f"##{c}" for c in string.ascii_lowercase + string.digits)]


def tiny_tokenizer(max_length: int = 64) -> Any:
    """A BERT-style WordPiece tokenizer (lower-casing, ``[CLS] a [SEP] b [SEP]``) as a
    transformers (fast, ``tokenizers``-backed) tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizer

    vocab = {t: i for i, t in enumerate(vocabulary())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return BertTokenizer(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def tiny_config(family: str = "bert", vocab_size: int | None = None, layers: int = 2, hidden: int = 16) -> Any:
    """A tiny config of ``family`` (``bert``, ``distilbert``, ``roberta``, ``albert``, ``electra``,
    ``deberta``, ``deberta-v2``)."""
    from transformers import AutoConfig

    vocab_size = vocab_size or len(vocabulary())
    common: dict[str, Any] = {"vocab_size": vocab_size, "max_position_embeddings": 64, "pad_token_id": 0}
    if family == "distilbert":
        return AutoConfig.for_model(
            "distilbert", dim=hidden, n_layers=layers, n_heads=2, hidden_dim=2 * hidden, **common
        )
    sizes = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "intermediate_size": 2 * hidden,
    }
    extras: dict[str, dict[str, Any]] = {
        "albert": {"embedding_size": hidden // 2},
        "electra": {"embedding_size": hidden // 2},
        "deberta": {"relative_attention": True, "max_relative_positions": 16},
        "deberta-v2": {
            "relative_attention": True,
            "position_buckets": 8,
            "norm_rel_ebd": "layer_norm",
            "conv_kernel_size": 3,
            "pos_att_type": ["p2c", "c2p"],
        },
    }
    extra = extras.get(family, {})
    return AutoConfig.for_model(family, **common, **sizes, **extra)


def save_tiny_encoder(directory: str | Path, family: str = "bert", seed: int = 0, **config: Any) -> Path:
    """Write a tiny random ``family`` encoder and the tiny tokenizer to ``directory`` with
    ``save_pretrained``; returns the directory."""
    import torch
    from transformers import AutoModel

    directory = Path(directory)
    cfg = tiny_config(family, **config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(cfg)  # type: ignore[no-untyped-call]
    model.save_pretrained(directory)
    tiny_tokenizer(cfg.max_position_embeddings).save_pretrained(directory)
    return directory
