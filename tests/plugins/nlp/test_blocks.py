"""Block maps of every BERT family: embeddings, one block per layer, pooler in the last block."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headstart import BlockMapError, get_registry, resolve_blocks
from headstart.testing import check_forward
from headstart_nlp.blocks import text_blocks
from headstart_nlp.tiny import save_tiny_encoder

#: family -> (blocks, members expected in the embeddings block, members expected in the last block)
FAMILIES = {
    "bert": (3, {"embeddings"}, {"encoder.layer.1", "pooler"}),
    "roberta": (3, {"embeddings"}, {"encoder.layer.1", "pooler"}),
    "distilbert": (3, {"embeddings"}, {"transformer.layer.1"}),
    "albert": (2, {"embeddings", "encoder.embedding_hidden_mapping_in"}, {"encoder.albert_layer_groups.0", "pooler"}),
    "electra": (3, {"embeddings", "embeddings_project"}, {"encoder.layer.1"}),
    "deberta": (3, {"embeddings", "encoder.rel_embeddings.weight"}, {"encoder.layer.1"}),
    "deberta-v2": (3, {"embeddings", "encoder.LayerNorm", "encoder.rel_embeddings.weight"}, {"encoder.layer.1"}),
}


@pytest.fixture(scope="module")
def family_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {f: save_tiny_encoder(root / f, f) for f in FAMILIES}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_block_map_of_every_family(family: str, family_dirs: dict[str, Path]) -> None:
    source = get_registry().source(f"hf:{family_dirs[family]}")
    n, first, last = FAMILIES[family]
    names = [b.name for b in source.blocks]
    assert names == ["embeddings"] + [f"layer{i}" for i in range(n - 1)]
    assert set(source.blocks[0].members) == first
    assert set(source.blocks[-1].members) == last
    infos = resolve_blocks(source.backbone, source.blocks)  # every parameter exactly once
    assert sum(b.numel for b in infos) == sum(p.numel() for p in source.backbone.parameters())
    assert all(b.params for b in infos)
    enc = dict(source.preprocessor(["the good movie", "bad"], padding=True, return_tensors="pt"))
    check_forward(source, enc)  # members are called in block order


def test_extra_modules_are_placed_by_when_they_run(family_dirs: dict[str, Path]) -> None:
    source = get_registry().source(f"hf:{family_dirs['deberta-v2']}")
    blocks = {b.name: b.members for b in source.blocks}
    assert blocks["layer0"] == ("encoder.layer.0", "encoder.conv")  # DeBERTa-v2 runs its conv after layer 0
    # the member run last in the embeddings block is a module that is called (the no-grad hook's exit)
    assert blocks["embeddings"][:2] == ("embeddings", "encoder.LayerNorm")


def test_minilm_has_embeddings_six_layers_and_the_pooler_last() -> None:
    source = get_registry().source("hf:sentence-transformers/all-MiniLM-L6-v2")
    assert [b.name for b in source.blocks] == ["embeddings", *(f"layer{i}" for i in range(6))]
    assert source.blocks[-1].members == ("encoder.layer.5", "pooler")


def test_a_model_without_embeddings_or_layers_is_an_error_naming_its_class() -> None:
    from transformers import GPT2Config, GPT2Model

    gpt2 = GPT2Model(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50, n_positions=16))
    with pytest.raises(BlockMapError, match=r"GPT2Model.*no 'embeddings' sub-module"):
        text_blocks(gpt2)

    class NoLayers(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = torch.nn.Embedding(10, 4)
            self.body = torch.nn.Linear(4, 4)

    with pytest.raises(BlockMapError, match="transformer layers of NoLayers"):
        text_blocks(NoLayers())
