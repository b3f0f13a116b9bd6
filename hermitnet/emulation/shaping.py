"""Link shaping: plan what each interface gets, as commands, before anything runs.

Rates use HTB, delay, jitter and loss use netem, where the kernel has them. Without netem, loss on
a host's access link is emulated with an nftables random drop inside the host, and everything
else is reported as not emulated: a configured parameter is never dropped silently.

The builders here are pure (they return argv lists and nft scripts); the emulation runs them with
`hermitnet.emulation.process.run_checked`, which treats any failure as an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermitnet.emulation.delayline import MARK as DELAY_LINE_MARK
from hermitnet.errors import HermitError
from hermitnet.scenario import LinkSpec

HTB_HANDLE = "5:"
HTB_CLASS = "5:1"
NETEM_HANDLE = "10:"
NETEM_LIMIT = 1000     # frames netem holds by default; the no_reorder pfifo holds as many
NFT_LOSS_TABLE = "hermitnet_loss"


@dataclass(frozen=True)
class InterfaceShaping:
    """Egress shaping of one link end, in the namespace of `node` ("" for the root namespace)."""

    intf: str
    node: str
    tc: tuple[tuple[str, ...], ...]
    nft: str | None = None    # nft script loaded in the node's namespace (loss without netem)


@dataclass(frozen=True)
class LinkShaping:
    ends: tuple[InterfaceShaping, ...]
    not_emulated: tuple[str, ...] = field(default=())


def htb_cmds(intf: str, bw_mbps: float) -> list[list[str]]:
    return [
        ["tc", "qdisc", "replace", "dev", intf, "root", "handle", HTB_HANDLE,
         "htb", "default", "1"],
        htb_rate_cmd(intf, bw_mbps, "replace"),
    ]


def htb_rate_cmd(intf: str, bw_mbps: float, verb: str = "change") -> list[str]:
    burst_bytes = max(15_000, int(bw_mbps * 1e6 / 8 / 100))  # >= 10 ms at the rate
    return ["tc", "class", verb, "dev", intf, "parent", HTB_HANDLE, "classid", HTB_CLASS, "htb",
            "rate", f"{bw_mbps:g}mbit", "burst", str(burst_bytes), "quantum", "1514"]


def netem_cmd(intf: str, spec: LinkSpec, *, under_htb: bool) -> list[str]:
    """netem with the spec's delay, jitter and loss; "replace" adds it or changes it in place."""
    parent = ["parent", HTB_CLASS] if under_htb else ["root"]
    args = ["delay", f"{spec.delay_ms:g}ms"]
    if spec.jitter_ms:
        args += [f"{spec.jitter_ms:g}ms", "distribution", "normal"]
    if spec.loss_pct:
        args += ["loss", f"{spec.loss_pct:g}%"]
    return ["tc", "qdisc", "replace", "dev", intf, *parent, "handle", NETEM_HANDLE, "netem", *args]


def netem_cmds(intf: str, spec: LinkSpec, *, under_htb: bool) -> list[list[str]]:
    """netem_cmd, and for no_reorder with jitter a pfifo child in place of netem's time-ordered
    queue (tc-netem(8)): frames then leave in the order they came."""
    cmds = [netem_cmd(intf, spec, under_htb=under_htb)]
    if spec.no_reorder and spec.jitter_ms:
        cmds.append(["tc", "qdisc", "replace", "dev", intf, "parent", f"{NETEM_HANDLE}1",
                     "pfifo", "limit", str(NETEM_LIMIT)])
    return cmds


NFT_LOSS_STEPS = 1_000_000   # loss resolution: 0.0001 %


def nft_loss_script(loss_pct: float, device: str, table: str = NFT_LOSS_TABLE) -> str:
    """Drop loss_pct of the frames leaving and entering `device`, in steps of 0.0001 %.

    netdev-family hooks on the device itself (egress and ingress), so that every frame is
    subject to the loss: also those sent on raw packet sockets (scapy), which the inet
    output hook never sees. A loss above zero never rounds down to "drop nothing": the smallest
    threshold is one step; 100 % (a phone with no serving cell) drops everything.
    """
    threshold = round(loss_pct * NFT_LOSS_STEPS / 100)
    if loss_pct > 0:
        threshold = max(1, threshold)
    if threshold >= NFT_LOSS_STEPS:
        rule = "drop"
    else:
        rule = f"numgen random mod {NFT_LOSS_STEPS} < {threshold} drop"
    hook = 'type filter hook {} device "{}" priority 0; policy accept;'
    # Frames the userspace delay line sends on again were subject to the loss already.
    resent = f"meta mark {DELAY_LINE_MARK:#x} accept;"
    return (
        f"table netdev {table}\n"
        f"delete table netdev {table}\n"
        f"table netdev {table} {{\n"
        f"  chain egress {{ {hook.format('egress', device)} {resent} {rule}; }}\n"
        f"  chain ingress {{ {hook.format('ingress', device)} {rule}; }}\n"
        "}\n"
    )


