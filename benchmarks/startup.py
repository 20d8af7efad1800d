"""Start-up: wall and CPU time of ``headstart --help`` (target ≤ 0.5 s), ``headstart plugins``
and ``headstart plan`` on the toy example, median of 5 runs each (interleaved).

Also reports whether the parser imported torch (it must not), which heavy libraries ``headstart
plugins`` imports (none should: each plugin imports timm, torchvision, transformers or
torchaudio only when it builds a source or a task), and, for scale, the bare interpreter's and a
bare ``import torch``'s start-up — the floor of any command that loads the plugins. Prints one
JSON line.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


TOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "toy-mlp.yaml")
COMMANDS = {
    "help": [sys.executable, "-m", "headstart", "--help"],
    "plugins": [sys.executable, "-m", "headstart", "plugins"],
    "plan": [sys.executable, "-m", "headstart", "plan", TOY],
    "import_torch": [sys.executable, "-c", "import torch"],
    "python": [sys.executable, "-c", "pass"],
}
HEAVY = ("torchvision", "timm", "transformers", "torchaudio", "peft", "torch.distributed.fsdp")


def heavy_imports(argv: list[str]) -> list[str]:
    """The heavy libraries a ``headstart`` command imports (run in a child process)."""
    probe = (
        "import sys, runpy, contextlib, io\n"
        f"sys.argv = ['headstart', *{argv!r}]\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        runpy.run_module('headstart', run_name='__main__')\n"
        "    except SystemExit:\n        pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return [m for m in out.strip().splitlines()[-1].split(",") if m] if out.strip() else []


def main() -> None:
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(5):
        for name, args in COMMANDS.items():
            runs[name].append(timed(args))
    probe = "import sys; from headstart.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    torch_loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    figures: dict[str, object] = {}
    for name, measured in runs.items():
        figures[f"{name}_wall_s"] = round(statistics.median(w for w, _ in measured), 3)
        figures[f"{name}_cpu_s"] = round(statistics.median(c for _, c in measured), 3)
    print(
        json.dumps(
            {
                "benchmark": "startup",
                **figures,
                "parser_imports_torch": torch_loaded.stdout.strip() == "True",
                "plugins_imports": heavy_imports(["plugins"]),
                "machine": f"{platform.machine()} python {platform.python_version()}",
            }
        )
    )


if __name__ == "__main__":
    main()
