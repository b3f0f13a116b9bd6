"""An uplink's state changes on the timeline, as commands: down, up (as configured), degraded.

Pure: each builder returns the argv lists (and nft script) for both ends of one uplink link
(border switch <-> global switch, both in the root namespace; `name` is the scenario's uplink
name, None the first) and what of the request this machine cannot emulate; the timeline's
actions run them with run_checked. A link down is what the border's controller sees (a port
status): with several uplinks it moves allowed traffic to the next one up.

Down is the link down (`ip link set ... down` on both veth ends: nothing crosses in either
direction). Degraded is the HTB rate, and delay and loss with netem; without netem, loss is an
nftables random drop on both ends and delay is not emulated (said, never dropped silently).
"""

from __future__ import annotations

from dataclasses import dataclass

from hermitnet.emulation import shaping
from hermitnet.scenario import LinkSpec


@dataclass(frozen=True)
class UplinkChange:
    commands: tuple[tuple[str, ...], ...]
    nft: tuple[str, ...] = ()           # scripts for `nft -f -` in the root namespace
    not_emulated: tuple[str, ...] = ()


def uplink_links(plan) -> list:
    """The plan's uplink links (border <-> global), in the scenario's order."""
    return [link for link in plan.links if link.kind == "uplink"]


def uplink_link(plan, name: str | None = None):
    """The uplink link named `name` (None: the first)."""
    return next(link for link in uplink_links(plan) if name in (None, link.name))


def component(name: str) -> str:
    """The run watchdog's name for an uplink: "uplink" for the one of the `uplink:` form."""
    from hermitnet.scenario import SINGLE_UPLINK_NAME

    return "uplink" if name == SINGLE_UPLINK_NAME else f"uplink:{name}"


def interfaces(plan, name: str | None = None) -> tuple[str, str]:
    """(border end, global end) of the uplink, both in the root namespace."""
    link = uplink_link(plan, name)
    nodes = {s.name: s.node for s in plan.switches}
    return f"{nodes[link.a]}-eth{link.a_port}", f"{nodes[link.b]}-eth{link.b_port}"


def loss_table(plan, name: str | None = None) -> str:
    """The run's own nftables table for an uplink's loss (the root namespace is shared)."""
    index = uplink_links(plan).index(uplink_link(plan, name))
    return f"hermitnet_uplink_{plan.prefix}" + (f"_{index}" if index else "")


def down(plan, name: str | None = None) -> UplinkChange:
    return UplinkChange(tuple(("ip", "link", "set", "dev", intf, "down")
                              for intf in interfaces(plan, name)))


def shaped(plan, spec: LinkSpec, caps, name: str | None = None) -> UplinkChange:
    """Both ends up and shaped to `spec` (the configured uplink for `up`, a degraded one)."""
    link = uplink_link(plan, name)
    ends = interfaces(plan, name)
    commands = [("ip", "link", "set", "dev", intf, "up") for intf in ends]
    not_emulated = []
    what = f"uplink {link.a}-{link.b}" + (f" ({link.name})" if len(uplink_links(plan)) > 1
                                          else "")
    for intf in ends:
        if caps.htb and link.spec.bw_mbps:
            # shaped from the start: the HTB class takes the new rate in place
            commands.append(tuple(shaping.htb_rate_cmd(intf, spec.bw_mbps)))
        elif caps.htb:
            # unshaped from the start: a plain root qdisc first, so that an HTB put there by
            # an earlier degrade is replaced (HTB refuses a change of itself), then the rate
            commands.append(("tc", "qdisc", "replace", "dev", intf, "root", "pfifo"))
            if spec.bw_mbps:
                commands += [tuple(c) for c in shaping.htb_cmds(intf, spec.bw_mbps)]
        if caps.netem:
            commands += [tuple(c) for c in shaping.netem_cmds(intf, spec, under_htb=bool(
                spec.bw_mbps and caps.htb))]
    if spec.bw_mbps and not caps.htb:
        not_emulated.append(f"{what}: bw_mbps={spec.bw_mbps:g} (no HTB qdisc in this kernel)")
    nft = ()
    if not caps.netem:
        if spec.delay_ms or spec.jitter_ms:
            not_emulated.append(f"{what}: delay_ms={spec.delay_ms:g} jitter_ms="
                                f"{spec.jitter_ms:g} (no netem in this kernel)")
        if caps.nft:
            # on the border end only: its egress and ingress hooks cover both directions once
            table, intf = loss_table(plan, name), ends[0]
            nft = (shaping.nft_loss_script(spec.loss_pct, intf, table) if spec.loss_pct
                   else f"table netdev {table}\ndelete table netdev {table}\n",)
        elif spec.loss_pct:
            not_emulated.append(f"{what}: loss_pct={spec.loss_pct:g} (neither netem nor "
                                "nftables netdev hooks on this machine)")
    return UplinkChange(tuple(commands), nft, tuple(not_emulated))
