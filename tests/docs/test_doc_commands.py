"""Every ``headstart`` command shown in README.md and docs/*.md is extracted and checked, so a
documented command cannot rot: each parses with the real parser, names files that exist, and its
experiment (with its ``--set`` overrides) builds its policy and task; the quick ones run as
written in a fresh folder (``slow``: they train).

Not run here, and why: ``make demo`` / ``make test`` (this suite is inside them), multi-node
``torchrun``, ``pip install``, and commands run inside a plugin scaffold (``experiment.yaml``
exists there, see docs/writing-plugins.md, whose scaffold has its own test).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from headstart.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: files that exist only where the doc says they do (a generated plugin's folder)
ELSEWHERE = {"experiment.yaml"}


def documented_commands() -> list[tuple[str, str]]:
    """``(where, command)`` for each ``headstart …`` line of a shell block (continuations joined,
    comments and a leading ``$`` or ``.venv/bin/`` dropped, environment assignments kept out)."""
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in re.findall(r"```(?:sh|bash|console|shell)\n(.*?)```", text, flags=re.S):
            joined = re.sub(r"\\\n\s*", " ", block)
            for n, line in enumerate(joined.splitlines()):
                line = re.sub(r"\s+#.*$", "", line.strip()).removeprefix("$ ").strip()
                line = re.sub(r"^(\w+=\S+\s+)+", "", line)  # HEADSTART_TRACE_HOOKS=1 headstart …
                line = line.removeprefix(".venv/bin/")
                if line.startswith("headstart "):
                    out.append((f"{doc.relative_to(ROOT)}:{n + 1}", line))
    return out


COMMANDS = documented_commands()


def _argv(command: str) -> list[str]:
    """The arguments after ``headstart``; a placeholder the reader fills in (``<the run
    directory>``) becomes one argument, ``PLACEHOLDER``."""
    return shlex.split(re.sub(r"<[^>]*>", "PLACEHOLDER", command))[1:]


def test_commands_are_found() -> None:
    assert len(COMMANDS) >= 20
    assert any("policy.name=top-k" in c for _, c in COMMANDS)  # the README's own example


@pytest.mark.parametrize("where,command", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_is_valid(where: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from headstart.experiment import load_config
    from headstart.experiment.build import build_policy, build_task

    monkeypatch.chdir(ROOT)
    argv = _argv(command)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `{command}` does not parse")
    for a in argv:
        if a.startswith("examples/") and a not in ELSEWHERE:
            assert (ROOT / a).exists(), f"{where}: `{command}` names {a}, which does not exist"
    experiment = getattr(args, "experiment", None)
    if args.command in ("run", "plan", "rank") and experiment and experiment not in ELSEWHERE:
        config = load_config(experiment, args.set)
        build_policy(config)  # options of the policy after the overrides
        build_task(config)


#: commands that run as written in seconds (toy plugin, inspection, after-training on the toy run)
QUICK = re.compile(r"toy-mlp|toy-points|toy-labelled|runs/toy\b|^headstart plugins|^headstart new-plugin")


@pytest.mark.slow
def test_quick_documented_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = 0
    for where, command in COMMANDS:
        if not QUICK.search(command):
            continue
        folder = tmp_path / where.split(":")[0].replace("/", "_")  # a fresh folder per page, as a reader has
        if not folder.exists():
            folder.mkdir()
            os.symlink(ROOT / "examples", folder / "examples")
        monkeypatch.chdir(folder)
        argv = _argv(command)
        if "PLACEHOLDER" in " ".join(argv):  # README: --resume runs/<the run directory>
            runs = sorted(p for p in (folder / "runs").iterdir() if (p / "config.yaml").is_file())
            argv = ["run", "--resume", str(runs[-1])]
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, f"{where}: `{command}` exited {code}\n{out.err[-2000:]}"
        ran += 1
    assert ran >= 13
