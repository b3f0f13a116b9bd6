"""Leakage probes: crafted packets (scapy), each with a unique tag, in both directions.

Senders: every subscriber (national handsets, fixed lines, smuggled foreign handsets) and one
global site (a host beyond the uplink). Each sends, to every host its crossing may not reach
(hermitnet.zones.allowed), a few packets of each kind:

    policy-hole     plain UDP from the sender's own address (path: its crossing)
    spoofed-source  UDP with the source address of a host that may reach the destination
    tunnel-dns      a DNS query to the destination (DNS tunnelling)
    tunnel-icmp     an ICMP echo with a payload (ICMP tunnelling)
    ipv6            UDP over IPv6 link-local addresses (the policy is written for IPv4)

Sites get every kind; subscribers, foreign handsets and one unlisted address of each forbidden
zone (an address that is no host's: only the edge captures can see it) get policy-hole.

Positive controls are probes of the same forms to destinations the policy ALLOWS
(`control: True`), between hosts with radio service: if they do not arrive, the path they
stand for is not measured.

Every probe carries an 8-byte tag ("hn" + the run's tag + the probe's number, base 36) at the
start of its payload (UDP, ICMP) or as the first label of its DNS name. The observers count a
probe only when the tag AND the source address it carries match (`nft_match`, `match_packet`):
never by port or ICMP id, so ordinary traffic (a ping, a DNS lookup) is never taken for a probe.
"""

from __future__ import annotations

import json
import sys
import time

from hermitnet import zones
from hermitnet.plan import SUBSCRIBER_KINDS

KINDS = ("policy-hole", "spoofed-source", "tunnel-dns", "tunnel-icmp", "ipv6")
KIND_PATH = {"spoofed-source": "spoofed-source", "tunnel-dns": "tunnel", "tunnel-icmp": "tunnel",
             "ipv6": "ipv6"}
PORTS = {"policy-hole": 33433, "spoofed-source": 33434, "tunnel-dns": 53, "ipv6": 33435}
PACKETS_PER_PROBE = 3
TAG_BYTES = 8
DNS_TAG_OFFSET_BITS = (8 + 12 + 1) * 8   # UDP header, DNS header, the label's length byte
PAYLOAD_OFFSET_BITS = 8 * 8              # after the UDP or ICMP echo header
UNLISTED = {"intranet": "10.255.0.1", "national": "203.0.113.250", "global": "198.18.255.1"}
UNLISTED_MAC = "02:00:00:00:00:01"
MAX_CONTROLS_PER_PATH = 3
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address the kernel gives an interface with this MAC."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def _base36(value: int, width: int) -> str:
    digits = ""
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits = _DIGITS[digit] + digits
    return digits


def make_tag(run_tag: int, number: int) -> str:
    """'hn' + 2 base-36 digits of the run's tag + 4 of the probe's number: 8 ASCII bytes."""
    if not 0 <= number < 36 ** 4:
        raise ValueError("too many probes for a 4-digit tag")
    return "hn" + _base36(run_tag % (36 * 36), 2) + _base36(number, 4)


def probe_path(kind: str, src, dst) -> str:
    """The leakage path a probe stands for: the foreign cell, its kind's path, or its crossing."""
    crossing = zones.path(src, dst)
    if crossing == "foreign-cell":
        return crossing
    return KIND_PATH.get(kind, crossing)


def senders(plan) -> list:
    """Hosts that send probes: every subscriber, and the first global site (inbound probes)."""
    subscribers = plan.subscribers()
    global_sites = [h for h in plan.hosts if h.kind == "server" and h.zone == "global"]
    return subscribers + global_sites[:1]


