"""The live view's web server: a thread of the run that reads what the run produces and serves it.

    with serving(live) as view:      # prints "live view http://127.0.0.1:PORT/"
        ...

It only reads: the last line of counters.jsonl, the controller's GET /v1/policy, the byte
counters of the switch ports (/sys/class/net, root namespace), the leakage observer's counters at
every site (nft, read inside each site's namespace), and the radio timeline's steps (pushed to
`radio_step`). It never changes the run. Every SNAPSHOT_INTERVAL_S the page gets a snapshot over
server-sent events (GET /events); GET /snapshot and /topology give the same as JSON.

Loopback only: it listens on 127.0.0.1 and answers only requests addressed to 127.0.0.1 or
localhost (a page elsewhere cannot read it through a rebound DNS name).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hermitnet.view import snapshot as snapshot_module

LOG = logging.getLogger("hermitnet.view")
STATIC = Path(__file__).resolve().parent / "static"
SNAPSHOT_INTERVAL_S = 0.5
LEAKAGE_INTERVAL_S = 2.0
MAX_EVENTS = 50
HOST = "127.0.0.1"


def read_interface_bytes(interfaces) -> dict[str, tuple[int, int]]:
    """{interface: (rx_bytes, tx_bytes)} for those that exist in this (root) namespace."""
    found = {}
    for intf in interfaces:
        stats = Path("/sys/class/net", intf, "statistics")
        try:
            found[intf] = (int((stats / "rx_bytes").read_text()),
                           int((stats / "tx_bytes").read_text()))
        except (OSError, ValueError):
            continue
    return found


def last_counters_line(path: Path) -> dict | None:
    """The last complete line of counters.jsonl, or None before the controller wrote one."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def fetch_policy(api: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{api}/v1/policy", timeout=1) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _radio_dict(attachments: dict) -> dict:
    return {name: {"cell": a.cell, "cell_kind": a.cell_kind,
                   "rate_mbps": round(a.rate_mbps, 4), "loss_pct": round(a.loss_pct, 3)}
            for name, a in attachments.items()}


class Collector:
    """Builds a snapshot every SNAPSHOT_INTERVAL_S in its own thread; waiters get each new one."""

    def __init__(self, live):
        self.live = live
        model = live.scenario.radio
        foreign = tuple(c.name for c in model.cells_of_kind("foreign")) if model else ()
        self.topology = {**snapshot_module.topology(live.plan, foreign),
                         "scenario": live.scenario.name}
        self.radio = _radio_dict(live.plan.radio_t0)
        self.phase = "network up"
        self.latest: dict | None = None
        self.sequence = 0
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hermitnet-view", daemon=True)
        self._arrived: dict = {}
        self._arrived_at_s = 0.0
        self._events: deque = deque(maxlen=MAX_EVENTS)
        self._leakage = {"by_tier": {}, "by_path": {}, "events": [],
                         "source": "observer counters at every site (nft), every "
                                   f"{LEAKAGE_INTERVAL_S:g} s"}
        self._leakage_read = 0.0

    def radio_step(self, row: dict) -> None:
        """Called by the radio timeline at every step with its row (results.json radio.timeline)."""
        self.radio = {name: {k: ue[k] for k in ("cell", "cell_kind", "rate_mbps", "loss_pct")}
                      for name, ue in row["ues"].items()}
        self.phase = f"radio timeline t = {row['t_s']:g} s"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()
        self._thread.join(timeout=5)

    def wait_newer(self, sequence: int, timeout_s: float) -> tuple[int, dict | None]:
        with self.changed:
            self.changed.wait_for(lambda: self.sequence != sequence or self.stopping.is_set(),
                                  timeout_s)
            return self.sequence, self.latest

    def _loop(self) -> None:
        interfaces = [e["interface"] for e in self.topology["edges"] if e["interface"]]
        before, before_at = read_interface_bytes(interfaces), time.monotonic()
        while not self.stopping.wait(SNAPSHOT_INTERVAL_S):
            try:
                after, after_at = read_interface_bytes(interfaces), time.monotonic()
                rates = snapshot_module.link_rates(self.topology, before, after,
                                                   after_at - before_at)
                before, before_at = after, after_at
                current = self._snapshot(rates)
            except Exception:  # the view must never take the run down
                LOG.exception("live view: snapshot failed")
                continue
            with self.changed:
                self.latest = current
                self.sequence += 1
                self.changed.notify_all()

    def _snapshot(self, rates: dict) -> dict:
        live = self.live
        if time.monotonic() - self._leakage_read >= LEAKAGE_INTERVAL_S:
            self._leakage_read = time.monotonic()
            self._read_leakage()
        return snapshot_module.snapshot(
            self.topology, t_s=live.elapsed_s(), phase=self.phase,
            counters_line=last_counters_line(live.run_dir / "counters.jsonl"),
            policy=fetch_policy(live.controller_api), rates=rates, radio=self.radio,
            leakage={**self._leakage, "events": list(self._events)})

    def _read_leakage(self) -> None:
        from hermitnet import results

        emu = self.live.emu
        if emu is None or emu.net is None:
            return
        arrived = {}
        for site in (h for h in self.live.plan.hosts if h.kind == "server"):
            counters = _observer_counters(emu.node(site.name).pid)
            if counters is not None:
                arrived[site.name] = counters
        if not arrived:
            return
        from hermitnet import zones
        from hermitnet.policy import timeline as policy_timeline

        # the run's planned policy timeline: each reading's growth is judged by the policies
        # planned between the two readings (the live view does not wait for the records)
        timeline = self.live.policy_timeline or policy_timeline.constant(self.live.state)
        now_s = self.live.elapsed_s()
        states = timeline.during(self._arrived_at_s, now_s)
        ends = zones.endpoints(self.live.plan, timeline.initial)
        probes_by_id = {p["id"]: p for p in self.live.tagged_probes}

        def judge(site: str, key: str):
            leak = results.judge_counter(site, key, probes_by_id, ends, states)
            return leak if leak is not None and leak["verdict"] == "forbidden" else None

        new = snapshot_module.leak_events(self._arrived, arrived, judge, now_s)
        self._events.extend(new)
        self._arrived, self._arrived_at_s = arrived, now_s
        if not self._leakage["by_tier"]:
            self._leakage["by_tier"], self._leakage["by_path"] = results.leaked_bytes(
                [], timeline.initial)
        for event in new:
            by_tier = self._leakage["by_tier"]
            by_tier[event["tier"]] = by_tier.get(event["tier"], 0) + event["bytes"]
            self._leakage["by_path"][event["path"]] += event["bytes"]


