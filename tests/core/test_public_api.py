"""The public API (``headstart/__init__.py``) is lazy; its three lists of names must agree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import headstart

INIT = Path(headstart.__file__)


def _type_checking_imports() -> dict[str, str]:
    """name -> relative module, read from the ``if TYPE_CHECKING:`` block of ``__init__.py``."""
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    names: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        for alias in node.names:
            names[alias.asname or alias.name] = "." * node.level + (node.module or "")
    return names


def test_exports_type_checking_imports_and_all_agree() -> None:
    assert _type_checking_imports() == headstart._EXPORTS
    assert set(headstart.__all__) == set(headstart._EXPORTS) | {"__version__"}


def test_every_public_name_resolves_to_its_module_object() -> None:
    import importlib

    for name, module in headstart._EXPORTS.items():
        expected = getattr(importlib.import_module(module, "headstart"), name)
        assert getattr(headstart, name) is expected, name
    assert set(headstart.__all__) <= set(dir(headstart))


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        headstart.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("headstart.no_such_name resolved")


def test_import_headstart_does_not_import_torch() -> None:
    code = "import sys, headstart; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
