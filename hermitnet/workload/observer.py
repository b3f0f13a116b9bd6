"""Leakage observers, independent of the controller: what actually arrived, and what crossed.

Host observers: nftables byte counters in the input hook of EVERY host (sites, subscribers,
foreign handsets), inside the host's namespace (gone with it). In order, first match wins:

    "probe:ID"   a probe addressed here, recognised by its tag and carried source
                 (hermitnet.workload.probes.nft_match)
    NAME         any other IPv4 packet from host NAME's address
    "zone:Z"     any other IPv4 packet from an address of zone Z that is no host's (catch-all)
    "other"      anything else (IPv6 that is no probe, addresses outside every zone)

Edge observers: the run captures the uplink (border <-> global) and the foreign RAN's link
(foreign <-> global) with tcpdump; `read_edges` judges every captured packet by its crossing,
so traffic towards an address that is no host's (which no host observer can see) is counted
too, and counts the packets by source class for the reconciliation.
"""

from __future__ import annotations

import json
from pathlib import Path

from hermitnet import zones
from hermitnet.plan import SUBSCRIBER_POOL, ZONE_PREFIXES

TABLE = "hermitnet_obs"
EDGE_LINKS = {"uplink": "uplink", "foreign-backhaul": "foreign-ran"}


def counter_script(plan, host_name: str) -> str:
    """The nft table of the observer in `host_name` (probes are inserted at its head later)."""
    rules = [f'ip saddr {h.ip} counter accept comment "{h.name}"'
              for h in plan.hosts if h.name != host_name]
    prefixes = {"subscriber": SUBSCRIBER_POOL, **ZONE_PREFIXES}
    rules += [f'ip saddr {prefix} counter accept comment "zone:{zone}"'
              for zone, prefix in prefixes.items()]
    rules.append('counter comment "other"')
    body = "\n".join(f"    {rule}" for rule in rules)
    return (
        f"table inet {TABLE} {{\n"
        "  chain input {\n"
        "    type filter hook input priority -300; policy accept;\n"
        f"{body}\n"
        "  }\n"
        "}\n"
    )


def probe_script(host_name: str, probes: list[dict]) -> str:
    """nft commands inserting, at the head of the observer's chain, a counter for every probe
    addressed to `host_name` ("" if none)."""
    from hermitnet.workload.probes import nft_match

    return "".join(f'insert rule inet {TABLE} input {nft_match(p)} counter accept '
                   f'comment "probe:{p["id"]}"\n'
                   for p in probes if p["destination"] == host_name)


def install(emu, plan) -> None:
    """An observer in every host, counting from the moment the network is up."""
    for host in plan.hosts:
        emu.check(host.name, ["nft", "-f", "-"], counter_script(plan, host.name))


def add_probes(emu, plan, probes: list[dict]) -> None:
    """Counters for the probes, first in each destination's observer (before they are sent)."""
    for host in plan.hosts:
        script = probe_script(host.name, probes)
        if script:
            emu.check(host.name, ["nft", "-f", "-"], script)


def read(emu, plan) -> dict[str, dict[str, dict[str, int]]]:
    """{host: {counter: {"packets": n, "bytes": n}}} of every host's observer, the hosts read
    at once (a reading around a policy change delays the change by its duration)."""
    from concurrent.futures import ThreadPoolExecutor

    names = [h.name for h in plan.hosts]
    with ThreadPoolExecutor(max_workers=min(8, len(names) or 1)) as pool:
        return dict(zip(names, pool.map(lambda name: read_site(emu, name), names),
                        strict=True))


def read_site(emu, site: str) -> dict[str, dict[str, int]]:
    done = emu.run(site, ["nft", "-j", "list", "table", "inet", TABLE])
    return parse_counters(done.stdout)


def parse_counters(nft_json: str) -> dict[str, dict[str, int]]:
    counters = {}
    for item in json.loads(nft_json)["nftables"]:
        rule = item.get("rule")
        if not rule or "comment" not in rule:
            continue
        for expr in rule["expr"]:
            if "counter" in expr:
                counters[rule["comment"]] = {"packets": expr["counter"]["packets"],
                                             "bytes": expr["counter"]["bytes"]}
    return counters


def capture_files(plan, run_dir: Path) -> dict[str, Path]:
    """{edge: pcap} the run's captures of the edge links (see Emulation.capture). A second
    uplink is its own edge, `uplink-<name>` (the first, preferred one is `uplink`)."""
    files = {}
    for link in plan.links:
        if link.kind in EDGE_LINKS:
            edge = EDGE_LINKS[link.kind]
            name = f"capture-{link.a}-{link.b}"
            if edge in files:
                edge, name = f"{edge}-{link.name}", f"{name}-{link.name}"
            files[edge] = Path(run_dir) / f"{name}.pcap"
    return files