def _observer_counters(host_pid: int) -> dict | None:
    """The leakage observer's counters in the namespace of the host process `host_pid`."""
    from hermitnet.workload import observer

    try:
        done = subprocess.run(["nsenter", f"--net=/proc/{host_pid}/ns/net", "nft", "-j", "list",
                               "table", "inet", observer.TABLE],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None  # the observer is not installed yet
    try:
        return observer.parse_counters(done.stdout)
    except (ValueError, KeyError):
        return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "hermitnet-view"
    collector: Collector  # set on the subclass made per server

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        LOG.debug("view: " + format, *args)

    def do_GET(self):  # noqa: N802 - http.server's naming
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in (HOST, "localhost"):
            self._send(403, b"the live view answers only at 127.0.0.1 or localhost\n",
                       "text/plain")
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._file(STATIC / "index.html")
        elif path.startswith("/static/"):
            target = (STATIC / path[len("/static/"):]).resolve()
            if STATIC not in target.parents or not target.is_file():
                self._send(404, b"not found\n", "text/plain")
            else:
                self._file(target)
        elif path == "/topology":
            self._json(self.collector.topology)
        elif path == "/snapshot":
            self._json(self.collector.latest or {})
        elif path == "/events":
            self._events()
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data) -> None:
        self._send(200, json.dumps(data).encode(), "application/json")

    def _file(self, path: Path) -> None:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        self._send(200, path.read_bytes(), kind)

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        collector = self.collector
        sequence = -1
        try:
            while not collector.stopping.is_set():
                newer, current = collector.wait_newer(sequence, 15)
                if newer == sequence or current is None:
                    self.wfile.write(b": waiting\n\n")
                else:
                    sequence = newer
                    self.wfile.write(f"id: {newer}\ndata: {json.dumps(current)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"event: end\ndata: {}\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class LiveView:
    """The collector and the HTTP server on 127.0.0.1:`port` (0: any open port)."""

    def __init__(self, live, port: int = 0):
        self.collector = Collector(live)
        handler = type("Handler", (_Handler,), {"collector": self.collector})
        self.httpd = ThreadingHTTPServer((HOST, port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        name="hermitnet-view-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.httpd.server_address[1]}/"

    def start(self) -> None:
        self.collector.start()
        self._thread.start()

    def stop(self) -> None:
        self.collector.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serving(live, port: int = 0):
    """Serve the live view of `live` (a hermitnet.runner.LiveRun) while the block runs."""
    view = LiveView(live, port)
    view.start()
    live.on_timeline_step = view.collector.radio_step
    live.progress(f"live view {view.url} (loopback only)")
    try:
        yield view
    finally:
        live.on_timeline_step = None
        view.stop()
