"""The national 3G network as a Mininet Topo: a graph only, built from a hermitnet plan.

    phones --air--> NodeB switches --backhaul--> RNC --> core --> intranet sites
                                                         core --> fixed-line terminals
                                                         core --> border --uplink--> global zone

By hand, from the checkout (any scenario file; the Topo's graph only: plain learning switches,
no tier policy; every host reaches every other):

    sudo .venv/bin/python /usr/bin/mn --custom topologies/national3g.py \
         --topo national3g,scenarios/baseline.yaml \
         --switch ovs,datapath=user,failMode=standalone --controller none --test pingall

`hermitnet run` builds the same Topo with its own switch, controller and shaping classes.
Link settings are attached as Mininet TCLink parameters (bw in Mbit/s, delay, loss in %), so
`--link tc` shapes them; `hermitnet run` applies them itself and reports what it could not.
"""

from __future__ import annotations

import os
import sys

from mininet.topo import Topo

# `mn --custom` runs this file without __file__: then the checkout is the working directory.
_REPO = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) if "__file__" in globals()
         else os.getcwd())


class National3GTopo(Topo):
    """Switches, hosts and links of a `hermitnet.plan.Plan`, with plan names as node params."""

    def build(self, scenario: str = "scenarios/baseline.yaml", plan=None, prefix: str = "mn"):
        if plan is None:
            plan = _plan_from_file(scenario, prefix)
        nodes = {}
        for switch in plan.switches:
            nodes[switch.name] = self.addSwitch(
                switch.node, dpid=f"{switch.dpid:016x}", hermit_name=switch.name,
                controlled=switch.controlled, role=switch.role,
            )
        for host in plan.hosts:
            nodes[host.name] = self.addHost(
                host.node, ip=f"{host.ip}/{host.prefix_len}", mac=host.mac,
                defaultRoute=f"dev {host.node}-eth0", hermit_name=host.name,
            )
        for link in plan.links:
            self.addLink(nodes[link.a], nodes[link.b], port1=link.a_port, port2=link.b_port,
                         kind=link.kind, **_tc_params(link.spec))


def _tc_params(spec) -> dict:
    params = {}
    if spec.bw_mbps:
        params["bw"] = spec.bw_mbps
    if spec.delay_ms:
        params["delay"] = f"{spec.delay_ms}ms"
    if spec.jitter_ms:
        params["jitter"] = f"{spec.jitter_ms}ms"
    if spec.loss_pct:
        params["loss"] = spec.loss_pct
    return params


def _plan_from_file(scenario: str, prefix: str):
    if _REPO not in sys.path:
        sys.path.insert(0, _REPO)
    from hermitnet import plan as plan_module
    from hermitnet import scenario as scenario_module

    path = scenario if os.path.isabs(scenario) else os.path.join(_REPO, scenario)
    if not os.path.exists(path):
        path = scenario
    return plan_module.build(scenario_module.load(path), run_tag=0, prefix=prefix)


topos = {"national3g": National3GTopo}
