"""Core has no import cycle: each module imports alone in a fresh interpreter, and the import
graph of core (every import: module level, inside functions, under ``TYPE_CHECKING``) is acyclic."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import headstart

CORE = Path(headstart.__file__).parent


def _modules() -> dict[str, Path]:
    """Every module of core by dotted name (packages by their own name)."""
    out = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The core modules that ``name`` imports anywhere in its text."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # ``from pkg import sub`` imports the submodule; ``from pkg import name`` the package
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_walk_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from . import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n")
    modules = {"pkg": pkg / "__init__.py", "pkg.a": pkg / "a.py", "pkg.b": pkg / "b.py"}
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert _cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]


def test_core_has_no_import_cycle() -> None:
    modules = _modules()
    assert {"headstart.registry", "headstart.plugins", "headstart.engine.loop"} <= set(modules)
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "headstart.plugins" in graph["headstart.registry"]  # the walk sees real edges
    cycle = _cycle(graph)
    assert cycle is None, "import cycle in core: " + " -> ".join(cycle or [])


# Third-party libraries are imported once; then each core module is imported in a child forked
# before any headstart module was loaded, so it is the first headstart module of its interpreter.
_ALONE = textwrap.dedent(
    """
    import os, random, sys, traceback
    import numpy, pluggy, pytest, safetensors.torch, torch, tqdm.auto, yaml  # third party: paid for once
    import decimal, resource, shlex, sysconfig, venv  # standard library modules core imports
    names = sys.argv[1:]
    random.Random(17).shuffle(names)
    assert not [m for m in sys.modules if m.split(".")[0] == "headstart"]
    failed = running = 0
    for name in names:
        if running == 2:  # two children at a time (CI has 2 cores); each is still alone in its process
            failed += os.wait()[1] != 0
            running -= 1
        pid = os.fork()
        if pid == 0:
            try:
                __import__(name)
            except BaseException:
                print(f"import {name} alone failed:", traceback.format_exc(limit=-3), file=sys.stderr)
                os._exit(1)
            os._exit(0)
        running += 1
    for _ in range(running):
        failed += os.wait()[1] != 0
    print(f"{len(names) - failed} of {len(names)} imported alone")
    """
)


def test_each_core_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = [m for m in _modules() if m != "headstart.__main__"]  # __main__ runs the command
    done = subprocess.run(
        [sys.executable, "-c", _ALONE, *names], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.stdout.strip() == f"{len(names)} of {len(names)} imported alone", done.stderr
