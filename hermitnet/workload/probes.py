"""Leakage probes: crafted packets (scapy) that try to get around the tier policy.

From every subscriber, towards every site in a zone its tier may not reach, a few packets of
each kind. The kinds, and the leakage path each stands for:

    policy-hole     plain UDP from the subscriber's own address ("uplink" or "internal")
    spoofed-source  UDP with the source address of a subscriber whose tier may reach the zone
    tunnel-dns      a DNS query to the site (DNS tunnelling)
    tunnel-icmp     an ICMP echo with a payload (ICMP tunnelling)
    ipv6            UDP over IPv6 link-local addresses (the policy is written for IPv4)

Each probe carries a marker naming its kind (UDP destination port, ICMP) and its sender (UDP
source port or ICMP id: SENDER_BASE + the sender's index), counted by the observer inside each
server before anything else, so a probe that escapes is counted once, under kind and sender. A
probe from a smuggled foreign handset that arrives took the foreign-cell path, whatever its kind.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time

KINDS = {
    # kind: (nft match inside the server, without the sender; leakage path, None: by zone)
    "policy-hole": ("udp dport 33433", None),
    "spoofed-source": ("udp dport 33434", "spoofed-source"),
    "tunnel-dns": ("udp dport 53", "tunnel"),
    "tunnel-icmp": ("icmp type echo-request", "tunnel"),
    "ipv6": ("meta nfproto ipv6 udp dport 33435", "ipv6"),
}
PORTS = {"policy-hole": 33433, "spoofed-source": 33434, "tunnel-dns": 53, "ipv6": 33435}
SENDER_BASE = 40000
PACKETS_PER_PROBE = 3


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address the kernel gives an interface with this MAC."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def plan_probes(plan, state, scenario) -> dict[str, list[dict]]:
    """{subscriber: [probe, ...]}: what each subscriber sends, to which forbidden site."""
    hosts = {h.name: h for h in plan.hosts}
    zone_of = {s.name: s.zone for s in scenario.sites}
    probes: dict[str, list[dict]] = {}
    for sub in (h for h in plan.hosts if h.kind != "server"):
        tier = state.membership[sub.name]
        mine = []
        for site_name, zone in zone_of.items():
            if zone in state.tier_zones[tier]:
                continue
            site = hosts[site_name]
            base = {"site": site_name, "zone": zone, "dst_ip": site.ip, "dst_mac": site.mac}
            for kind in KINDS:
                probe = {**base, "kind": kind, "src_ip": sub.ip}
                if kind == "spoofed-source":
                    allowed = [h for h in plan.hosts if h.kind in ("mobile", "fixed")
                               and zone in state.tier_zones[state.membership[h.name]]]
                    if not allowed:
                        continue
                    probe["src_ip"] = allowed[0].ip
                mine.append(probe)
        probes[sub.name] = mine
    return probes


def senders(plan) -> list:
    """Hosts that send probes, in marker order."""
    return [h for h in plan.hosts if h.kind != "server"]


def observer_rules(plan) -> list[str]:
    """nft rules (first in the observer's chain) that count and set aside escaped probes."""
    rules = []
    for index, sender in enumerate(senders(plan)):
        marker = SENDER_BASE + index
        for kind, (match, _) in KINDS.items():
            tag = f"icmp id {marker}" if kind == "tunnel-icmp" else f"udp sport {marker}"
            rules.append(f'{match} {tag} counter accept comment "probe:{kind}:{sender.name}"')
    return rules


def path_of(kind: str, zone: str, handset: str) -> str:
    if handset == "foreign":
        return "foreign-cell"
    return KINDS[kind][1] or ("uplink" if zone == "global" else "internal")


def run(emu, plan, state, scenario) -> int:
    """Send every subscriber's probes from inside its host, all at once; returns packets sent."""
    planned = plan_probes(plan, state, scenario)
    processes = []
    for index, sender in enumerate(senders(plan)):
        if not planned[sender.name]:
            continue
        args = {"iface": f"{sender.node}-eth0", "src_mac": sender.mac,
                "marker": SENDER_BASE + index, "probes": planned[sender.name]}
        processes.append(emu.popen(sender.name, [sys.executable, "-m", __name__,
                                                 json.dumps(args)],
                                   "probes", stdout=-1, stderr=-1, text=True))
    sent = 0
    for process in processes:
        out, err = process.communicate(timeout=120)
        if process.returncode != 0:
            from hermitnet.errors import HermitError

            raise HermitError(f"probe sender failed: {err.strip()[-400:]}")
        sent += int(out.strip() or 0)
    return sent


def send(iface: str, src_mac: str, marker: int, probes: list[dict]) -> int:
    """Send the probes from inside a host (runs there, see main()); returns packets sent."""
    from scapy.all import DNS, DNSQR, ICMP, IP, UDP, Ether, IPv6, Raw, conf

    packets = []
    for probe in probes:
        ether = Ether(src=src_mac, dst=probe["dst_mac"])
        payload = Raw(load=f"hermitnet-probe {probe['kind']} {probe['site']}".encode())
        kind = probe["kind"]
        if kind == "ipv6":
            packet = ether / IPv6(src=link_local(src_mac), dst=link_local(probe["dst_mac"])) \
                / UDP(sport=marker, dport=PORTS[kind]) / payload
        elif kind == "tunnel-icmp":
            packet = ether / IP(src=probe["src_ip"], dst=probe["dst_ip"]) \
                / ICMP(type=8, id=marker) / payload
        elif kind == "tunnel-dns":
            packet = ether / IP(src=probe["src_ip"], dst=probe["dst_ip"]) \
                / UDP(sport=marker, dport=53) / DNS(rd=1, qd=DNSQR(qname="exfil.example."))
        else:
            packet = ether / IP(src=probe["src_ip"], dst=probe["dst_ip"]) \
                / UDP(sport=marker, dport=PORTS[kind]) / payload
        packets += [packet] * PACKETS_PER_PROBE
    # One frame at a time: an air link that drops a frame (no service, loss) makes the send
    # fail with ENOBUFS; that frame is sent and lost, as on a real radio link.
    socket = conf.L2socket(iface=iface)
    try:
        for packet in packets:
            with contextlib.suppress(OSError):
                socket.send(packet)
            time.sleep(0.002)
    finally:
        socket.close()
    return len(packets)


def main() -> int:
    args = json.loads(sys.argv[1])
    print(send(args["iface"], args["src_mac"], args["marker"], args["probes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
