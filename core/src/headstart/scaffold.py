"""``headstart new-plugin NAME --kind domain|policy|source``: a ready plugin distribution.

The files come from the templates in ``headstart/templates/`` (``string.Template`` with
``${name}``-style fields). What is written, for a plugin called ``demo``::

    headstart-demo/
      pyproject.toml                 entry point [project.entry-points.headstart] demo = "headstart_demo.plugin"
      README.md
      src/headstart_demo/__init__.py
      src/headstart_demo/plugin.py   the hook implementations
      src/headstart_demo/policy.py   (policy)  a working policy named ``demo``
      src/headstart_demo/sources.py  (source, domain)  a provider for ``demo:mlp``
      src/headstart_demo/tasks.py    (domain)  a CSV task ``demo-classification``
      tests/test_plugin.py           contract-kit tests, and "listed by headstart plugins"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from . import __version__

KINDS = ("domain", "policy", "source")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

#: kind -> {path in the distribution (with {package}): template under headstart/templates}
_FILES: dict[str, dict[str, str]] = {
    "policy": {
        "src/{package}/plugin.py": "policy/plugin.py.tmpl",
        "src/{package}/policy.py": "policy/policy.py.tmpl",
        "tests/test_plugin.py": "policy/test_plugin.py.tmpl",
    },
    "source": {
        "src/{package}/plugin.py": "source/plugin.py.tmpl",
        "src/{package}/sources.py": "source/sources.py.tmpl",
        "tests/test_plugin.py": "source/test_plugin.py.tmpl",
    },
    "domain": {
        "src/{package}/plugin.py": "domain/plugin.py.tmpl",
        "src/{package}/sources.py": "domain/sources.py.tmpl",
        "src/{package}/tasks.py": "domain/tasks.py.tmpl",
        "tests/test_plugin.py": "domain/test_plugin.py.tmpl",
    },
}
_COMMON = {
    "pyproject.toml": "common/pyproject.toml.tmpl",
    "README.md": "common/README.md.tmpl",
    "src/{package}/__init__.py": "common/__init__.py.tmpl",
}
_LAYOUT = {
    "policy.py": "the policy: which blocks train in which phase",
    "sources.py": "the source provider and source model",
    "tasks.py": "the task: data, head, loss, metrics",
}
_DESCRIPTIONS = {
    "policy": "Headstart transfer policy {name!r}",
    "source": "Headstart source models {name}:…",
    "domain": "Headstart domain plugin {name!r}: sources {name}:… and task {name}-classification",
}


class ScaffoldError(ValueError):
    """A plugin name, kind or target directory that cannot be used."""


@dataclass(frozen=True)
class PluginNames:
    """Every name derived from the plugin name ``demo``."""

    name: str  # entry-point name, policy name, source scheme: demo
    dist: str  # headstart-demo
    package: str  # headstart_demo
    cls: str  # Demo
    task: str  # demo-classification

    @classmethod
    def from_name(cls, name: str) -> PluginNames:
        if not NAME_RE.match(name):
            raise ScaffoldError(
                f"plugin name {name!r} is not valid: use lowercase letters and digits, starting with a letter, "
                "optionally joined by '-' or '_' (e.g. 'timeseries', 'l2-sp')"
            )
        words = re.split(r"[-_]", name)
        return cls(
            name=name,
            dist=f"headstart-{'-'.join(words)}",
            package=f"headstart_{'_'.join(words)}",
            cls="".join(w.capitalize() for w in words),
            task=f"{name}-classification",
        )


def _template(path: str) -> Template:
    return Template(resources.files("headstart").joinpath("templates", path).read_text(encoding="utf-8"))


def render(name: str, kind: str) -> dict[str, str]:
    """The files of a new plugin, ``{relative path: text}``, without writing anything."""
    if kind not in KINDS:
        raise ScaffoldError(f"kind {kind!r} is not valid; valid kinds: {', '.join(KINDS)}")
    n = PluginNames.from_name(name)
    files = {**_COMMON, **_FILES[kind]}
    layout = "\n".join(
        f"src/{n.package}/{module}   {what}"
        for module, what in _LAYOUT.items()
        if module in {Path(p).name for p in files}
    )
    fields = {
        "name": n.name,
        "dist": n.dist,
        "package": n.package,
        "cls": n.cls,
        "task": n.task,
        "kind": kind,
        "headstart_version": __version__,
        "description": _DESCRIPTIONS[kind].format(name=n.name),
        "layout": layout,
    }
    fields["usage"] = _template(f"{kind}/usage.md.tmpl").substitute(fields).strip()
    return {path.format(package=n.package): _template(tmpl).substitute(fields) for path, tmpl in files.items()}


def new_plugin(name: str, kind: str = "domain", directory: Path | None = None) -> Path:
    """Write a new plugin distribution into ``directory`` (default: ``./headstart-NAME``);
    refuse to write into a non-empty directory. Returns the directory."""
    files = render(name, kind)
    target = Path(directory) if directory is not None else Path.cwd() / PluginNames.from_name(name).dist
    if target.exists() and any(target.iterdir()):
        raise ScaffoldError(f"{target} already exists and is not empty; choose another directory with --output")
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
