"""One process per run directory: ``<run>/.lock``.

The lock file is created exclusively (``O_CREAT | O_EXCL``) and holds the owner's pid, host,
start time and command line; the owner also keeps an ``flock`` on it for its lifetime. Another
``headstart run`` / ``--resume`` / ``compare`` of the same directory is refused with one line
naming the holder. The lock is released on every exit Python sees (the ``with`` block, an
exception, Ctrl-C); after a ``kill -9`` or a crash the file stays behind and is recognised as
stale — same host, and the pid is gone or no longer holds the ``flock`` (a reused pid) — and
taken over. A lock held from another host is never broken automatically: the message says which
host and process, and to delete the file if that process is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..options import ConfigError
from ..rundir import RunDir

LOCK_FILE = RunDir.lock


class RunLockedError(ConfigError):
    """The run directory is in use by another live process."""


def _holder_text(info: dict[str, Any]) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    command = info.get("command") or "?"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {since} ({command})"


class RunLock:
    """Exclusive ownership of one run directory, as a context manager."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = RunDir(self.run_dir).lock
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the stale holder replaced, if any

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # being written right now, or damaged
        return data if isinstance(data, dict) else {}

    def _break_if_stale(self, info: dict[str, Any]) -> bool:
        """Remove the lock file if its holder is certainly gone; True when it was removed.

        Only decidable on this host: the pid is gone, or it is alive but does not hold the
        ``flock`` (the pid was reused). The check holds the file's ``flock`` itself, so two
        processes breaking the same stale lock cannot remove each other's fresh one.
        """
        if info and info.get("host") != socket.gethostname():
            return False
        try:
            if not info and time.time() - self.path.stat().st_mtime < 2.0:
                return False  # an empty file is a lock being taken right now, unless it is old
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return True
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False  # its holder is alive
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                return True
            if same:
                self.path.unlink()
            return True
        finally:
            os.close(fd)  # also drops our flock

    def acquire(self) -> RunLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self._read()
                if info is None:
                    continue  # released between our two looks
                if not info:  # half-written by a process starting right now
                    time.sleep(0.05)
                    info = self._read()
                    if info is None:
                        continue
                if self._break_if_stale(info):
                    self.took_over = info
                    continue
                raise RunLockedError(
                    f"{self.run_dir}: in use by {_holder_text(info or {})}; wait for it to finish, or, if "
                    f"that process is gone, delete {self.path}"
                ) from None
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.time(),
                "command": " ".join(["headstart", *sys.argv[1:]])[:300],
            }
            os.write(fd, json.dumps(info).encode("utf-8"))
            os.fsync(fd)
            self._fd = fd
            return self
        raise RunLockedError(f"{self.run_dir}: could not take the lock {self.path} (it keeps changing)")

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if (self._read() or {}).get("pid") == os.getpid():
                self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
