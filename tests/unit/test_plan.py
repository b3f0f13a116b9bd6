"""Topology plan: reserved addresses, unique names/MACs/ports, short interface names, paths."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections import Counter
from pathlib import Path

import pytest

from hermitnet import plan, scenario

RESERVED = [ipaddress.ip_network(n) for n in
            ("10.0.0.0/8", "100.64.0.0/10", "198.18.0.0/15", "203.0.113.0/24")]
IFNAMSIZ = 15  # visible characters of a Linux interface name (16 bytes with the NUL)
SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module", params=SHIPPED, ids=lambda p: p.stem)
def shipped_plan(request):
    """The plan of every shipped scenario, with the largest run tag the runner hands out."""
    return plan.build(scenario.load(request.param), run_tag=36 * 36 - 1, prefix="hnzz")


def _nodes(p: plan.Plan) -> list[str]:
    return [s.node for s in p.switches] + [h.node for h in p.hosts]


def test_addresses_are_reserved_and_unique(shipped_plan):
    ips = [h.ip for h in shipped_plan.hosts]
    assert len(set(ips)) == len(ips)
    for host in shipped_plan.hosts:
        address = ipaddress.ip_address(host.ip)
        assert any(address in net for net in RESERVED), host


def test_addresses_follow_the_zone_layout(baseline, baseline_plan):
    pool = ipaddress.ip_network(plan.SUBSCRIBER_POOL)
    zones = {zone: ipaddress.ip_network(prefix) for zone, prefix in plan.ZONE_PREFIXES.items()}
    for sub in baseline.subscribers:
        address = ipaddress.ip_address(baseline_plan.host(sub.name).ip)
        assert address in pool
        assert not any(address in net for net in zones.values())
    for site in baseline.sites:
        host = baseline_plan.host(site.name)
        address = ipaddress.ip_address(host.ip)
        assert [zone for zone, net in zones.items() if address in net] == [site.zone], site
        assert host.zone == site.zone and host.kind == "server"
    assert baseline_plan.host("citizen-1").ip.startswith("100.64.")
    assert baseline_plan.host("library-1").ip.startswith("100.100.")


def test_macs_are_unique_and_locally_administered(shipped_plan):
    macs = [h.mac for h in shipped_plan.hosts]
    assert len(set(macs)) == len(macs)
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0b10 and not first & 0b01, mac   # locally administered, unicast


def test_names_and_dpids_are_unique(shipped_plan):
    for values in ([s.name for s in shipped_plan.switches] + [h.name for h in shipped_plan.hosts],
                   _nodes(shipped_plan), [s.dpid for s in shipped_plan.switches]):
        assert len(set(values)) == len(values)


def test_ports_are_unique_per_switch(shipped_plan):
    switch_names = {s.name for s in shipped_plan.switches}
    censor_names = {c.name for c in shipped_plan.censors}
    used = Counter()
    for link in shipped_plan.links:
        for end, port in ((link.a, link.a_port), (link.b, link.b_port)):
            if end in switch_names:
                assert port >= 1, link
                used[(end, port)] += 1
            elif end in censor_names:
                assert port in (0, 1), link   # a censor bridges eth0 (inside) and eth1
                used[(end, port)] += 1
            else:
                assert port == 0, link   # a host has one interface: eth0
    assert [k for k, n in used.items() if n > 1] == []
    for host in shipped_plan.hosts:
        assert used[(host.switch, host.port)] == 1


def test_interface_names_fit_ifnamsiz(shipped_plan):
    for node in _nodes(shipped_plan):
        assert len(node) <= 10, node
    for link in shipped_plan.links:
        for end, port in ((link.a, link.a_port), (link.b, link.b_port)):
            node = shipped_plan.nodes()[end]
            assert len(f"{node}-eth{port}") <= IFNAMSIZ


def test_interface_names_fit_at_the_largest_scenario(scenario_dict):
    """200 subscribers and 200 sites with the runner's 4-character run prefix."""
    data = scenario_dict()
    data["subscribers"] = [{"name": f"p-{i}", "tier": "citizen", "cell": "cell-1"}
                           for i in range(200)]
    data["sites"] = [{"name": f"s-{i}", "zone": "intranet"} for i in range(200)]
    big = plan.build(scenario.from_dict(data), run_tag=36 * 36 - 1, prefix="hnzz")
    assert max(len(n) for n in _nodes(big)) <= 10
    assert max(h.port for h in big.hosts) <= 999   # "-ethNNN"
    ips = [h.ip for h in big.hosts]
    assert len(set(ips)) == len(ips)


