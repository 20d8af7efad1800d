"""docs/hooks.md documents every hook of hookspecs.py with its exact signature, and nothing else;
each hook's section is generated from its docstring (one source of truth), whose ``:param name:``
lines cover every argument.

Regenerate the sections after changing a hookspec: ``python tests/docs/test_hook_reference.py --write``.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from headstart import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("headstart_") and callable(getattr(hookspecs, n)))
PARAM = re.compile(r"^:param (\w+):\s*(.*)$")


def signature(func: Any) -> str:
    """``def name(arg: Type, ...) -> Ret`` as written in the hookspec (annotations as source text)."""
    sig = inspect.signature(func)

    def text(annotation: Any) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    params = ", ".join(f"{p.name}: {text(p.annotation)}" for p in sig.parameters.values())
    return f"def {func.__name__}({params}) -> {text(sig.return_annotation)}"


def parse_docstring(func: Any) -> tuple[str, dict[str, str]]:
    """The description and the ``:param name: text`` entries (continuation lines joined)."""
    lines = textwrap.dedent("\n".join(func.__doc__.strip().splitlines()[1:])).splitlines()
    first = func.__doc__.strip().splitlines()[0]
    text: list[str] = [first]
    params: dict[str, str] = {}
    current: str | None = None
    for line in lines:
        if match := PARAM.match(line):
            current = match.group(1)
            assert current not in params, f"{func.__name__}: two ':param {current}:' lines"
            params[current] = match.group(2)
        elif current is not None and line.startswith(" "):
            params[current] += " " + line.strip()
        else:
            current = None
            text.append(line)
    return "\n".join(text).strip(), params


def _markdown(rst: str) -> str:
    return rst.replace("``", "`")


def render(hook: str) -> str:
    """The ``### hook`` section of docs/hooks.md, from the hookspec's signature and docstring."""
    func = getattr(hookspecs, hook)
    description, params = parse_docstring(func)
    out = f"### {hook}\n\n```python\n{signature(func)}\n```\n\n{_markdown(description)}\n"
    if params:
        out += "\n" + "".join(f"* `{name}`: {_markdown(text)}\n" for name, text in params.items())
    return out + "\n"


def regenerate(markdown: str) -> str:
    """``markdown`` with every hook's section replaced by :func:`render`'s."""
    parts = re.split(r"(?=^#{2,3} )", markdown, flags=re.M)
    out = []
    for part in parts:
        title = part.partition("\n")[0].removeprefix("### ").strip()
        out.append(render(title) if part.startswith("### ") and title in HOOKS else part)
    return "".join(out)


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


@pytest.mark.parametrize("hook", HOOKS)
def test_every_argument_has_a_param_line(hook: str) -> None:
    func = getattr(hookspecs, hook)
    _, params = parse_docstring(func)
    arguments = list(inspect.signature(func).parameters)
    assert list(params) == arguments, f"{hook}: ':param' lines {list(params)} but arguments {arguments}"
    assert all(text.strip() for text in params.values()), f"{hook}: a ':param' line without text"


def test_hooks_md_sections_are_generated_from_the_docstrings() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text == regenerate(text), (
        "docs/hooks.md differs from hookspecs.py's docstrings; run `python tests/docs/test_hook_reference.py --write`"
    )


def test_a_changed_docstring_changes_the_generated_section() -> None:
    section = render("headstart_on_checkpoint")
    assert '* `kind`: `"last"` or `"best"`' in section and "```python\ndef headstart_on_checkpoint(" in section
    text = DOC.read_text(encoding="utf-8")
    edited = text.replace("Called after a checkpoint is completely written", "Called sometimes")
    assert edited != text and regenerate(edited) == text


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    DOC.write_text(regenerate(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {DOC}")