def plan_probes(plan, state) -> list[dict]:
    """Every probe of the run, leakage probes and positive controls, numbered and tagged."""
    ends = zones.endpoints(plan, state)
    controlled = {s.name for s in plan.switches if s.controlled}
    macs = {h.name: h.mac for h in plan.hosts}
    without_service = {name for name, a in plan.radio_t0.items() if a.cell is None}
    probes: list[dict] = []

    def add(kind, sender, dst_name, dst_ip, dst_mac, src_ip, *, control):
        src, dst = ends[sender.name], ends.get(dst_name) or zones.unlisted(dst_ip)
        probes.append({
            "id": len(probes), "tag": make_tag(plan.run_tag, len(probes)), "kind": kind,
            "sender": sender.name, "sender_class": src.sender_class, "src_ip": src_ip,
            "src_ll": link_local(macs[sender.name]), "destination": dst.name,
            "dst_ip": dst_ip, "dst_mac": dst_mac, "dst_zone": dst.zone,
            "path": probe_path(kind, src, dst), "control": control,
        })

    controls: dict[str, list[tuple]] = {}
    for sender in senders(plan):
        src = ends[sender.name]
        for dst_host in (h for h in plan.hosts if h.name != sender.name):
            dst = ends[dst_host.name]
            for kind in _kinds_for(sender, dst_host):
                if zones.allowed(src, dst, state):
                    ends_ok = not ({sender.name, dst_host.name} & without_service)
                    if ends_ok and _controls(kind, src, dst,
                                             {sender.switch, dst_host.switch} & controlled):
                        controls.setdefault(probe_path(kind, src, dst), []).append(
                            (kind, sender, dst_host))
                    continue
                src_ip = sender.ip
                if kind == "spoofed-source":
                    borrowed = [h for h in plan.hosts if h.kind in ("mobile", "fixed")
                                and h.name != sender.name
                                and zones.allowed(ends[h.name], dst, state)]
                    if not borrowed:
                        continue
                    src_ip = borrowed[0].ip
                add(kind, sender, dst_host.name, dst_host.ip, dst_host.mac, src_ip,
                    control=False)
        for ip in UNLISTED.values():
            if (sender.kind in SUBSCRIBER_KINDS
                    and not zones.allowed(src, zones.unlisted(ip), state)):
                add("policy-hole", sender, "", ip, UNLISTED_MAC, sender.ip, control=False)
    for path_name in zones.PATHS:
        for kind, sender, dst_host in _spread(controls.get(path_name, [])):
            add(kind, sender, dst_host.name, dst_host.ip, dst_host.mac, sender.ip, control=True)
    return probes


def _controls(kind: str, src, dst, controlled_ends: set) -> bool:
    """May an allowed (src, dst) pair of this kind stand as a positive control of its path?

    Not a pair inside one zone (site to site: no crossing), except over IPv6, which the
    national network never carries (its pipeline is IPv4 only): an IPv6 control runs between
    hosts outside it (global sites, foreign handsets) and shows the IPv6 probes can be seen."""
    if kind == "ipv6":
        return not controlled_ends
    return src.zone != dst.zone or zones.path(src, dst) == "foreign-cell"


def _kinds_for(sender, dst_host) -> tuple[str, ...]:
    if dst_host.kind != "server":
        return ("policy-hole",)
    if sender.kind == "server":
        return ("policy-hole", "ipv6")
    return KINDS


def _spread(candidates: list[tuple]) -> list[tuple]:
    """At most MAX_CONTROLS_PER_PATH controls of one path, from as many senders and kinds as
    there are, in the order found (deterministic)."""
    chosen: list[tuple] = []
    used_senders: set[str] = set()
    used_kinds: set[str] = set()
    for kind, sender, dst in candidates:
        if len(chosen) == MAX_CONTROLS_PER_PATH:
            break
        if sender.name not in used_senders or kind not in used_kinds:
            chosen.append((kind, sender, dst))
            used_senders.add(sender.name)
            used_kinds.add(kind)
    return chosen


def nft_match(probe: dict) -> str:
    """The nft match (without counter) that recognises one probe by its tag and carried source."""
    tag = "0x" + probe["tag"].encode().hex()
    kind = probe["kind"]
    if kind == "ipv6":
        return (f"ip6 saddr {probe['src_ll']} udp dport {PORTS[kind]} "
                f"@th,{PAYLOAD_OFFSET_BITS},64 {tag}")
    if kind == "tunnel-icmp":
        return (f"ip saddr {probe['src_ip']} icmp type echo-request "
                f"@th,{PAYLOAD_OFFSET_BITS},64 {tag}")
    if kind == "tunnel-dns":
        return f"ip saddr {probe['src_ip']} udp dport 53 @th,{DNS_TAG_OFFSET_BITS},64 {tag}"
    return f"ip saddr {probe['src_ip']} udp dport {PORTS[kind]} @th,{PAYLOAD_OFFSET_BITS},64 {tag}"


def match_packet(packet, by_tag: dict[str, dict]) -> dict | None:
    """The probe a captured packet (scapy) is, by its tag and carried source; None if none."""
    from scapy.all import DNSQR, ICMP, IP, UDP, IPv6, Raw

    tag = None
    if DNSQR in packet:
        tag = bytes(packet[DNSQR].qname)[:TAG_BYTES].decode(errors="replace")
    elif (UDP in packet or ICMP in packet) and Raw in packet:
        if ICMP in packet and packet[ICMP].type != 8:
            return None
        tag = bytes(packet[Raw].load[:TAG_BYTES]).decode(errors="replace")
    probe = by_tag.get(tag) if tag else None
    if probe is None:
        return None
    if IPv6 in packet:
        return probe if probe["kind"] == "ipv6" and packet[IPv6].src == probe["src_ll"] else None
    if IP in packet and packet[IP].src == probe["src_ip"] and probe["kind"] != "ipv6":
        return probe
    return None


