"""docs/hooks.md documents every hook of hookspecs.py with its exact signature, and nothing else."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from headstart import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("headstart_") and callable(getattr(hookspecs, n)))


def signature(func: Any) -> str:
    """``def name(arg: Type, ...) -> Ret`` as written in the hookspec (annotations as source text)."""
    sig = inspect.signature(func)

    def text(annotation: Any) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    params = ", ".join(f"{p.name}: {text(p.annotation)}" for p in sig.parameters.values())
    return f"def {func.__name__}({params}) -> {text(sig.return_annotation)}"


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def documented() -> dict[str, str]:
    """Hook name -> the first line of the first code block in its ``### hook_name`` section."""
    found: dict[str, str] = {}
    for section in re.split(r"^### ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title, _, body = section.partition("\n")
        blocks = code_blocks(body.split("\n## ")[0])
        if title.strip().startswith("headstart_") and blocks:
            found[title.strip()] = blocks[0].strip().splitlines()[0]
    return found


def test_hookspecs_found() -> None:
    assert len(HOOKS) >= 14 and "headstart_on_step_end" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_documented_with_its_signature(hook: str) -> None:
    expected = signature(getattr(hookspecs, hook))
    docs = documented()
    assert hook in docs, f"docs/hooks.md does not document {hook}; add a '### {hook}' section with:\n{expected}"
    assert docs[hook] == expected, f"docs/hooks.md has\n  {docs[hook]}\nbut hookspecs.py says\n  {expected}"


def test_no_documented_hook_is_stale() -> None:
    stale = sorted(set(documented()) - set(HOOKS))
    assert not stale, f"docs/hooks.md documents hooks that hookspecs.py does not define: {stale}"


def test_signature_format_catches_a_changed_argument() -> None:
    def headstart_on_step_end(run: RunContext, step: int) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    assert signature(headstart_on_step_end) != documented()["headstart_on_step_end"]
