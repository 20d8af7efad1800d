"""docs/python-api.md runs as written: its Python blocks, in order, in one namespace, in a fresh
folder that has the repository's examples/ (offline, CPU)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python-api.md"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_the_page_has_examples() -> None:
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    text = "\n".join(blocks)
    for api in ("headstart.run(", "headstart.load(", ".predict(", ".evaluate(", "headstart.add_callback("):
        assert api in text, f"docs/python-api.md shows no {api}"
    for api in ("headstart.export_run(", "headstart.ExportError"):
        assert api in text, f"docs/python-api.md shows no {api}"


@pytest.mark.slow
def test_python_api_page_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    os.symlink(ROOT / "examples", tmp_path / "examples")
    namespace: dict[str, object] = {"__name__": "python_api_doc"}
    for i, block in enumerate(python_blocks(DOC.read_text(encoding="utf-8"))):
        try:
            exec(compile(block, f"docs/python-api.md block {i + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"docs/python-api.md block {i + 1} failed: {exc!r}\n{block}") from exc
    out = capsys.readouterr().out
    assert "-> pos" in out and "epoch 3: train loss" in out
    assert (tmp_path / "runs" / "sentiment" / "data" / "train.csv").is_file()
