"""Leakage probes: who probes what, tags, the observers' matches, ordinary pings ignored."""

from __future__ import annotations

from pathlib import Path

from scapy.all import ICMP, IP, Ether, Raw

from hermitnet import plan, scenario
from hermitnet.policy.state import PolicyState
from hermitnet.workload import observer, probes

REPO = Path(__file__).resolve().parents[2]


def _baseline():
    loaded = scenario.load(REPO / "scenarios" / "baseline.yaml")
    layout = plan.build(loaded, run_tag=7)
    return loaded, layout, PolicyState.from_scenario(loaded)


def test_link_local_is_the_kernels_eui64_address():
    assert probes.link_local("02:68:6e:07:00:0e") == "fe80::68:6eff:fe07:e"
    assert probes.link_local("00:11:22:33:44:55") == "fe80::211:22ff:fe33:4455"


def test_tags_are_unique_eight_bytes():
    _, layout, state = _baseline()
    planned = probes.plan_probes(layout, state)
    tags = [p["tag"] for p in planned]
    assert len(set(tags)) == len(tags) and all(len(t.encode()) == 8 for t in tags)
    assert probes.make_tag(7, 0) == "hn070000" and probes.make_tag(1295, 36) == "hnzz0010"


def test_leakage_probes_go_only_where_the_crossing_is_forbidden():
    loaded, layout, state = _baseline()
    planned = probes.plan_probes(layout, state)
    zone = {s.name: s.zone for s in loaded.sites}
    for probe in planned:
        tier = state.tier_zones.get(state.membership.get(probe["sender"], ""), ())
        if probe["sender"] in zone or probe["control"]:
            continue
        if probe["destination"] in zone:
            assert zone[probe["destination"]] not in tier, probe
    citizen = {p["destination"] for p in planned if p["sender"] == "citizen-1"
               and not p["control"] and p["kind"] == "policy-hole"}
    others = {s.name for s in loaded.subscribers} - {"citizen-1"}
    # every service host but the resolver the citizen tier is handed (dns-walled)
    services = {h.name for h in layout.services()} - {"dns-walled"}
    assert citizen == ({s.name for s in loaded.sites if s.zone != "intranet"} | others | services
                       | {"unlisted:203.0.113.250", "unlisted:198.18.255.1"})


def test_probes_both_ways_and_controls_on_every_path_with_an_allowed_destination():
    _, layout, state = _baseline()
    planned = probes.plan_probes(layout, state)
    inbound = [p for p in planned if p["sender"] == "social" and not p["control"]]
    assert {p["destination"] for p in inbound} >= {"citizen-1", "news", "portal"}
    assert all(p["path"] in ("uplink", "ipv6") for p in inbound)
    controls = [p for p in planned if p["control"]]
    assert {p["path"] for p in controls} == {"uplink", "internal", "spoofed-source", "tunnel",
                                             "ipv6"}
    spoof = next(p for p in planned if p["kind"] == "spoofed-source" and not p["control"]
                 and p["destination"] == "video")
    assert spoof["src_ip"] != layout.host(spoof["sender"]).ip


def test_observer_counts_probes_by_tag_and_source_never_by_port_or_id():
    _, layout, state = _baseline()
    planned = probes.plan_probes(layout, state)
    script = observer.probe_script("news", planned)
    lines = script.splitlines()
    mine = [p for p in planned if p["destination"] == "news"]
    assert len(lines) == len(mine) > 0
    for line, probe in zip(lines, mine, strict=True):
        assert "0x" + probe["tag"].encode().hex() in line
        assert (probe["src_ip"] in line) or (probe["src_ll"] in line)
        assert "icmp id" not in line and "sport" not in line


def test_host_observer_counts_by_source_then_catch_all():
    _, layout, _ = _baseline()
    script = observer.counter_script(layout, "news")
    comments = [line.split('comment "')[1].rstrip('"') for line in script.splitlines()
                if "comment" in line]
    hosts = [h.name for h in layout.hosts if h.name != "news"]
    assert comments == [*hosts, "zone:subscriber", "zone:intranet", "zone:national",
                        "zone:global", "other"]


def test_an_ordinary_ping_is_never_a_probe():
    """A ping whose id falls where the old markers were, with ping's own payload."""
    _, layout, state = _baseline()
    planned = probes.plan_probes(layout, state)
    by_tag = {p["tag"]: p for p in planned}
    citizen = layout.host("citizen-1")
    for icmp_id in (40000, 40001, 40005, planned[0]["id"]):
        ping = Ether() / IP(src=citizen.ip, dst=layout.host("news").ip) \
            / ICMP(type=8, id=icmp_id, seq=1) / Raw(load=bytes(range(16, 72)))
        assert probes.match_packet(ping, by_tag) is None


def test_a_probe_matches_only_with_its_tag_and_its_source():
    _, layout, state = _baseline()
    planned = probes.plan_probes(layout, state)
    by_tag = {p["tag"]: p for p in planned}
    for kind in probes.KINDS:
        probe = next(p for p in planned if p["kind"] == kind)
        packet = probes.build_packet(probe, layout.host(probe["sender"]).mac)
        assert probes.match_packet(Ether(bytes(packet)), by_tag) == probe, kind
    probe = next(p for p in planned if p["kind"] == "policy-hole")
    forged = dict(probe, src_ip="100.64.9.9")
    packet = probes.build_packet(forged, "02:00:00:00:00:09")
    assert probes.match_packet(Ether(bytes(packet)), by_tag) is None


def test_edge_capture_direction_follows_the_sender_not_the_borrowed_address():
    from hermitnet import scenario as scenario_module

    loaded = scenario_module.load(REPO / "tests" / "ground_truth" / "holes.yaml")
    layout = plan.build(loaded, run_tag=11)
    state = PolicyState.from_scenario(loaded)
    planned = probes.plan_probes(layout, state)
    roamer = layout.host("roamer-1")
    spoof = next(p for p in planned if p["sender"] == "roamer-1"
                 and p["kind"] == "spoofed-source" and p["destination"] == "news")
    borrowed = probes.build_packet(spoof, roamer.mac)
    elite = layout.host("elite-1")
    out = Ether(src=elite.mac, dst=layout.host("video").mac) / IP(
        src=elite.ip, dst=layout.host("video").ip) / Raw(load=b"x" * 10)
    unlisted = next(p for p in planned if p["sender"] == "citizen-1"
                    and p["destination"] == "unlisted:198.18.255.1")
    escaped = probes.build_packet(unlisted, layout.host("citizen-1").mac)
    seen = observer.judge_edge("uplink", [Ether(bytes(x)) for x in (borrowed, out, escaped)],
                               layout, state, planned)
    # the roamer's packet carries citizen-1's address but comes in from the global side
    assert seen["inbound"] == {"citizen": 1} and seen["outbound"] == {"elite": 1, "citizen": 1}
    assert seen["probes_seen"] == {str(spoof["id"]): 1, str(unlisted["id"]): 1}
    (caught,) = seen["unlisted_forbidden"]
    assert caught["source"] == "citizen-1" and caught["path"] == "uplink"
    assert caught["bytes"] == len(escaped[IP])
