"""The uplink's state changes on the timeline, as commands: down, up (as configured), degraded.

Pure: each builder returns the argv lists (and nft script) for both ends of the uplink link
(border switch <-> global switch, both in the root namespace) and what of the request this
machine cannot emulate; the timeline's actions run them with run_checked.

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


def uplink_link(plan):
    """The plan's uplink link (border <-> global)."""
    return next(link for link in plan.links if link.kind == "uplink")


def interfaces(plan) -> tuple[str, str]:
    link = uplink_link(plan)
    nodes = {s.name: s.node for s in plan.switches}
    return f"{nodes[link.a]}-eth{link.a_port}", f"{nodes[link.b]}-eth{link.b_port}"


def loss_table(plan) -> str:
    """The run's own nftables table for uplink loss (the root namespace is shared)."""
    return f"hermitnet_uplink_{plan.prefix}"


def down(plan) -> UplinkChange:
    return UplinkChange(tuple(("ip", "link", "set", "dev", intf, "down")
                              for intf in interfaces(plan)))


def shaped(plan, spec: LinkSpec, caps) -> UplinkChange:
    """Both ends up and shaped to `spec` (the configured uplink for `up`, a degraded one)."""
    link = uplink_link(plan)
    commands = [("ip", "link", "set", "dev", intf, "up") for intf in interfaces(plan)]
    not_emulated = []
    what = f"uplink {link.a}-{link.b}"
    for intf in interfaces(plan):
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
            table, intf = loss_table(plan), interfaces(plan)[0]
            nft = (shaping.nft_loss_script(spec.loss_pct, intf, table) if spec.loss_pct
                   else f"table netdev {table}\ndelete table netdev {table}\n",)
        elif spec.loss_pct:
            not_emulated.append(f"{what}: loss_pct={spec.loss_pct:g} (neither netem nor "
                                "nftables netdev hooks on this machine)")
    return UplinkChange(tuple(commands), nft, tuple(not_emulated))
