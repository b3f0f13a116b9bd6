"""The run's watchdog: what must be running is looked at on the run's clock, every outage noted.

A `Check` names a component ("controller", "openvswitch", "uplink", "site:NAME",
"resolver:NAME", "delay line") and how to look at it: `observe() -> Seen(up, identity,
detail)`. `Watchdog.poll(now_s)` looks at every check once and returns the outages that began
or ended; `run()` polls every `period_s` in a thread until `stop()`. An outage is a time the
component was seen down, or a restart seen as a new identity (another process id) between two
polls, bounded by those polls:

    {component, down_at_s, up_at_s, gap_s, planned, detail}      up_at_s None: still down

`planned` says whether the scenario's timeline had taken the component down when the outage
began (`expect_down` / `expect_up`, called by the timeline's actions before a planned outage
and after its end). Unplanned outages are faults: the run reports each with its time and ends
"failed", keeping what it measured.

Looking is cheap and never waits: a process's exit status, a pidfile and /proc, a sysfs file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.2
OVS_PIDFILES = (Path("/var/run/openvswitch/ovs-vswitchd.pid"),
                Path("/var/run/openvswitch/ovsdb-server.pid"))


@dataclass(frozen=True)
class Seen:
    up: bool
    identity: object = None      # a process id: a change between two polls is a restart
    detail: str = ""


@dataclass(frozen=True)
class Check:
    component: str
    observe: Callable[[], Seen]


class Watchdog:
    def __init__(self, checks: list[Check], progress=print, period_s: float = POLL_S):
        self.checks = list(checks)
        self.progress = progress
        self.period_s = period_s
        self.outages: list[dict] = []
        self.planned_down: set[str] = set()
        self._open: dict[str, dict] = {}
        self._identity: dict[str, object] = {}
        self._last_s: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def expect_down(self, component: str) -> None:
        with self._lock:
            self.planned_down.add(component)

    def expect_up(self, component: str) -> None:
        with self._lock:
            self.planned_down.discard(component)

    def add(self, check: Check) -> None:
        with self._lock:
            self.checks.append(check)

    def poll(self, now_s: float) -> list[dict]:
        """Look at every check once; returns the outages that began or ended at this poll."""
        changed = []
        with self._lock:
            previous_s = self._last_s if self._last_s is not None else now_s
            for check in list(self.checks):
                try:
                    seen = check.observe()
                except OSError as error:
                    seen = Seen(False, None, f"cannot look: {error}")
                changed += self._judge(check.component, seen, previous_s, now_s)
            self._last_s = now_s
        for outage in changed:
            self.progress(describe(outage))
        return changed

    def _judge(self, component: str, seen: Seen, previous_s: float, now_s: float) -> list:
        changed = []
        known = self._identity.get(component)
        restarted = (seen.up and component not in self._open and known is not None
                     and seen.identity is not None and seen.identity != known)
        if restarted:       # down and up again between two polls
            self._begin(component, previous_s,
                        f"restarted ({known} -> {seen.identity}) between two looks")
            changed.append(self._end(component, now_s))
        elif not seen.up and component not in self._open:
            changed.append(self._begin(component, now_s, seen.detail))
        elif seen.up and component in self._open:
            changed.append(self._end(component, now_s))
        if seen.identity is not None:
            self._identity[component] = seen.identity
        return changed

    def _begin(self, component: str, at_s: float, detail: str) -> dict:
        outage = {"component": component, "down_at_s": round(at_s, 3), "up_at_s": None,
                  "gap_s": None, "planned": component in self.planned_down, "detail": detail}
        self._open[component] = outage
        self.outages.append(outage)
        return outage

    def _end(self, component: str, at_s: float) -> dict:
        outage = self._open.pop(component)
        outage["up_at_s"] = round(at_s, 3)
        outage["gap_s"] = round(at_s - outage["down_at_s"], 3)
        return outage

    def finish(self, now_s: float) -> list[dict]:
        """One last look; outages still open keep up_at_s None and gap_s until now. Returns
        every outage, in the order they began."""
        self.poll(now_s)
        with self._lock:
            for outage in self._open.values():
                outage["gap_s"] = round(now_s - outage["down_at_s"], 3)
            return [dict(o) for o in self.outages]

    def faults(self) -> list[dict]:
        return [o for o in self.outages if not o["planned"]]

    # -- the polling thread ------------------------------------------------------------------
    def run(self, clock) -> None:
        """Poll on `clock` (now_s()) every period_s in a daemon thread, until stop()."""
        def loop():
            while not self._stop.wait(self.period_s):
                self.poll(clock.now_s())

        self.poll(clock.now_s())
        self._thread = threading.Thread(target=loop, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def describe(outage: dict) -> str:
    what = "planned outage" if outage["planned"] else "FAULT"
    if outage["up_at_s"] is None:
        return (f"{what} at t={outage['down_at_s']:.2f} s: {outage['component']} down"
                + (f" ({outage['detail']})" if outage["detail"] else ""))
    return (f"{what} over at t={outage['up_at_s']:.2f} s: {outage['component']} back after "
            f"{outage['gap_s']:.2f} s (down at t={outage['down_at_s']:.2f} s"
            + (f": {outage['detail']})" if outage["detail"] else ")"))


def one_line(outage: dict) -> str:
    """An outage as the run's error names it."""
    how_long = (f"for {outage['gap_s']:.2f} s" if outage["up_at_s"] is not None
                else f"until the end ({outage['gap_s'] or 0:.2f} s)")
    detail = f" ({outage['detail']})" if outage["detail"] else ""
    return f"{outage['component']} down at t={outage['down_at_s']:.2f} s {how_long}{detail}"


