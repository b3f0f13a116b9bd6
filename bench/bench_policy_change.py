"""Benchmark: time from a REST policy change to enforcement on every switch (not a timed test).

Builds a large network (by default 200 subscribers on 50 cells and fixed lines, 20 sites: 55
controlled switches), then makes N changes over the controller's REST API (alternately blocking
and unblocking a site, which touches every switch) and measures, per change:

  seen_s   request sent -> the last switch's flow table holds the change (block: one rule per
           tier added; unblock: removed), as each switch reports it itself: one `ovs-ofctl
           monitor BRIDGE watch:table=1` per switch, all open at once, each event stamped as it
           arrives (OVS sends flow-monitor updates when its table changes; nothing is polled,
           so the measurement neither waits for a poller's turn nor loads ovs-vswitchd)
  rest_s   request sent -> answer received; the controller answers once every switch has
           confirmed the change with an OpenFlow barrier reply (all earlier messages processed)

After each change an independent flow dump of every switch (`ovs-ofctl dump-flows`, in
parallel) confirms what the monitors saw. Baselines in the same run: the same rules written
into every switch directly, one `ovs-ofctl add-flows` per switch all started at once, seen by
the same monitors (what enforcement costs without the controller); and one dump of one switch.
And the same rules written into one switch by one `ovs-ofctl add-flows` (the figures' baseline:
the floor of changing one flow table from outside). The controller's log says where its part
went (compile, diff, queueing, per change).
Then, with some traffic through the pipeline (pings from every tenth subscriber), the flows
installed per switch beside what the compiled policy gives it, and the packets that reached
the controller (rules with a CONTROLLER action) beside all packets the flow tables matched: the
steady state should send none. Run as root:

    sudo flock /tmp/hermitnet-emulation.lock .venv/bin/python bench/bench_policy_change.py \
        [--changes 40] [--cells 50] [--sites 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from figure import figure

from hermitnet import runner
from hermitnet import scenario as scenario_module
from hermitnet.policy.compile import compile_policy, tier_class

EMULATION = True
QUICK_ARGS = ("--changes", "10")


def large_scenario(cells: int, subscribers: int = 200, sites: int = 200) -> dict:
    tiers = ["citizen", "elite", "visitor", "public"]
    zones = ["intranet"] * 6 + ["national"] + ["global"] * 3
    subs = []
    for i in range(subscribers):
        tier = tiers[i % 4]
        if tier == "public":
            subs.append({"name": f"terminal-{i}", "tier": tier, "access": "fixed"})
        else:
            subs.append({"name": f"phone-{i}", "tier": tier, "cell": f"cell-{i % cells}"})
    return {
        "schema": 1, "name": "bench-policy-change", "seed": 1,
        "tiers": {
            "citizen": {"zones": ["intranet"]},
            "public": {"zones": ["intranet"]},
            "elite": {"zones": ["intranet", "national", "global"]},
            "visitor": {"zones": ["national", "global"]},
        },
        "cells": [{"name": f"cell-{c}"} for c in range(cells)],
        "subscribers": subs,
        "sites": [{"name": f"site-{i}", "zone": zones[i % len(zones)]} for i in range(sites)],
        "blocklist": [],
        "measure": {"throughput": {"flows": []}},
    }


def rest(api: str, method: str, path: str, body=None) -> dict:
    request = urllib.request.Request(api + path, method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def blocked_rules(bridge: str, ip: str) -> int:
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge,
                          f"table=1,ip,nw_dst={ip}"], capture_output=True, text=True,
                         timeout=30).stdout
    return out.count("priority=300")


class FlowMonitors:
    """`ovs-ofctl monitor` on every bridge's policy table (it prints the events on stderr):
    [(time.monotonic() at arrival, line)] per bridge."""

    def __init__(self, bridges: list[str]):
        self.events: dict[str, list[tuple[float, str]]] = {b: [] for b in bridges}
        self.processes = [subprocess.Popen(
            ["ovs-ofctl", "-O", "OpenFlow13", "monitor", bridge, "watch:!initial,table=1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1)
            for bridge in bridges]
        for bridge, process in zip(bridges, self.processes, strict=True):
            threading.Thread(target=self._read, args=(bridge, process), daemon=True).start()

    def _read(self, bridge: str, process) -> None:
        for line in process.stderr:
            if "event=" in line:
                self.events[bridge].append((time.monotonic(), line))

    def seen(self, ip: str, event: str, count: int, since: float, only: list | None = None,
             timeout_s: float = 60) -> dict[str, float]:
        """{bridge: seconds from `since` until its `count`-th `event` (ADDED, DELETED) for a
        rule to ip}, waiting for every bridge (or those `only`)."""
        wanted = f"nw_dst={ip}"
        deadline = time.monotonic() + timeout_s
        watched = {b: self.events[b] for b in only or self.events}
        while True:
            times = {}
            for bridge, events in watched.items():
                hits = [t for t, line in list(events)
                        if t >= since and f"event={event}" in line and wanted in line]
                if len(hits) >= count:
                    times[bridge] = hits[count - 1] - since
            if len(times) == len(watched):
                return times
            if time.monotonic() > deadline:
                missing = sorted(set(watched) - set(times))
                raise TimeoutError(f"{event} {ip} not seen on {missing} within {timeout_s} s")
            time.sleep(0.005)

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)


def confirm(bridges: list[str], ip: str, want: int, pool) -> None:
    """An independent dump of every switch (in parallel) holds `want` rules blocking ip."""
    found = dict(zip(bridges, pool.map(lambda b: blocked_rules(b, ip), bridges), strict=True))
    wrong = {b: n for b, n in found.items() if n != want}
    if wrong:
        raise RuntimeError(f"flow dumps disagree with the monitors: {want} rules for {ip} "
                           f"expected, found {wrong}")


def direct_block(bridges: list[str], ip: str, class_ids: list[int], add: bool) -> None:
    """The block's rules written straight into every switch, one ovs-ofctl per switch, all
    at once (the baseline: enforcement without the controller)."""
    actions = ",actions=drop" if add else ""
    rules = "".join(f"table=1,priority=300,metadata={c}/0xff,ip,nw_dst={ip}{actions}\n"
                    for c in class_ids)
    command = ["add-flows"] if add else ["--strict", "del-flows"]
    processes = [subprocess.Popen(["ovs-ofctl", "-O", "OpenFlow13", *command, bridge, "-"],
                                  stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for bridge in bridges]
    for process in processes:
        _, errors = process.communicate(rules, timeout=60)
        if process.returncode:
            raise RuntimeError(f"ovs-ofctl {' '.join(command)} failed: {errors}")


def controller_phases(log_path: Path) -> dict[str, list[float]]:
    """The controller's own account of each change (its log lines 'change: compiled in ...')."""
    found: dict[str, list[float]] = {"compile": [], "diff": [], "queue": []}
    pattern = re.compile(r"change: compiled in ([0-9.]+) ms, diff ([0-9.]+) ms, \d+ switches' "
                         r"messages queued in ([0-9.]+) ms")
    for match in pattern.finditer(log_path.read_text(errors="replace")):
        for name, value in zip(found, match.groups(), strict=True):
            found[name].append(float(value))
    return found


