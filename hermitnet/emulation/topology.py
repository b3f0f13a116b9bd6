"""The national 3G network as a Mininet Topo: a graph only, built from a hermitnet plan.

    phones --air--> NodeB switches --backhaul--> RNC --> core --> intranet sites
                                                         core --> fixed-line terminals
                                                         core --> border --uplink--> global zone

`hermitnet run` builds it with its own switch, controller and shaping classes; by hand,
`mn --custom topologies/national3g.py` builds it from a scenario file. Link settings are
attached as Mininet TCLink parameters (bw in Mbit/s, delay, loss in %), so `--link tc` shapes
them; `hermitnet run` applies them itself and reports what it could not.
"""

from __future__ import annotations

from mininet.topo import Topo

from hermitnet import plan as plan_module
from hermitnet import scenario as scenario_module
from hermitnet import shipped


class National3GTopo(Topo):
    """Switches, hosts and links of a `hermitnet.plan.Plan`, with plan names as node params.

    `scenario` is a scenario file (relative to the working directory) or the name of a shipped
    scenario; `plan`, if given, is used instead.
    """

    def build(self, scenario: str = "baseline", plan=None, prefix: str = "mn"):
        if plan is None:
            loaded = scenario_module.load(shipped.scenario_path(scenario))
            plan = plan_module.build(loaded, run_tag=0, prefix=prefix)
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
        for censor in plan.censors:   # a bridge between its two ports, set up by the run
            nodes[censor.name] = self.addHost(censor.node, ip=None, hermit_name=censor.name)
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
