"""Which uplink carried what, and how long a failover took: measured on the run's clock.

Usage: a sampler reads each uplink's byte counters (both directions, on the border switch's
end, /sys/class/net/<if>/statistics) every SAMPLE_S; a flow's `uplinks` are the bytes each
uplink carried over the flow's seconds, and its `uplinks_used` those that carried at least
USED_SHARE of them, in the order they started to. Flows at the same time over the border share
these counters: their rows say so (concurrent_with).

Failover: with several uplinks and an uplink_down on the timeline, a subscriber allowed beyond
the border pings a global site every PROBE_INTERVAL_S all along (`ping -D`: each reply stamped
on the wall clock). For each uplink_down of the uplink that was carrying traffic, the failover
time is from when the event began (the link set down) to the send time (reply time minus its
round trip) of the first probe answered after the probes lost with the link: the end of the
gap of more than GAP_INTERVALS probe intervals that began by the time the link was down (the
commands returned), looked for within FAILOVER_WINDOW_S. No such gap: no probe was lost, and
the first probe answered after the link was down bounds the failover time (under about one
interval). Gaps that begin later (a congested queue drops probes too) are not counted. p95 is
the nearest-rank 95th percentile of those times.

`usage`, `failovers` and `parse_ping` are pure.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path

SAMPLE_S = 0.25
USED_SHARE = 0.05
PROBE_INTERVAL_S = 0.02
GAP_INTERVALS = 2.5
FAILOVER_WINDOW_S = 10.0
_REPLY = re.compile(r"^\[(\d+\.\d+)\] .* time=([\d.]+) ms", re.MULTILINE)


def border_interfaces(plan) -> dict[str, str]:
    """{uplink name: the border switch's end of its link}."""
    nodes = {s.name: s.node for s in plan.switches}
    return {link.name: f"{nodes[link.a]}-eth{link.a_port}" for link in plan.links
            if link.kind == "uplink"}


def read_bytes(interface: str, sys_net: Path = Path("/sys/class/net")) -> int:
    """rx + tx bytes of an interface; 0 if it cannot be read (the link is being rebuilt)."""
    total = 0
    for name in ("rx_bytes", "tx_bytes"):
        try:
            total += int((sys_net / interface / "statistics" / name).read_text())
        except (OSError, ValueError):
            return 0
    return total


class Sampler:
    """Each uplink's byte counters every SAMPLE_S, on the clock, from start() to stop()."""

    def __init__(self, plan, clock):
        self.interfaces = border_interfaces(plan)
        self.clock = clock
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uplink counters", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join(5)
        return self.samples

    def _run(self) -> None:
        while True:
            self.samples.append({"t_s": round(self.clock.now_s(), 3),
                                 "bytes": {name: read_bytes(intf)
                                           for name, intf in self.interfaces.items()}})
            if self._stop.wait(SAMPLE_S):
                return


def usage(samples: list[dict], from_s: float, until_s: float) -> tuple[dict, list]:
    """({uplink: bytes}, uplinks used) between two times: the counters' increase from the last
    sample at or before from_s to the first at or after until_s."""
    if not samples:
        return {}, []
    before = [s for s in samples if s["t_s"] <= from_s] or samples[:1]
    after = [s for s in samples if s["t_s"] >= until_s] or samples[-1:]
    window = [s for s in samples if before[-1]["t_s"] <= s["t_s"] <= after[0]["t_s"]]
    carried = {name: max(0, after[0]["bytes"][name] - before[-1]["bytes"][name])
               for name in before[-1]["bytes"]}
    total = sum(carried.values())
    used = [n for n, b in carried.items() if total and b >= USED_SHARE * total]
    started = {n: next((s["t_s"] for s, p in zip(window[1:], window, strict=False)
                        if s["bytes"][n] > p["bytes"][n]), math.inf) for n in used}
    return carried, sorted(used, key=lambda n: started[n])


def probe_pair(scenario, state) -> tuple[str, str] | None:
    """(subscriber, global site) for the failover probe: the first flow across the border, else
    the first subscriber whose tier reaches the global zone and the first global site."""
    global_sites = [s.name for s in scenario.sites if s.zone == "global"]
    reaches = [s.name for s in scenario.subscribers
               if "global" in state.tier_zones[state.membership[s.name]]]
    for flow in scenario.flows:
        if flow.src in reaches and flow.dst in global_sites:
            return flow.src, flow.dst
    return (reaches[0], global_sites[0]) if reaches and global_sites else None


def ping_argv(dst_ip: str, seconds: float) -> list[str]:
    return ["ping", "-D", "-n", "-i", f"{PROBE_INTERVAL_S:g}", "-W", "1", "-w",
            f"{max(1, math.ceil(seconds)):d}", dst_ip]


def parse_ping(stdout: str, t0_wall: float) -> list[float]:
    """The send times (run seconds) of the probes that were answered."""
    return [round(float(stamp) - t0_wall - float(rtt_ms) / 1000, 4)
            for stamp, rtt_ms in _REPLY.findall(stdout)]


def failovers(records: list[dict], uplink_names: list[str], answered_s: list[float]) -> list:
    """Each uplink_down of the uplink carrying traffic while another was up, and how long until
    probes were answered again (None: never within the run)."""
    down: set[str] = set()
    found = []
    for record in sorted(records, key=lambda r: r["started_s"]):
        if record["kind"] not in ("uplink_down", "uplink_up"):
            continue
        active = next((n for n in uplink_names if n not in down), None)
        if record["kind"] == "uplink_up":
            down.discard(record["target"])
            continue
        down.add(record["target"])
        after = next((n for n in uplink_names if n not in down), None)
        if record["target"] != active or after is None:
            continue
        found.append({"uplink": record["target"], "to": after, "planned_s": record["planned_s"],
                      "down_s": record["started_s"],
                      **_gap(answered_s, record["started_s"],
                             record.get("effective_s", record["started_s"]))})
    return found


def _gap(answered_s: list[float], began: float, effective: float) -> dict:
    """The probes lost when the uplink went down (the commands ran from `began` to
    `effective`), and when answers came back."""
    slack = PROBE_INTERVAL_S * GAP_INTERVALS
    near = sorted(t for t in answered_s if began - slack <= t <= began + FAILOVER_WINDOW_S)
    later = [t for t in near if t > effective]
    if not later:
        return {"answered_again_s": None, "lost_probes": None, "failover_s": None}
    for before, after in zip(near, near[1:], strict=False):
        if before > effective + slack:
            break     # a later gap is not this link going down (e.g. a congested queue)
        if after - before > slack and after > began:
            return {"answered_again_s": after,
                    "lost_probes": round((after - before) / PROBE_INTERVAL_S) - 1,
                    "failover_s": round(after - began, 3)}
    if near[0] > began + slack:       # nothing answered just before: lost from the start
        return {"answered_again_s": near[0], "lost_probes": None,
                "failover_s": round(near[0] - began, 3)}
    # no probe lost: the failover took less than one interval; the first answer after the
    # commands bounds it
    return {"answered_again_s": later[0], "lost_probes": 0,
            "failover_s": round(later[0] - began, 3)}


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