def plan_link(link, plan, caps) -> LinkShaping:
    """Shaping of both ends of a plan link, and what of its spec this machine cannot emulate.

    `caps` says which shapers the kernel has (`htb`, `nft`) and what emulates delay, jitter and
    loss (`caps.delay_line`: netem, the userspace delay line, or nothing). Rates and netem apply
    to each end's egress (so to both directions). Without netem, loss on an access link is
    dropped by nftables inside the host, in both directions at once; with the userspace delay
    line (delayline.plan) instead of netem, delay, jitter and the loss nftables does not take
    are the delay line's.
    """
    spec = link.spec
    hosts = {h.name for h in plan.hosts}
    nodes = _nodes(plan)
    what = f"{link.kind} link {link.a}-{link.b}"
    host_end = next((name for name in (link.a, link.b) if name in hosts), None)
    rate = bool(spec.bw_mbps) and caps.htb
    netem, delay_line = caps.delay_line == "netem", caps.delay_line == "userspace"
    needs_netem = bool(spec.delay_ms or spec.jitter_ms or spec.loss_pct)
    loss_by_nft = not netem and bool(spec.loss_pct) and host_end is not None and caps.nft
    not_emulated = []
    if spec.bw_mbps and not caps.htb:
        not_emulated.append(f"{what}: bw_mbps={spec.bw_mbps:g} (no HTB qdisc in this kernel)")
    if not netem and not delay_line and (spec.delay_ms or spec.jitter_ms):
        not_emulated.append(f"{what}: delay_ms={spec.delay_ms:g} jitter_ms={spec.jitter_ms:g} "
                            "(no netem in this kernel)")
    if not netem and not delay_line and spec.loss_pct and not loss_by_nft:
        not_emulated.append(f"{what}: loss_pct={spec.loss_pct:g} (no netem in this kernel; "
                            "loss without netem is emulated on access links only)")
    ends = []
    for name, port in ((link.a, link.a_port), (link.b, link.b_port)):
        intf = f"{nodes[name]}-eth{port}"
        tc: list[list[str]] = []
        if rate:
            tc += htb_cmds(intf, spec.bw_mbps)
        if needs_netem and netem:
            tc += netem_cmds(intf, spec, under_htb=rate)
        in_host = name in hosts
        ends.append(InterfaceShaping(
            intf, nodes[name] if in_host else "", tuple(tuple(c) for c in tc),
            nft_loss_script(spec.loss_pct, intf) if loss_by_nft and name == host_end else None))
    return LinkShaping(tuple(ends), tuple(not_emulated))


def air_link_update(link, plan, spec: LinkSpec, caps) -> tuple[InterfaceShaping, ...]:
    """Commands that move a phone's air link, shaped by `plan_link` at the start, to `spec`.

    The rate is a change of the HTB class (every phone on the radio map has one) where the kernel
    has HTB; without HTB the rate was reported as not emulated when the link was set up. Loss
    (and the link's delay) goes to netem on both ends where the kernel has it, else to the
    nftables drop inside the phone. A loss with neither netem nor nftables is an error: the
    radio timeline cannot be emulated on this machine, and saying nothing would fake it.
    """
    host = next(name for name in (link.a, link.b) if name in {h.name for h in plan.hosts})
    nodes = _nodes(plan)
    netem = caps.delay_line == "netem"
    if spec.loss_pct and not netem and not caps.nft:
        raise HermitError(
            f"air link {link.a}-{link.b}: loss_pct={spec.loss_pct:g} needs netem or nftables "
            "(netdev egress hooks, Linux >= 5.16); this machine has neither")
    rate = bool(spec.bw_mbps) and caps.htb
    ends = []
    for name, port in ((link.a, link.a_port), (link.b, link.b_port)):
        intf = f"{nodes[name]}-eth{port}"
        tc: list[list[str]] = []
        if rate:
            tc.append(htb_rate_cmd(intf, spec.bw_mbps))
        if netem:
            tc += netem_cmds(intf, spec, under_htb=rate)
        nft = None
        if name == host and not netem and caps.nft:
            nft = nft_loss_script(spec.loss_pct, intf)
        ends.append(InterfaceShaping(intf, nodes[name] if name == host else "",
                                     tuple(tuple(c) for c in tc), nft))
    return tuple(ends)


def _nodes(plan) -> dict[str, str]:
    """Logical name -> emulated node name, for every switch, host and censor of the plan."""
    return plan.nodes()


def tc_batch(commands) -> str:
    """`tc -batch -` input for tc argv lists (each starting with "tc"): one process for all."""
    return "".join(" ".join(argv[1:]) + "\n" for argv in commands)


def host_setup_script(intf: str, *, tx_checksum_off: bool, neighbours: list[str],
                      tc: list, nft: str | None) -> str:
    """One `sh -e` script that prepares a host's interface in a single process: TX checksum
    offload off (userspace datapath), static neighbours (`ip -batch` lines), its egress shaping
    (`tc -batch`) and its nftables loss. Each part stops the script at its first error."""
    parts = ["set -e"]
    if tx_checksum_off:
        parts.append(f"ethtool -K {intf} tx off >/dev/null")

    def here(command: str, text: str) -> None:
        parts.append(f"{command} <<'HERMITNET_END'\n{text.rstrip(chr(10))}\nHERMITNET_END")

    if neighbours:
        here("ip -batch -", "\n".join(neighbours))
    if tc:
        here("tc -batch -", tc_batch(tc))
    if nft:
        here("nft -f -", nft)
    return "\n".join(parts) + "\n"
