"""One scheduler for a run: plays events and starts measurements on the monotonic clock.

Events are played in order, each at its planned time, one thread per domain (policy, radio,
uplink, site); the events of one domain planned for the same time are played back to back
inside one bracket (for policy events: one observer reading before them and one after). A
change is short (a REST request answered once every switch confirmed it, a
few tc/ip commands), but a server that is slow to start must not hold up a block or an uplink
change. Each is recorded with when it was planned and when it took effect. Measurements are
long (a sweep, an iperf3 flow, the radio replay): each starts at its time in a thread of its
own, so they run concurrently with the events and with each other. Any failure stops the
run: `wait()` raises the first one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

from hermitnet.errors import HermitError
from hermitnet.timeline.events import Event


@dataclass
class Clock:
    """t = 0 on the monotonic clock, and the wall time it was."""

    t0_monotonic: float = field(default_factory=time.monotonic)
    t0_wall: float = field(default_factory=time.time)

    def now_s(self) -> float:
        return time.monotonic() - self.t0_monotonic

    def wait_until(self, t_s: float, stop: threading.Event) -> bool:
        """Sleep until t_s on the clock; False if `stop` was set first."""
        delay = t_s - self.now_s()
        return not stop.wait(delay) if delay > 0 else not stop.is_set()


class Player:
    def __init__(self, clock: Clock, step_s: float, time_scale: float, progress):
        self.clock = clock
        self.step_s = step_s
        self.time_scale = time_scale
        self.progress = progress
        self.events: list[tuple[Event, object, object]] = []   # (event, apply, bracket)
        self.jobs: list[tuple[float, str, object]] = []
        self.records: list[dict] = []
        self.records_lock = threading.Lock()
        self.failures: list[tuple[str, BaseException]] = []
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def event(self, event: Event, apply, bracket=None) -> None:
        """Play `event` at its time with `apply(event) -> dict` (notes for its record).

        `bracket(domain)`, if given, is a context manager around every group of events of the
        domain that are planned for the same time (they are played inside it, back to back).
        """
        self.events.append((event, apply, bracket))

    def job(self, t_s: float, name: str, run) -> None:
        """Start `run()` at t_s in its own thread."""
        self.jobs.append((t_s, name, run))

    def start(self) -> None:
        domains = list(dict.fromkeys(event.domain for event, _, _ in self.events))
        for domain in domains:
            self._spawn(f"{domain} events", self._play_events,
                        [item for item in self.events if item[0].domain == domain])
        for t_s, name, run in sorted(self.jobs, key=lambda j: j[0]):
            self._spawn(name, self._start_at, t_s, name, run)

    def _spawn(self, name, target, *args) -> None:
        thread = threading.Thread(target=self._guarded, args=(name, target, *args), name=name,
                                  daemon=True)
        self.threads.append(thread)
        thread.start()

    def _guarded(self, name, target, *args) -> None:
        try:
            target(*args)
        except BaseException as error:   # reported by wait(); the run stops
            self.failures.append((name, error))
            self.stop_event.set()

    def _start_at(self, t_s: float, name: str, run) -> None:
        if self.clock.wait_until(t_s, self.stop_event):
            run()

    def _play_events(self, events: list) -> None:
        groups: list[list] = []
        for item in events:
            if groups and groups[-1][0][0].at_s == item[0].at_s:
                groups[-1].append(item)
            else:
                groups.append([item])
        for group in groups:
            first, _, bracket = group[0]
            if not self.clock.wait_until(first.at_s, self.stop_event):
                return
            with bracket(first.domain) if bracket is not None else contextlib.nullcontext():
                for event, apply, _ in group:
                    self._play(event, apply)

    def _play(self, event: Event, apply) -> None:
        started_s = self.clock.now_s()
        notes = apply(event) or {}
        effective_s = self.clock.now_s()
        record = {**event.to_dict(self.time_scale), "started_s": round(started_s, 3),
                  "effective_s": round(effective_s, 3),
                  "effective_scenario_s": round(effective_s * self.time_scale, 3),
                  "late_s": round(max(0.0, effective_s - event.at_s), 3), **notes}
        record["late"] = record["late_s"] > self.step_s
        with self.records_lock:
            self.records.append(record)
            self.records.sort(key=lambda r: (r["planned_s"], r["started_s"]))
        line = f"t={effective_s:6.2f} s: {event.describe()}"
        if record["late"]:
            line += (f" LATE: took effect {record['late_s']:.2f} s after its time "
                     f"(more than one step, {self.step_s:g} s)")
        self.progress(line)

    def wait(self, until_s: float) -> None:
        """Until every event is played, every job is done and the clock is at until_s; raises
        the first failure (a HermitError names the event or measurement)."""
        self.clock.wait_until(until_s, self.stop_event)
        for thread in self.threads:
            while thread.is_alive() and not self.stop_event.is_set():
                thread.join(0.2)
        if self.failures:
            name, error = self.failures[0]
            if isinstance(error, KeyboardInterrupt):
                raise error
            raise HermitError(f"{name}: {error}") from error

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop playing (events not yet played are not played); jobs already running finish
        on their own (their processes end with the emulation)."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout_s if thread.name.endswith(" events") else 0)
