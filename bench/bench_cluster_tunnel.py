"""Benchmark: the cost of one hop between machines (a tunnel) against the same hop on one machine.

Two hosts, each behind its own standalone userspace-datapath OVS bridge, the bridges joined by
one link; measured twice in the same run:

  local    both bridges on this machine, joined by a veth pair (as every link of a run)
  tunnel   the second bridge and host on the second machine of the cluster tests (a network and
           mount namespace with its own sshd and OVS, tests/integration/second_machine.py),
           joined by the Cluster Edition's link with the tunnel kind this kernel offers
  ssh      the same, joined by the SSH-tunnel fallback (ClusterSSHLink: tap devices and ssh -w)

For each: ping RTT (200 pings, 10 ms apart, 56 and 1400 bytes) and one iperf3 TCP flow (5 s),
and each tunnel's ratio to local. Names start with "hnbt"; everything is removed at the end. Hold
the emulation lock while it runs:

    sudo flock /tmp/hermitnet-emulation.lock .venv/bin/python bench/bench_cluster_tunnel.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mininet.examples.cluster import MininetCluster  # noqa: E402
from mininet.log import setLogLevel  # noqa: E402
from mininet.topo import Topo  # noqa: E402

from hermitnet.cluster import nodes  # noqa: E402
from tests.integration.second_machine import REMOTE_IP, SecondMachine  # noqa: E402


class TwoBridges(Topo):
    def build(self, far: str = "localhost"):
        s1 = self.addSwitch("hnbts1", controlled=False, server="localhost")
        s2 = self.addSwitch("hnbts2", controlled=False, server=far)
        h1 = self.addHost("hnbth1", ip="100.64.251.1/24", server="localhost")
        h2 = self.addHost("hnbth2", ip="100.64.251.2/24", server=far)
        self.addLink(h1, s1)
        self.addLink(s1, s2)
        self.addLink(h2, s2)


def measure(machine: SecondMachine, far: str, kind: str) -> dict:
    options = machine.ssh_options()
    link = nodes.LINKS[kind]
    if kind == "ssh":
        link = partial(link, ssh_options=options)

    class Cluster(MininetCluster):
        sshcmd = [*MininetCluster.sshcmd, *options]

    net = Cluster(topo=TwoBridges(far=far), servers=["localhost", REMOTE_IP], user="root",
                  serverIP={"localhost": "100.64.250.1", REMOTE_IP: REMOTE_IP},
                  host=partial(nodes.ClusterHost, ssh_options=options),
                  switch=partial(nodes.ClusterSwitch, ssh_options=options),
                  link=link, controller=None, autoSetMacs=True)
    try:
        net.start()
        for switch in net.switches:
            for intf in switch.intfList():
                if intf.name != "lo":
                    subprocess.run(switch.on_machine(["ethtool", "-K", intf.name, "tx", "off"]),
                                   capture_output=True, check=True)
        h1, h2 = net.get("hnbth1"), net.get("hnbth2")
        for host in (h1, h2):
            host.cmd(f"ethtool -K {host.name}-eth0 tx off")
        h1.cmd("ping -c 3 -i 0.2 100.64.251.2")
        result = {}
        for size in (56, 1400):
            out = h1.cmd(f"ping -c 200 -i 0.01 -q -s {size} 100.64.251.2")
            found = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
            result[f"rtt_ms_avg_{size}B"] = float(found.group(2)) if found else None
        server = h2.popen(["iperf3", "-s", "-1", "-B", "100.64.251.2"])
        try:
            for _ in range(100):                       # the server starts over SSH there
                if ":5201" in h2.cmd("ss -Hltn"):
                    break
                time.sleep(0.1)
            out = h1.cmd("iperf3 -J -t 5 -c 100.64.251.2")
            end = json.loads(out[out.index("{"):])
            if "sum_received" not in end.get("end", {}):
                raise RuntimeError(f"iperf3 failed: {end.get('error')}")
            result["tcp_mbps"] = round(end["end"]["sum_received"]["bits_per_second"] / 1e6, 1)
        finally:
            server.terminate()
            server.wait()
        return result
    finally:
        net.stop()


def main() -> int:
    setLogLevel("warning")
    with SecondMachine(Path(tempfile.mkdtemp(prefix="hnbt-")), name="hnbtm2") as machine:
        def missing(kind):
            argv = nodes.probe_argv(kind, "hnbtprobe")
            return [] if subprocess.run(argv, capture_output=True).returncode == 0 else ["here"]

        kind = nodes.tunnel_kind(missing)
        local = measure(machine, "localhost", kind)
        tunnel = measure(machine, REMOTE_IP, kind)
        ssh = measure(machine, REMOTE_IP, "ssh")

    def over_local(far):
        return {key: round(far[key] / local[key], 2) for key in local if local[key] and far[key]}

    print(json.dumps({"tunnel_kind": kind, "local": local, "tunnel": tunnel, "ssh": ssh,
                      "tunnel_over_local": over_local(tunnel), "ssh_over_local": over_local(ssh)},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