def build_packet(probe: dict, src_mac: str):
    """The probe's frame (scapy): its tag leads the payload, or the DNS name."""
    from scapy.all import DNS, DNSQR, ICMP, IP, UDP, Ether, IPv6, Raw

    ether = Ether(src=src_mac, dst=probe["dst_mac"])
    payload = Raw(load=probe["tag"].encode() + f" {probe['kind']}".encode())
    kind = probe["kind"]
    if kind == "ipv6":
        return ether / IPv6(src=probe["src_ll"], dst=link_local(probe["dst_mac"])) \
            / UDP(sport=PORTS[kind], dport=PORTS[kind]) / payload
    ip = IP(src=probe["src_ip"], dst=probe["dst_ip"])
    if kind == "tunnel-icmp":
        return ether / ip / ICMP(type=8, id=probe["id"] & 0xFFFF) / payload
    if kind == "tunnel-dns":
        return ether / ip / UDP(sport=PORTS["policy-hole"], dport=53) \
            / DNS(rd=1, qd=DNSQR(qname=f"{probe['tag']}.exfil.example."))
    return ether / ip / UDP(sport=PORTS[kind], dport=PORTS[kind]) / payload


def run(emu, plan, probes: list[dict], attachments: dict | None = None,
        timeout_s: float = 120) -> list[dict]:
    """Send every probe from inside its sender's host, all senders at once.

    Returns the probes with what was sent: `packets_sent`, `bytes_sent` (IP bytes),
    `send_errors` and `send_error` (the first error's text); a sender whose radio has no
    serving cell in `attachments` (the radio at the moment of sending; the plan's t = 0 radio
    when not given) sends nothing and its probes say `no_service: True`."""
    attachments = plan.radio_t0 if attachments is None else attachments
    by_sender: dict[str, list[dict]] = {}
    for probe in probes:
        by_sender.setdefault(probe["sender"], []).append(probe)
    hosts = {h.name: h for h in plan.hosts}
    processes = []
    outcome: dict[int, dict] = {}
    for name, mine in by_sender.items():
        attachment = attachments.get(name)
        if attachment is not None and attachment.cell is None:
            for probe in mine:
                outcome[probe["id"]] = {"packets_sent": 0, "bytes_sent": 0, "send_errors": 0,
                                        "no_service": True}
            continue
        host = hosts[name]
        args = {"iface": f"{host.node}-eth0", "src_mac": host.mac, "probes": mine}
        processes.append((name, emu.popen(name, [sys.executable, "-m", __name__,
                                                 json.dumps(args)],
                                          "probes", stdout=-1, stderr=-1, text=True)))
    for name, process in processes:
        out, err = process.communicate(timeout=timeout_s)
        if process.returncode != 0:
            from hermitnet.errors import HermitError

            raise HermitError(f"probe sender in {name} failed: {err.strip()[-400:]}")
        for key, sent in json.loads(out).items():
            outcome[int(key)] = {**sent, "no_service": False}
    return [{**probe, **outcome[probe["id"]]} for probe in probes]


def merge_rounds(rounds: list[list[dict]]) -> list[dict]:
    """The probes of several rounds (the same tags sent at each of measure.probes.at_s) as one
    list: what was sent added up; a sender is without service only if it was in every round."""
    if not rounds:
        return []
    merged = {p["id"]: dict(p) for p in rounds[0]}
    for later in rounds[1:]:
        for probe in later:
            into = merged[probe["id"]]
            for key in ("packets_sent", "bytes_sent", "send_errors"):
                into[key] = into.get(key, 0) + probe.get(key, 0)
            into["no_service"] = into.get("no_service", False) and probe.get("no_service", False)
            if not into.get("send_error") and probe.get("send_error"):
                into["send_error"] = probe["send_error"]
    return list(merged.values())


def send(iface: str, src_mac: str, probes: list[dict]) -> dict[int, dict]:
    """Send the probes from inside a host (runs there, see main()): per probe, what was sent.

    A frame the kernel refuses (e.g. an air link that drops it on the way out) is a send error,
    counted and not taken as sent."""
    from scapy.all import IP, IPv6, conf

    sent: dict[int, dict] = {}
    socket = conf.L2socket(iface=iface)
    try:
        for probe in probes:
            packet = build_packet(probe, src_mac)
            layer = packet[IPv6] if IPv6 in packet else packet[IP]
            record = {"packets_sent": 0, "bytes_sent": 0, "send_errors": 0}
            for _ in range(PACKETS_PER_PROBE):
                try:
                    socket.send(packet)
                except OSError as error:
                    record["send_errors"] += 1
                    record.setdefault("send_error", str(error))
                else:
                    record["packets_sent"] += 1
                    record["bytes_sent"] += len(layer)
                time.sleep(0.002)
            sent[probe["id"]] = record
    finally:
        socket.close()
    return sent


def main() -> int:
    args = json.loads(sys.argv[1])
    print(json.dumps(send(args["iface"], args["src_mac"], args["probes"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