def test_too_many_hosts_in_one_address_block(scenario_dict):
    """The plan guards its own address blocks even if the scenario's limit (200) is raised."""
    loaded = scenario.from_dict(scenario_dict())
    sites = tuple(scenario.Site(f"s-{i}", "global", f"s{i}.example", "") for i in range(241))
    with pytest.raises(ValueError, match="too many sites in zone 'global'"):
        plan.build(dataclasses.replace(loaded, sites=sites))
    plan.build(dataclasses.replace(loaded, sites=sites[:240]))


def test_deterministic_for_the_same_run_tag(baseline):
    assert plan.build(baseline, 7, "hnab") == plan.build(baseline, 7, "hnab")
    other = plan.build(baseline, 8, "hnac")
    assert other != plan.build(baseline, 7, "hnab")
    assert other.switches[0].dpid != plan.build(baseline, 7, "hnab").switches[0].dpid


def test_run_tag_must_fit_16_bits(baseline):
    with pytest.raises(ValueError):
        plan.build(baseline, 0x10000)
    with pytest.raises(ValueError):
        plan.build(baseline, -1)


def test_only_the_global_switch_is_uncontrolled(baseline_plan):
    uncontrolled = [s.name for s in baseline_plan.switches if not s.controlled]
    assert uncontrolled == ["global"]
    assert baseline_plan.switch("global").role == "global"
    assert baseline_plan.switch("nb-pyongyang-1").role == "ran"


def test_links_carry_the_scenario_specs(baseline, baseline_plan):
    by_kind = Counter(link.kind for link in baseline_plan.links)
    assert by_kind["uplink"] == 1
    assert by_kind["backhaul"] == len(baseline.cells)
    assert by_kind["air"] == 4 and by_kind["fixed"] == 2
    assert by_kind["server"] == len(baseline.sites) + len(baseline_plan.services())
    uplink = next(link for link in baseline_plan.links if link.kind == "uplink")
    assert {uplink.a, uplink.b} == {"border", "global"}
    assert uplink.spec == baseline.uplink
    air = next(link for link in baseline_plan.links if link.a == "elite-1")
    assert air.spec.bw_mbps == 5.0 and air.spec.delay_ms == 40


def test_path_citizen_to_global_goes_through_the_uplink(baseline_plan):
    path = baseline_plan.path_links("citizen-1", "video")
    assert [link.kind for link in path] == ["air", "backhaul", "core", "core", "uplink", "server"]
    # consecutive links share an endpoint: it is a path, from citizen-1 to video
    ends = [{link.a, link.b} for link in path]
    assert "citizen-1" in ends[0] and "video" in ends[-1]
    for left, right in zip(ends, ends[1:], strict=False):
        assert left & right


def test_path_within_the_intranet_avoids_the_uplink(baseline_plan):
    path = baseline_plan.path_links("library-1", "news")
    assert [link.kind for link in path] == ["fixed", "core", "core", "server"]
    assert baseline_plan.path_links("citizen-1", "citizen-1") == []


def test_path_to_unknown_host_is_empty(baseline_plan):
    assert baseline_plan.path_links("citizen-1", "nowhere") == []


def test_next_hop_ports(baseline_plan):
    core_ports = baseline_plan.trunk_ports("core")
    port_to = {neighbour: port for port, neighbour in core_ports.items()}
    assert set(port_to) == {"rnc", "intranet", "fixed", "border"}
    hops = baseline_plan.next_hop_ports("core")
    assert hops["video"] == port_to["border"]
    assert hops["news"] == port_to["intranet"]
    assert hops["portal"] == port_to["intranet"]
    assert hops["citizen-1"] == port_to["rnc"]
    assert hops["library-1"] == port_to["fixed"]
    assert set(hops) == {h.name for h in baseline_plan.hosts}
    cell = baseline_plan.next_hop_ports("nb-pyongyang-1")
    assert cell["citizen-1"] == baseline_plan.host("citizen-1").port
    assert cell["citizen-2"] == cell["video"] == next(
        p for p, n in baseline_plan.trunk_ports("nb-pyongyang-1").items() if n == "rnc")


def test_hosts_on(baseline_plan):
    assert {h.name for h in baseline_plan.hosts_on("fixed")} == {"library-1", "cafe-1"}
    assert all(h.zone == "global" for h in baseline_plan.hosts_on("global"))


def test_round_trip_through_json(shipped_plan):
    again = plan.Plan.from_dict(json.loads(json.dumps(shipped_plan.to_dict())))
    assert again == shipped_plan
    assert again.links[0].spec == shipped_plan.links[0].spec
    assert again.tier_index == shipped_plan.tier_index
