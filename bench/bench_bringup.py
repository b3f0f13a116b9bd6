"""Benchmark: hermitnet's bring-up and tear-down against bare Mininet's (not a timed test).

One generated network (bench/generated.py: phones round-robin on NodeBs, sites over the
zones), built twice in the same run:

  hermitnet      `runner.session`: controller, Mininet build with shaping and static ARP, the
                 policy on every switch, the sites' servers, observers; then one ping from a
                 phone to an intranet site through the policy. Figure: session start -> that
                 first reply. Tear-down: `timings_s.teardown` (network, controller and
                 leftovers gone; the report written after it is `timings_s.results`).
  bare Mininet   the same hosts, switches and links (plain Host, userspace OVS in standalone
                 mode, no controller, no shaping): build + start + one ping between the same
                 two hosts; then stop.

Also per host: the memory the machine lost (MemAvailable before/after, divided by the hosts)
and hermitnet's `timings_s`, to see where its time goes. Hold the emulation lock:

    sudo flock /tmp/hermitnet-emulation.lock .venv/bin/python bench/bench_bringup.py \
        [--phones 200 --cells 20 --sites 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from figure import figure
from generated import national
from mininet.link import Link
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host, OVSSwitch
from mininet.topo import Topo

from hermitnet import plan as plan_module
from hermitnet import runner
from hermitnet import scenario as scenario_module

EMULATION = True
QUICK_ARGS = ("--phones", "40", "--cells", "5", "--sites", "10")


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


class PlanTopo(Topo):
    """The plan's switches, hosts and links, nothing else."""

    def build(self, plan=None):
        nodes = {}
        for switch in plan.switches:
            nodes[switch.name] = self.addSwitch(switch.node, dpid=f"{switch.dpid:016x}")
        for host in plan.hosts:
            nodes[host.name] = self.addHost(host.node, ip=f"{host.ip}/{host.prefix_len}",
                                            mac=host.mac, defaultRoute=f"dev {host.node}-eth0")
        for link in plan.links:
            self.addLink(nodes[link.a], nodes[link.b], port1=link.a_port, port2=link.b_port)


def ping_until_reply(send, timeout_s: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if send():
            return time.monotonic() - started
    raise RuntimeError(f"no ping reply within {timeout_s:g} s")


def bare_mininet(loaded, src: str, dst: str) -> dict:
    run_id, tag = runner.new_run_id()     # "hn" and two characters: "bm" and the same two
    plan = plan_module.build(loaded, run_tag=tag, prefix="bm" + run_id[2:])
    setLogLevel("warning")
    free_before = mem_available_mib()
    started = time.monotonic()
    net = Mininet(topo=PlanTopo(plan=plan), host=Host, link=Link, controller=None,
                  switch=partial(OVSSwitch, failMode="standalone", datapath="user",
                                 protocols="OpenFlow13"),
                  autoSetMacs=False, waitConnected=False, inNamespace=False, build=False)
    try:
        net.build()
        net.start()
        up_s = time.monotonic() - started
        a = net.get(plan.host(src).node)
        ip = plan.host(dst).ip
        ping_until_reply(lambda: " 0% packet loss" in a.cmd(f"ping -c 1 -W 2 {ip}"))
        first_s = time.monotonic() - started
        used_mib = free_before - mem_available_mib()
    finally:
        stopping = time.monotonic()
        net.stop()
        stop_s = time.monotonic() - stopping
    return {"hosts": len(plan.hosts), "switches": len(plan.switches), "start_s": up_s,
            "first_packet_s": first_s, "stop_s": stop_s, "memory_mib": used_mib}


def hermitnet(loaded, src: str, dst: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="hn-bench-bringup-"))
    free_before = mem_available_mib()
    started = time.monotonic()
    with runner.session(loaded, out, progress=lambda message: None) as live:
        ip = live.plan.host(dst).ip
        ping_until_reply(lambda: live.emu.run(src, ["ping", "-c", "1", "-W", "2", ip]).returncode
                         == 0)
        first_s = time.monotonic() - started
        used_mib = free_before - mem_available_mib()
        open_files = len(os.listdir("/proc/self/fd"))
        timings = dict(live.results["timings_s"])
        leaving = time.monotonic()
    teardown_s = time.monotonic() - leaving
    results = json.loads((out / "results.json").read_text())
    return {"first_packet_s": first_s, "teardown_s": teardown_s, "memory_mib": used_mib,
            "open_files": open_files,
            "timings_s": {**timings, **results["timings_s"]}, "results": str(out)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    loaded = scenario_module.from_dict(national(args.phones, args.cells, args.sites),
                                       source="bench/generated.py")
    src, dst = "phone-0", "site-0"     # a citizen phone, an intranet site it may reach
    load_before = os.getloadavg()
    bare = bare_mininet(loaded, src, dst)
    hermit = hermitnet(loaded, src, dst)
    hosts, switches = bare["hosts"], bare["switches"]
    print(f"network: {hosts} hosts, {switches} switches; load average before "
          f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"bare Mininet: start {bare['start_s']:.1f} s, first ping reply at "
          f"{bare['first_packet_s']:.1f} s, stop {bare['stop_s']:.1f} s, "
          f"{bare['memory_mib'] / hosts:.2f} MiB per host")
    print(f"hermitnet: {hermit['open_files']} open files in the runner with the network up "
          f"({hermit['open_files'] / (hosts + switches):.2f} per host or switch)")
    print("hermitnet timings_s: " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                hermit["timings_s"].items()))
    figure(f"hermitnet bring-up to first packet through the policy, {hosts} hosts",
           hermit["first_packet_s"], "s", "bare Mininet start + first ping",
           bare["first_packet_s"])
    print(f"hermitnet: leaving the session until its results are written "
          f"{hermit['teardown_s']:.1f} s")
    figure(f"hermitnet tear-down, {hosts} hosts",
           hermit["timings_s"].get("teardown", hermit["teardown_s"]), "s",
           "bare Mininet stop", bare["stop_s"])
    figure("memory per host", hermit["memory_mib"] / hosts, "MiB", "bare Mininet",
           bare["memory_mib"] / hosts)
    if args.json:
        args.json.write_text(json.dumps({"bare": bare, "hermitnet": hermit,
                                         "load_before": load_before,
                                         "load_after": os.getloadavg()}, indent=1))
    leftovers = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    print(f"namespaces left on the machine (any run's): {len(leftovers.splitlines())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
