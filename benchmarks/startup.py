"""Start-up: wall and CPU time of ``headstart --help`` (target ≤ 0.5 s), median of 5 runs.

Also reports whether the parser imported torch (it must not) and, for scale, the bare
interpreter's start-up. Prints one JSON line.
"""

from __future__ import annotations

import json
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


def main() -> None:
    help_runs = [timed([sys.executable, "-m", "headstart", "--help"]) for _ in range(5)]
    bare_runs = [timed([sys.executable, "-c", "pass"]) for _ in range(5)]
    probe = "import sys; from headstart.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    torch_loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "help_wall_s": round(statistics.median(w for w, _ in help_runs), 3),
                "help_cpu_s": round(statistics.median(c for _, c in help_runs), 3),
                "python_wall_s": round(statistics.median(w for w, _ in bare_runs), 3),
                "parser_imports_torch": torch_loaded.stdout.strip() == "True",
                "machine": f"{platform.machine()} python {platform.python_version()}",
            }
        )
    )


if __name__ == "__main__":
    main()