# -- what a run looks at ------------------------------------------------------------------------

def process_seen(process, describe_exit: Callable[[], str] | None = None) -> Seen:
    """A subprocess.Popen: up while it has not exited; its pid is its identity."""
    if process is None:
        return Seen(False, None, "not started")
    code = process.poll()
    if code is None:
        return Seen(True, process.pid)
    detail = f"exited with {code}"
    if describe_exit is not None:
        detail += f": {describe_exit()}"
    return Seen(False, process.pid, detail)


def processes_seen(processes: list) -> Seen:
    """A site's servers: up while every one of them runs (none running is down)."""
    if not processes:
        return Seen(False, None, "no server running")
    gone = [p for p in processes if p.poll() is not None]
    if gone:
        return Seen(False, None, "; ".join(f"pid {p.pid} exited with {p.returncode}"
                                           for p in gone))
    return Seen(True, tuple(p.pid for p in processes))


def pidfile_seen(*paths: Path) -> Seen:
    """Daemons by their pidfiles (default: Open vSwitch's two): up while every pid they name is
    a live process; the pids are the identity, so a restart between two looks is seen."""
    pids = []
    for path in paths or OVS_PIDFILES:
        try:
            pid = int(path.read_text().strip())
        except FileNotFoundError:
            return Seen(False, None, f"no {path}")
        except ValueError:
            return Seen(False, None, f"{path} names no pid")
        if not Path(f"/proc/{pid}").exists():
            return Seen(False, None, f"pid {pid} in {path} is not running")
        pids.append(pid)
    return Seen(True, pids[0] if len(pids) == 1 else tuple(pids))


def links_seen(interfaces, sysfs: Path = Path("/sys/class/net")) -> Seen:
    """Network interfaces of the root namespace: up while every one's operstate is "up"."""
    states = {}
    for intf in interfaces:
        try:
            states[intf] = (sysfs / intf / "operstate").read_text().strip()
        except FileNotFoundError:
            states[intf] = "missing"
    down = {i: s for i, s in states.items() if s != "up"}
    if down:
        return Seen(False, None, ", ".join(f"{i} {s}" for i, s in down.items()))
    return Seen(True)


def stderr_tail(process, limit: int = 2000) -> str:
    """What an exited process wrote on its stderr pipe (its last `limit` characters)."""
    stream = getattr(process, "stderr", None)
    if stream is None:
        return "(its stderr is not kept)"
    try:
        text = stream.read()
    except (OSError, ValueError):
        return "(its stderr could not be read)"
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text.strip()
    return text[-limit:] if text else "(nothing on its stderr)"