def flow_lines(bridge: str) -> list[str]:
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge],
                         capture_output=True, text=True, timeout=30).stdout
    return [line for line in out.splitlines() if "table=" in line]


def n_packets(line: str) -> int:
    return int(line.split("n_packets=", 1)[1].split(",", 1)[0])


def steady_state(live, compiled, bridges: list[str]) -> dict:
    """Some traffic through the pipeline, then flows per switch and packets sent to the
    controller, from independent flow dumps."""
    site = next(h for h in live.plan.hosts if h.zone == "intranet")
    subscribers = [h for h in live.plan.hosts if h.kind != "server"]
    for host in subscribers[::10]:
        live.emu.run(host.name, ["ping", "-c", "2", "-i", "0.2", "-W", "1", site.ip])
    dumps = {bridge: flow_lines(bridge) for bridge in bridges}
    compiled_counts = {s.node: len(compiled.for_switch(s.name)[0])
                       for s in live.plan.switches if s.controlled}
    busiest = max(dumps, key=lambda b: len(dumps[b]))
    to_controller = [line for lines in dumps.values() for line in lines
                     if "CONTROLLER" in line.split("actions=", 1)[-1]]
    return {"most_installed": len(dumps[busiest]), "most_compiled": compiled_counts[busiest],
            "fewest_installed": min(len(v) for v in dumps.values()),
            "controller_rules": len(to_controller),
            "packet_ins": sum(n_packets(line) for line in to_controller),
            "matched": sum(n_packets(line) for lines in dumps.values() for line in lines)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--direct", type=int, default=2,
                        help="baseline rounds (add and delete) of ovs-ofctl on every switch")
    parser.add_argument("--pause-s", type=float, default=0.5,
                        help="between changes (they come one by one, not in a burst)")
    args = parser.parse_args()
    loaded = scenario_module.from_dict(
        large_scenario(args.cells, args.subscribers, args.sites), source="bench")
    out = Path(tempfile.mkdtemp(prefix="hn-bench-policy-"))
    clock = time.monotonic()
    with runner.session(loaded, out, progress=lambda message: None) as live:
        setup_s = time.monotonic() - clock
        compiled = compile_policy(live.plan, live.state)
        bridges = [s.node for s in live.plan.switches if s.controlled]
        tiers = len(live.plan.tier_index)
        most = max(len(compiled.for_switch(s.name)[0]) for s in live.plan.switches
                   if s.controlled)
        print(f"network: {len(live.plan.hosts)} hosts, {len(bridges)} controlled switches, "
              f"{len(compiled.rules)} flow rules (at most {most} on one switch); "
              f"up in {setup_s:.1f} s")
        floor = []
        for _ in range(10):
            t = time.monotonic()
            blocked_rules(bridges[0], "198.18.0.10")
            floor.append(time.monotonic() - t)
        sites = [h for h in live.plan.hosts if h.zone == "global"]
        classes = [tier_class(live.plan, t) for t in live.plan.tier_index]
        monitors = FlowMonitors(bridges)
        rest_s, seen_s, direct_s, one_s = [], [], [], []
        try:
            time.sleep(1)     # every monitor connected
            with ThreadPoolExecutor(max_workers=8) as pool:
                spare = sites[-1]       # never blocked through the API
                for _ in range(10):
                    for add in (True, False):
                        started = time.monotonic()
                        direct_block(bridges[:1], spare.ip, classes, add)
                        one_s.append(monitors.seen(spare.ip, "ADDED" if add else "DELETED",
                                                   len(classes), started, bridges[:1])[bridges[0]])
                for _ in range(args.direct):
                    for add in (True, False):
                        started = time.monotonic()
                        direct_block(bridges, spare.ip, classes, add)
                        seen = monitors.seen(spare.ip, "ADDED" if add else "DELETED",
                                             len(classes), started)
                        direct_s.append(max(seen.values()))
                        confirm(bridges, spare.ip, len(classes) if add else 0, pool)
                for i in range(args.changes):
                    site = sites[(i // 2) % (len(sites) - 1)]
                    block = i % 2 == 0
                    holder: dict = {}
                    if block:
                        request = ("POST", "/v1/blocklist", {"site": site.name})
                    else:
                        request = ("DELETE", f"/v1/blocklist/{site.name}", None)
                    started = time.monotonic()
                    thread = threading.Thread(target=lambda r=request, h=holder: h.update(
                        answer=rest(live.controller_api, *r), at=time.monotonic()))
                    thread.start()
                    seen = monitors.seen(site.ip, "ADDED" if block else "DELETED", tiers,
                                         started)
                    seen_s.append(max(seen.values()))
                    thread.join()
                    rest_s.append(holder["at"] - started)
                    confirm(bridges, site.ip, tiers if block else 0, pool)
                    if not holder["answer"]["enforced"]["all_confirmed"]:
                        print(f"change {i}: not confirmed by every switch", file=sys.stderr)
                    time.sleep(args.pause_s)
        finally:
            monitors.close()
        phases = controller_phases(out / "controller.log")
        steady = steady_state(live, compiled, bridges)
    ms = 1000
    print(f"{args.changes} changes (block/unblock, each touches all {len(bridges)} switches), "
          f"load average {os.getloadavg()[0]:.1f}:")
    for label, values in (("seen on every switch (flow monitors)", seen_s),
                          ("REST answer (barrier-confirmed on all switches)", rest_s),
                          ("the same rules by ovs-ofctl, every switch at once", direct_s),
                          ("the same rules by ovs-ofctl, one switch", one_s)):
        print(f"  {label:50} p50 {percentile(values, .5) * ms:6.1f} ms"
              f"  p95 {percentile(values, .95) * ms:6.1f} ms  max {max(values) * ms:6.1f} ms")
    print(f"  {'one dump on one switch':50} median {statistics.median(floor) * ms:.1f} ms")
    for name, values in phases.items():
        if values:
            print(f"  controller {name:39} p50 {percentile(values, .5):6.1f} ms"
                  f"  p95 {percentile(values, .95):6.1f} ms  ({len(values)} changes)")
    figure("flows installed on the busiest switch", steady["most_installed"], "flows",
           "compiled for it", steady["most_compiled"])
    print(f"  flows per switch: min {steady['fewest_installed']}, max "
          f"{steady['most_installed']}; rules sending to the controller: "
          f"{steady['controller_rules']}")
    figure("packets to the controller (packet-ins) in steady state", steady["packet_ins"],
           "packets", "packets matched by the flow tables", steady["matched"])
    for q in (.5, .95):
        figure(f"policy change seen on all {len(bridges)} switches, p{q * 100:.0f}",
               percentile(seen_s, q) * ms, "ms",
               f"the same rules by ovs-ofctl on one switch, p{q * 100:.0f}",
               percentile(one_s, q) * ms)
    print(f"results folder: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