def read_edges(plan, policy, probes: list[dict], files: dict[str, Path],
               t0_wall: float | None = None) -> dict:
    """Each edge capture judged packet by packet (see `judge_edge`); an edge without a
    readable capture says so."""
    from scapy.all import PcapReader
    from scapy.error import Scapy_Exception

    edges = {}
    for edge, path in files.items():
        try:
            with PcapReader(str(path)) as reader:
                edges[edge] = judge_edge(edge, list(reader), plan, policy, probes, t0_wall)
        except (OSError, Scapy_Exception, EOFError) as error:
            edges[edge] = {"capture": str(path), "error": f"cannot read the capture: {error}"}
            continue
        edges[edge]["capture"] = str(path)
    return edges


def judge_edge(edge: str, packets, plan, policy, probes: list[dict],
               t0_wall: float | None = None) -> dict:
    """One edge's packets: outbound/inbound IPv4 packets by the class and the zone of the source
    address they carry, probes seen (by id),
    and the forbidden crossings towards addresses that are no host's (the catch-all), which
    only an edge can see.

    Outbound is what leaves the national network: on the uplink, frames sent by a host of the
    national network; on the foreign RAN's link, frames sent by a foreign handset (the sender
    by the frame's source MAC; by the source address when the MAC is no host's). The foreign
    RAN's link judges only the foreign-cell crossing (towards the global zone): what a foreign
    handset sends towards the national network crosses at the uplink, which the border
    decides.

    `policy` is the run's policy timeline (hermitnet.policy.timeline; a PolicyState if it never
    changed): each packet is judged by the policies in force at its capture time (on the run's
    clock, t = 0 at the wall time `t0_wall`); a crossing some of them allow is
    `unlisted_ambiguous`, not leakage."""
    from scapy.all import IP, Ether

    from hermitnet.policy import timeline as policy_timeline
    from hermitnet.workload.probes import match_packet

    timeline = policy_timeline.of(policy)
    ends = zones.endpoints(plan, timeline.initial)
    by_ip = {e.ip: e for e in ends.values()}
    by_mac = {h.mac: h for h in plan.hosts}
    controlled = {s.name for s in plan.switches if s.controlled}
    by_tag = {p["tag"]: p for p in probes}
    result = {"outbound": {}, "inbound": {}, "by_source_zone": {"outbound": {}, "inbound": {}},
              "probes_seen": {}, "unlisted_forbidden": [], "unlisted_ambiguous": []}
    unlisted: dict[tuple, dict] = {}
    for packet in packets:
        probe = match_packet(packet, by_tag)
        if probe is not None:
            key = str(probe["id"])
            result["probes_seen"][key] = result["probes_seen"].get(key, 0) + 1
        if IP not in packet:
            continue
        carried = by_ip.get(packet[IP].src) or zones.unlisted(packet[IP].src)
        dst = by_ip.get(packet[IP].dst) or zones.unlisted(packet[IP].dst)
        src = ends[probe["sender"]] if probe is not None else carried
        # The frame's source MAC is its sender's (no switch rewrites it): the direction, even
        # when the source address is borrowed.
        sender = by_mac.get(packet[Ether].src) if Ether in packet else None
        if edge.startswith("uplink"):
            outbound = (sender.switch in controlled if sender is not None
                        else carried.zone != "global")
        else:
            outbound = (sender.switch == "foreign" if sender is not None
                        else carried.kind == "foreign-handset")
        direction = "outbound" if outbound else "inbound"
        cls = carried.sender_class if carried.kind != "unlisted" else f"zone:{carried.zone}"
        result[direction][cls] = result[direction].get(cls, 0) + 1
        zone_counts = result["by_source_zone"][direction]
        zone_counts[carried.zone] = zone_counts.get(carried.zone, 0) + 1
        crossed = edge.startswith("uplink") or zones.path(src, dst) == "foreign-cell"
        if not (outbound and crossed and dst.kind == "unlisted"):
            continue
        t_s = float(packet.time) - t0_wall if t0_wall is not None else 0.0
        verdict = timeline.judge(lambda state, src=src, dst=dst: zones.allowed(src, dst, state),
                                 t_s)
        if verdict != "allowed":
            path = probe["path"] if probe is not None else zones.path(src, dst)
            kind = probe["kind"] if probe is not None else None
            cell = unlisted.setdefault((src.name, dst.ip, path, verdict), {
                "verdict": verdict, "source": src.name,
                "sender_class": zones.sender_class(src, timeline.at(t_s)), "destination": dst.ip,
                "dst_zone": dst.zone, "path": path, "probe_kind": kind, "packets": 0,
                "bytes": 0})
            cell["packets"] += 1
            cell["bytes"] += int(packet[IP].len)
    for cell in unlisted.values():
        key = "unlisted_forbidden" if cell.pop("verdict") == "forbidden" else "unlisted_ambiguous"
        result[key].append(cell)
    return result
