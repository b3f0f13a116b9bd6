"""Benchmark: time from a REST policy change to enforcement on every switch (not a timed test).

Builds a large network (by default 200 subscribers on 50 cells and fixed lines, 20 sites: 56
switches), then makes N changes over the controller's REST API (alternately blocking and
unblocking a site, which touches every switch) and measures, per change:

  rest_s   request sent -> answer received; the controller answers once every switch has
           confirmed the change with an OpenFlow barrier reply (all earlier messages processed)
  dump_s   request sent -> the new rule is present (block) or gone (unblock) in the flow tables
           of every switch, polled independently with `ovs-ofctl dump-flows` (4 pollers)

and prints p50/p95 of both, next to the time one dump takes on one switch (the poll's own
resolution, measured in the same run). Then, with some traffic through the pipeline (pings
from every tenth subscriber), the flows installed per switch beside what the compiled policy
gives it, and the packets that reached the controller (rules with a CONTROLLER action) beside
all packets the flow tables matched: the steady state should send none. Run as root:

    sudo flock /tmp/hermitnet-emulation.lock .venv/bin/python bench/bench_policy_change.py \
        [--changes 40] [--cells 50] [--sites 20]
"""

from __future__ import annotations

import argparse
import json
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
from hermitnet.policy.compile import compile_policy

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


def wait_all(bridges: list[str], ip: str, want: int, started: float, pool) -> float:
    """Seconds from `started` until every bridge holds `want` blocklist rules for ip."""
    done_at: dict[str, float] = {}
    lock = threading.Lock()

    def poll(bridge: str) -> None:
        while True:
            if blocked_rules(bridge, ip) == want:
                with lock:
                    done_at[bridge] = time.monotonic()
                return
            if time.monotonic() - started > 60:
                raise TimeoutError(f"{bridge}: not enforced within 60 s")

    list(pool.map(poll, bridges))
    return max(done_at.values()) - started


def flow_lines(bridge: str) -> list[str]:
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge],
                         capture_output=True, text=True, timeout=30).stdout
    return [line for line in out.splitlines() if "table=" in line]


def n_packets(line: str) -> int:
    return int(line.split("n_packets=", 1)[1].split(",", 1)[0])


def steady_state(live, compiled, bridges: list[str]) -> dict:
    """Some traffic through the pipeline, then flows per switch and packets sent to the
    controller, from independent flow dumps."""
    site = next(h for h in live.plan.hosts if h.kind == "server" and h.zone == "intranet")
    subscribers = live.plan.subscribers()
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
        rest_s, dump_s = [], []
        with ThreadPoolExecutor(max_workers=4) as pool:
            for i in range(args.changes):
                site = sites[(i // 2) % len(sites)]
                block = i % 2 == 0
                started = time.monotonic()
                holder: dict = {}
                if block:
                    request = ("POST", "/v1/blocklist", {"site": site.name})
                else:
                    request = ("DELETE", f"/v1/blocklist/{site.name}", None)
                thread = threading.Thread(target=lambda r=request, h=holder: h.update(
                    answer=rest(live.controller_api, *r), at=time.monotonic()))
                thread.start()
                dump_s.append(wait_all(bridges, site.ip, tiers if block else 0, started, pool))
                thread.join()
                rest_s.append(holder["at"] - started)
                if not holder["answer"]["enforced"]["all_confirmed"]:
                    print(f"change {i}: not confirmed by every switch", file=sys.stderr)
        steady = steady_state(live, compiled, bridges)
    ms = 1000
    print(f"{args.changes} changes (block/unblock, each touches all {len(bridges)} switches):")
    for label, values in (("REST answer (barrier-confirmed on all switches)", rest_s),
                          ("seen in every flow table (ovs-ofctl polls)", dump_s)):
        print(f"  {label:48} p50 {percentile(values, .5) * ms:5.0f} ms"
              f"  p95 {percentile(values, .95) * ms:5.0f} ms")
    print(f"  {'one dump on one switch (poll resolution)':48} "
          f"median {statistics.median(floor) * ms:.1f} ms; ratio p50 seen / one dump: "
          f"{percentile(dump_s, .5) / statistics.median(floor):.1f}")
    figure("flows installed on the busiest switch", steady["most_installed"], "flows",
           "compiled for it", steady["most_compiled"])
    print(f"  flows per switch: min {steady['fewest_installed']}, max "
          f"{steady['most_installed']}; rules sending to the controller: "
          f"{steady['controller_rules']}")
    figure("packets to the controller (packet-ins) in steady state", steady["packet_ins"],
           "packets", "packets matched by the flow tables", steady["matched"])
    for q in (.5, .95):
        figure(f"policy change seen on all {len(bridges)} switches, p{q * 100:.0f}",
               percentile(dump_s, q) * ms, "ms", "one dump on one switch (median)",
               statistics.median(floor) * ms)
    print(f"results folder: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
