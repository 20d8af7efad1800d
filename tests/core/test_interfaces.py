from __future__ import annotations

import pytest

from headstart import Block, FeatureSpec, SourceModel, SourceProvider, get_registry


def test_blocks_and_specs_validate_themselves() -> None:
    with pytest.raises(ValueError, match="no members"):
        Block("stem", ())
    with pytest.raises(ValueError, match="'vector' or 'sequence'"):
        FeatureSpec("image", 8)
    with pytest.raises(ValueError, match="positive"):
        FeatureSpec("vector", 0)


def test_the_toy_plugin_satisfies_the_protocols() -> None:
    provider = get_registry().providers_for("toy")[0]
    assert isinstance(provider, SourceProvider)
    assert isinstance(provider.resolve("mlp"), SourceModel)
