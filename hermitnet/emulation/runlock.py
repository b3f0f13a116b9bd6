"""One emulated network at a time on this machine: the run lock.

A run holds an exclusive `flock` on <state dir>/run.lock for its whole life and writes into the
file who holds it (scenario, PID, results folder). A second run is refused with a message naming
the first. The kernel drops the lock when the holder exits in any way, SIGKILL included, so a
killed run never blocks the next one; what it left behind is then `hermitnet clean`'s job.

Runs are refused rather than run side by side: their names and ports would not collide (each
run has its own name prefix and OS-chosen controller ports), but two emulations share the
machine's CPUs, and each one's throughput and timing measurements would depend on the other.
Commands that build no network (validate, map, doctor, report, clean) never take the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import time

from hermitnet.emulation.manifest import state_dir
from hermitnet.errors import HermitError

LOCK_NAME = "run.lock"


class RunLock:
    """The held lock; `note()` records the holder's details, `release()` frees it."""

    def __init__(self, fd: int, holder: dict):
        self.fd: int | None = fd
        self.holder = holder

    def note(self, **details) -> None:
        self.holder.update(details)
        text = json.dumps(self.holder, indent=1).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text, 0)

    def release(self) -> None:
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(scenario_name: str, scenario_file: str) -> RunLock:
    """Take the run lock or raise a HermitError naming the run that holds it."""
    path = state_dir() / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        raise HermitError(
            f"another run is in progress: {describe(holder)}. One emulated network runs at a "
            "time on this machine (runs share its CPUs, so their measurements would disturb "
            "each other); wait for it to finish or stop it (Ctrl-C in its terminal, or kill "
            "its PID)", source=str(path)) from None
    lock = RunLock(fd, {})
    lock.note(scenario=scenario_name, scenario_file=scenario_file, pid=os.getpid(),
              started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), results_dir=None)
    return lock


def describe(holder: dict) -> str:
    if not holder:
        return "a run that has not yet said what it runs"
    results_dir = holder.get("results_dir") or "(not yet chosen)"
    return (f"scenario {holder.get('scenario')} ({holder.get('scenario_file')}), "
            f"PID {holder.get('pid')}, results in {results_dir}")


def _read(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 65536, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
