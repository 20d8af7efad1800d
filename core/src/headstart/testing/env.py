"""A throw-away environment to install a plugin distribution into, for testing it as users get it.

:class:`PluginEnv` is a virtual environment layered over the current one: it sees every package
installed here (torch, headstart, other plugins) but installs go into its own ``site-packages``.
``pip install -e`` a plugin into it and the plugin's entry points are visible only to processes
started with :attr:`PluginEnv.python`; the current environment (and anyone else using it) is
untouched, and deleting the directory uninstalls everything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import ContractError


def _can_build_without_isolation() -> bool:
    """True when setuptools here can build an editable wheel itself (no index needed)."""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if (major, minor) >= (70, 1):  # bdist_wheel moved into setuptools
        return True
    try:
        import wheel  # noqa: F401
    except ImportError:
        return False
    return major >= 64  # editable wheels (PEP 660)


class PluginEnv:
    """A virtual environment at ``root`` that sees the current environment's packages."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(self.root)
        purelib = sysconfig.get_path("purelib", vars={"base": str(self.root), "platbase": str(self.root)})
        self.site_packages = Path(purelib)
        parents = [p for p in dict.fromkeys(_site_dirs()) if Path(p).is_dir()]
        lines = [f"import site; site.addsitedir({p!r})" for p in parents]
        (self.site_packages / "_headstart_parent_env.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
        bindir = "Scripts" if os.name == "nt" else "bin"
        self.python = str(self.root / bindir / ("python.exe" if os.name == "nt" else "python"))

    def run(
        self, args: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python *args`` in this environment; output is captured as text."""
        full_env = {**os.environ, **(env or {})}
        full_env.pop("PYTHONPATH", None)
        return subprocess.run(
            [self.python, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def check(self, args: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
        """Like :meth:`run`, but raise :class:`ContractError` with the output when it fails."""
        proc = self.run(args, cwd, env)
        if proc.returncode != 0:
            raise ContractError(
                f"`python {' '.join(args)}` failed with exit code {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc.stdout

    def install_editable(self, *projects: Path) -> str:
        """``pip install -e project`` for each project, in one pip run (no dependencies: they are in
        the parent environment)."""
        editables = [a for p in projects for a in ("-e", str(p))]
        args = ["-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q", *editables]
        if _can_build_without_isolation():
            args.insert(3, "--no-build-isolation")
        return self.check(args)


def _site_dirs() -> list[str]:
    import site

    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return dirs or [p for p in sys.path if p.endswith("site-packages")]
