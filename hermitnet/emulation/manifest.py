"""Every object a run creates is recorded here before it exists, so any run can be cleaned up.

A manifest is a JSON file in the state directory (/run/hermitnet by default; gone at reboot like
the objects it names). `cleanup()` removes exactly what a manifest names, never anything else:
processes (checked by PID *and* start time, so a recycled PID is never killed), any other process
inside the network namespace of a recorded process that is still alive (one started in a host in
the instant before it could be recorded), OVS bridges and root-namespace interfaces. It is safe to
run twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOG = logging.getLogger("hermitnet.cleanup")
_SAVING = threading.Lock()   # measurements on the run's clock start processes from threads


def state_dir() -> Path:
    return Path(os.environ.get("HERMITNET_STATE_DIR", "/run/hermitnet"))


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass
class Manifest:
    run_id: str
    owner_pid: int
    owner_start: int | None
    results_dir: str
    bridges: list[str] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    processes: list[dict] = field(default_factory=list)   # {pid, start, what}
    controller_api: str | None = None                      # http://127.0.0.1:PORT
    api_token_path: str | None = None                      # when the API needs a token

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.run_id}.json"

    @classmethod
    def create(cls, run_id: str, results_dir: str) -> Manifest:
        manifest = cls(run_id, os.getpid(), process_start_time(os.getpid()), results_dir)
        manifest.save()
        return manifest

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))

    def save(self) -> None:
        with _SAVING:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(self), indent=1))
            tmp.replace(self.path)

    def add_bridges(self, names) -> None:
        self.bridges.extend(n for n in names if n not in self.bridges)
        self.save()

    def add_interfaces(self, names) -> None:
        self.interfaces.extend(n for n in names if n not in self.interfaces)
        self.save()

    def add_process(self, pid: int, what: str) -> None:
        self.processes.append({"pid": pid, "start": process_start_time(pid), "what": what})
        self.save()

    def owner_alive(self) -> bool:
        start = process_start_time(self.owner_pid)
        return start is not None and start == self.owner_start


def list_manifests() -> list[Manifest]:
    directory = state_dir()
    if not directory.is_dir():
        return []
    manifests = []
    for path in sorted(directory.glob("*.json")):
        try:
            manifests.append(Manifest.load(path))
        except (OSError, ValueError, TypeError) as error:
            LOG.warning("unreadable manifest %s: %s", path, error)
    return manifests


def cleanup(manifest: Manifest) -> list[str]:
    """Remove what the manifest names; returns what was removed, in words."""
    removed = []
    live = [p for p in manifest.processes
            if p["start"] is not None and process_start_time(p["pid"]) == p["start"]]
    live += _strays(live)
    _terminate(live)
    removed += [f"process {proc['pid']} ({proc['what']})" for proc in live]
    existing = set(_ovs_bridges())
    for bridge in manifest.bridges:
        if bridge in existing:
            _quiet(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", bridge])
            removed.append(f"bridge {bridge}")
    for intf in manifest.interfaces + manifest.bridges:
        if Path(f"/sys/class/net/{intf}").exists():
            _quiet(["ip", "link", "del", intf])
            removed.append(f"interface {intf}")
    manifest.path.unlink(missing_ok=True)
    return removed


def stop_strays(pids: list[int]) -> list[str]:
    """Stop every process in the network namespaces of `pids` except `pids` themselves.

    For a run's host shells: whatever runs in a host (recorded or not) goes before the hosts do.
    The root namespace is never searched."""
    strays = _strays([{"pid": pid, "start": process_start_time(pid)} for pid in pids])
    _terminate(strays)
    return [f"process {p['pid']} ({p['what']})" for p in strays]


def _strays(procs: list[dict]) -> list[dict]:
    """Processes in the (non-root) network namespaces of `procs`, other than `procs`.

    A namespace is searched only while one of `procs` (alive, same start time) holds it, so it
    cannot be someone else's namespace that reused a freed one's inode."""
    spaces = {_netns(p["pid"]) for p in procs if _same(p)} - {None, _netns(os.getpid())}
    known = {p["pid"] for p in procs}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in known and _netns(int(entry)) in spaces:
            pid = int(entry)
            found.append({"pid": pid, "start": process_start_time(pid),
                          "what": "unrecorded process in a host's namespace"})
    return found


def _terminate(procs: list[dict]) -> None:
    for proc in procs:
        _signal(proc["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(_running(p) for p in procs):
        time.sleep(0.05)
    for proc in procs:
        if _running(proc):
            _signal(proc["pid"], signal.SIGKILL)


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _same(proc: dict) -> bool:
    return process_start_time(proc["pid"]) == proc["start"]


def _running(proc: dict) -> bool:
    """The same process, and not a zombie: a child of this process that has exited stays in
    /proc until it is waited for (its Popen does that later), and waiting for it to vanish
    would only wait out the deadline."""
    if not _same(proc):
        return False
    try:
        stat = Path(f"/proc/{proc['pid']}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _ovs_bridges() -> list[str]:
    try:
        done = subprocess.run(["ovs-vsctl", "--timeout=5", "list-br"], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.split() if done.returncode == 0 else []


def _quiet(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as error:
        LOG.warning("%s: %s", " ".join(argv), error)
        return
    if done.returncode != 0:
        LOG.warning("%s: %s", " ".join(argv), done.stderr.strip())
