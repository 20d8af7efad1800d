"""Nothing but Headstart's own lines on stderr: torch's warnings about its own internals (which a
user can neither act on nor silence) are not printed around an export."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from headstart.cli import main


def test_an_export_prints_no_torch_warning(
    experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert main(["run", str(experiment), "--run-dir", str(run_dir), "--set", "trainer.epochs=1"]) == 0
    for to in ("onnx", "torch-export"):
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # as a fresh `headstart` process shows each one
            assert main(["export", str(run_dir), "--to", to, "--out", str(tmp_path / to)]) == 0
        assert [f"{w.category.__name__}: {w.message}" for w in caught] == [], to
        assert capsys.readouterr().err == "", to
