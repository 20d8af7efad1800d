"""Fault injection for the reliability suite: a child process that dies (or fails) at a chosen call.

A fault is ``CALL:N[:ACTION]``: at the N-th call (1-based) of ``CALL`` whose path lies under the
watched directory, do ``ACTION``:

* ``kill`` (default): ``SIGKILL`` the process just before the call — like ``kill -9``, nothing
  of Python runs afterwards (no ``finally``, no ``atexit``);
* ``kill-after``: make the call, then ``SIGKILL``;
* ``enospc``: raise ``OSError(ENOSPC)`` instead of the call (a full disk);
* ``erofs``: raise ``OSError(EROFS)`` (a read-only file system);
* ``stop``: ``SIGSTOP`` the process just before the call (the test resumes it with ``SIGCONT``).

Calls watched: ``open`` for writing, ``os.replace``, ``os.rename``, ``os.fsync``, ``os.symlink``,
``os.unlink``, ``shutil.rmtree`` — every step by which Headstart writes checkpoints, metrics and
summaries. Only calls on paths under ``under`` that contain ``contains`` count.

Two ways to run a child: :func:`fork_main` forks this (test) process, which has torch imported
already, and runs ``headstart.cli.main`` in the child (fast); ``python faults.py ARGS`` runs the
real command in a fresh interpreter, with the fault from ``HEADSTART_FAULT`` /
``HEADSTART_FAULT_DIR``.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WATCHED = ("replace", "rename", "fsync", "symlink", "unlink")


@dataclass
class Fault:
    call: str
    n: int
    action: str = "kill"
    under: str = ""
    contains: str = ""
    seen: list[tuple[str, str]] = field(default_factory=list)  # every watched call: (call, path)

    @classmethod
    def parse(cls, spec: str, under: str) -> Fault:
        call, n, *action = spec.split(":")
        return cls(call, int(n), action[0] if action else "kill", under)

    def hit(self, call: str, path: str) -> bool:
        if (self.under and not path.startswith(self.under)) or self.contains not in os.path.basename(path):
            return False
        self.seen.append((call, path))
        return call == self.call and sum(c == call for c, _ in self.seen) == self.n

    def fire_before(self) -> None:
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.action == "erofs":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        if self.action == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def install(fault: Fault) -> None:
    """Wrap the watched calls of ``os`` and ``shutil`` in this process."""

    def wrap(name: str, original: Callable[..., Any], module: Any, path_of: Callable[..., str]) -> None:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            path = path_of(*args)
            if fault.hit(name, os.path.abspath(path) if path else ""):
                fault.fire_before()
                result = original(*args, **kwargs)
                if fault.action == "kill-after":
                    os.kill(os.getpid(), signal.SIGKILL)
                return result
            return original(*args, **kwargs)

        setattr(module, name.split(".")[-1], wrapper)

    for name in WATCHED:
        if name == "fsync":
            wrap(name, os.fsync, os, lambda fd, *a: _fd_path(fd if isinstance(fd, int) else fd.fileno()))
        elif name in ("symlink", "replace", "rename"):  # the path that appears or changes: the target
            wrap(name, getattr(os, name), os, lambda src, dst, *a: os.fspath(dst))
        else:
            wrap(name, getattr(os, name), os, lambda p, *a: os.fspath(p))
    wrap("rmtree", shutil.rmtree, shutil, lambda p, *a: os.fspath(p))
    original_open = builtins.open

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        path = os.path.abspath(os.fspath(file)) if isinstance(file, str | os.PathLike) else ""
        if any(m in mode for m in "wax") and fault.hit("open", path):
            fault.fire_before()
            f = original_open(file, mode, *args, **kwargs)
            if fault.action == "kill-after":  # the file is open (and truncated): die before writing
                os.kill(os.getpid(), signal.SIGKILL)
            return f
        return original_open(file, mode, *args, **kwargs)

    builtins.open = io.open = open_  # type: ignore[assignment]


@dataclass
class Result:
    code: int  # exit status, or -signal when killed
    out: str
    err: str

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL


#: How long a forked child may run before the test gives up on it (a hang must fail, not stall CI).
CHILD_TIMEOUT_S = 600


def _in_forked_child() -> None:
    """First thing in a forked child: one torch thread, as DataLoader workers do. The parent's
    intra-op thread pool is not copied by ``fork``; a child that enters a parallel region would
    wait on it forever."""
    import torch

    torch.set_num_threads(1)


def fork_start(argv: list[str], fault: Fault | None, log_dir: Path, env: dict[str, str] | None = None) -> int:
    """Start ``headstart.cli.main(argv)`` in a forked child with ``fault`` installed; its pid."""
    out, err = log_dir / "child.out", log_dir / "child.err"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70  # the child: never returns into pytest
    try:
        _in_forked_child()
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.environ.update(env or {})
        if fault is not None:
            install(fault)
        from headstart.cli import main

        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 71
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _waitpid(pid: int, flags: int = 0) -> int:
    """``os.waitpid`` with a deadline: a child still running after ``CHILD_TIMEOUT_S`` is killed
    and the test fails, naming it."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, flags | os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"forked child {pid} still running after {CHILD_TIMEOUT_S} s: killed (a hang)")
        time.sleep(0.02)


def wait(pid: int, log_dir: Path) -> Result:
    status = _waitpid(pid)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return Result(code, (log_dir / "child.out").read_text(), (log_dir / "child.err").read_text())


def wait_stopped(pid: int) -> None:
    """Block until the child stops itself (a ``stop`` fault); fail if it exits instead."""
    status = _waitpid(pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"child {pid} ended (status {status}) before reaching its stop point"


def fork_main(argv: list[str], fault: Fault | None, log_dir: Path, env: dict[str, str] | None = None) -> Result:
    """Run ``headstart.cli.main(argv)`` in a forked child with ``fault`` installed, to its end."""
    return wait(fork_start(argv, fault, log_dir, env), log_dir)


def count_calls(argv: list[str], under: Path, log_dir: Path) -> list[tuple[str, str]]:
    """The watched calls a fault-free run makes under ``under`` (in a forked child), in order."""
    record = log_dir / "calls.txt"
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            _in_forked_child()
            sys.stdout = sys.stderr = open(os.devnull, "w")
            fault = Fault("none", 0, "kill", str(under))
            install(fault)
            from headstart.cli import main

            code = main(argv)
            with open(record, "w") as f:
                f.writelines(f"{c}\t{p}\n" for c, p in fault.seen)
        finally:
            os._exit(code)
    _waitpid(pid)
    return [tuple(line.split("\t", 1)) for line in record.read_text().splitlines()]  # type: ignore[misc]


if __name__ == "__main__":  # python faults.py ARGS: the real command with HEADSTART_FAULT
    spec = os.environ.get("HEADSTART_FAULT")
    if spec:
        install(Fault.parse(spec, os.path.abspath(os.environ.get("HEADSTART_FAULT_DIR", "/"))))
    from headstart.cli import main

    sys.exit(main(sys.argv[1:]))
