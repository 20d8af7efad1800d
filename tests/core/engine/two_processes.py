"""Run several ``headstart run`` commands one after another in each process of one torchrun launch:
``python -m torch.distributed.run --nproc-per-node 2 two_processes.py '[["run", …], …]'``.

Starting Python, importing torch and joining the gloo group cost far more than a toy run, so the
engine tests train all their 2-process cases in one launch (``conftest.two_process_runs``). The
process group stays up between the commands (``headstart run`` shuts it down when it ends, and
a second init in the same processes is not what is tested); it is shut down at the end.
``headstart run --nproc 2`` itself (the launch) runs as written in tests/docs/test_doc_commands.py.
"""

from __future__ import annotations

import json
import sys

from headstart.cli import main
from headstart.engine import distributed as ddp


def run_all(commands: list[list[str]]) -> int:
    shutdown = ddp.shutdown
    ddp.shutdown = lambda wait=True: None  # type: ignore[assignment]
    finished = False  # every command exited 0: only then wait for the peer at the barrier
    try:
        for argv in commands:
            code = main(argv)
            if code:
                print(f"`headstart {' '.join(argv)}` exited {code}", file=sys.stderr)
                return code
        finished = True
        return 0
    finally:
        ddp.shutdown = shutdown  # type: ignore[assignment]
        shutdown(wait=finished)


if __name__ == "__main__":
    sys.exit(run_all(json.loads(sys.argv[1])))
