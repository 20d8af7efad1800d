"""Exports of a vision run, each loaded by the other ecosystem's own loader and compared with
Headstart's outputs (max abs diff <= 1e-4, fp32): timm, torchvision, ONNX (onnxruntime), torch.export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import headstart
from headstart import ConfigError, parse_config, run_experiment
from headstart.export import export

from .conftest import config as vision_config_dict
from .conftest import write_tree

TOL = 1e-4


def _run(root: Path, source: dict[str, object], **task: object) -> Path:
    data = root / "images"
    if not data.exists():
        write_tree(data / "train", {"red": 4, "green": 4, "blue": 4}, seed=0)
    config = vision_config_dict(
        str(data / "train"), output_dir=str(root / "runs"), trainer={"epochs": 1, "batch_size": 3}
    )
    config["source"] = source
    config["task"] = {**config["task"], "split": {"val": 0.25}, **task}
    config["policy"] = {"name": "full"}
    return run_experiment(parse_config(config))[0]


@pytest.fixture(scope="module")
def timm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("timm"), {"name": "timm:test_resnet", "pretrained": False})


def _images(n: int, size: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(n))


def test_timm_export_loads_with_timms_own_loaders(timm_run: Path) -> None:
    import timm

    folder = export(timm_run, "timm")
    predictor = headstart.load(timm_run, device="cpu")
    x = _images(3)
    with torch.no_grad():
        ours = predictor.model(x)
    local = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    overlay = timm.create_model(
        "test_resnet",
        pretrained=True,
        num_classes=3,
        pretrained_cfg_overlay={"file": str(folder / "model.safetensors"), "num_classes": 3},
    ).eval()
    with torch.no_grad():
        assert float((local(x) - ours).abs().max()) <= TOL
        assert float((overlay(x) - ours).abs().max()) <= TOL
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["num_classes"] == 3 and cfg["label_names"] == ["blue", "green", "red"]
    assert cfg["pretrained_cfg"]["input_size"] == [3, 32, 32]  # the task's image size, not 224
    data_cfg = timm.data.resolve_data_config({}, model=local)
    assert data_cfg["input_size"] == (3, 32, 32) and tuple(data_cfg["mean"]) == tuple(predictor.task.preprocessor.mean)
    assert json.loads((folder / "export.json").read_text())["max_abs_diff"] <= TOL


def test_onnx_export_runs_in_onnxruntime_with_any_batch_size(timm_run: Path) -> None:
    import onnxruntime as ort

    folder = export(timm_run, "onnx", tmp := timm_run.parent / "onnx-out")
    assert folder == tmp
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    predictor = headstart.load(timm_run, device="cpu")
    for n in (1, 5):
        x = _images(n)
        (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        with torch.no_grad():
            assert np.abs(got - predictor.model(x).numpy()).max() <= TOL


def test_torch_export_program_loads_back(timm_run: Path) -> None:
    folder = export(timm_run, "torch-export")
    program = torch.export.load(str(folder / "model.pt2")).module()
    predictor = headstart.load(timm_run, device="cpu")
    x = _images(4)
    with torch.no_grad():
        assert float((program(x) - predictor.model(x)).abs().max()) <= TOL


def test_torchvision_export_loads_with_the_constructor(tmp_path: Path) -> None:
    from torchvision import models

    run_dir = _run(tmp_path, {"name": "torchvision:mobilenet_v3_small", "pretrained": False})
    folder = export(run_dir, "torchvision")
    model = models.get_model("mobilenet_v3_small", num_classes=3)
    model.load_state_dict(torch.load(folder / "model.pth", weights_only=True))
    model.eval()
    predictor = headstart.load(run_dir, device="cpu")
    x = _images(2)
    with torch.no_grad():
        assert float((model(x) - predictor.model(x)).abs().max()) <= TOL
    assert json.loads((folder / "labels.json").read_text()) == ["blue", "green", "red"]
    assert json.loads((folder / "preprocess.json").read_text())["crop"] == 32


def test_unknown_format_and_mlp_head_are_clear_errors(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, {"name": "timm:test_resnet", "pretrained": False}, head="mlp", hidden=8)
    with pytest.raises(ConfigError, match="valid formats for this run"):
        export(run_dir, "tflite")
    with pytest.raises(ConfigError, match="linear head"):
        export(run_dir, "timm")
    shutil.rmtree(run_dir / "export", ignore_errors=True)


def test_lora_adapters_are_merged_into_the_timm_export(timm_run: Path, tmp_path: Path) -> None:
    import timm
    from peft import LoraConfig, inject_adapter_in_model

    predictor = headstart.load(timm_run, device="cpu")
    config = LoraConfig(r=2, lora_alpha=4, target_modules=r".*layer\d\.\d\.conv\d", init_lora_weights=False)
    inject_adapter_in_model(config, predictor.model.backbone)
    x = _images(3)
    with torch.no_grad():
        with_adapters = predictor.model(x)
    assert any("lora_A" in k for k in predictor.model.state_dict())
    folder = export(predictor, "timm", tmp_path / "timm")
    record = json.loads((folder / "export.json").read_text())
    assert record["adapters_merged"] > 0 and record["merge_max_abs_diff"] <= TOL
    model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    assert not any("lora" in k or "base_layer" in k for k in model.state_dict())
    with torch.no_grad():
        assert float((model(x) - with_adapters).abs().max()) <= TOL
