"""Leakage probes: who probes what, the markers the observer counts, the paths they stand for."""

from __future__ import annotations

import re
from pathlib import Path

from hermitnet import plan, scenario
from hermitnet.policy.state import PolicyState
from hermitnet.workload import observer, probes

REPO = Path(__file__).resolve().parents[2]


def _baseline():
    loaded = scenario.load(REPO / "scenarios" / "baseline.yaml")
    return loaded, plan.build(loaded), PolicyState.from_scenario(loaded)


def test_link_local_is_the_kernels_eui64_address():
    # 02:68:6e:07:00:0e -> flip the U/L bit, insert ff:fe
    assert probes.link_local("02:68:6e:07:00:0e") == "fe80::68:6eff:fe07:e"
    assert probes.link_local("00:11:22:33:44:55") == "fe80::211:22ff:fe33:4455"


def test_probes_go_only_to_zones_the_tier_may_not_reach():
    loaded, layout, state = _baseline()
    planned = probes.plan_probes(layout, state, loaded)
    zones = {s.name: s.zone for s in loaded.sites}
    for sender, items in planned.items():
        tier_zones = state.tier_zones[state.membership[sender]]
        assert bool(items) == bool(set(zones.values()) - set(tier_zones)), sender
        assert all(zones[p["site"]] not in tier_zones for p in items), sender
    citizen_sites = {p["site"] for p in planned["citizen-1"]}
    assert citizen_sites == {s.name for s in loaded.sites if s.zone in ("global", "national")}


def test_every_kind_is_sent_and_spoofing_borrows_an_allowed_address():
    loaded, layout, state = _baseline()
    planned = probes.plan_probes(layout, state, loaded)["citizen-1"]
    to_video = {p["kind"]: p for p in planned if p["site"] == "video"}
    assert set(to_video) == set(probes.KINDS)
    elite_ip = layout.host("elite-1").ip
    assert to_video["spoofed-source"]["src_ip"] == elite_ip
    assert to_video["policy-hole"]["src_ip"] == layout.host("citizen-1").ip


def test_observer_counts_each_kind_and_sender_before_counting_by_source():
    _, layout, _ = _baseline()
    script = observer.counter_script(layout)
    lines = [line.strip() for line in script.splitlines() if "counter" in line]
    probe_lines = [line for line in lines if '"probe:' in line]
    senders = probes.senders(layout)
    assert len(probe_lines) == len(senders) * len(probes.KINDS)
    # probes first (and set aside with accept), then the per-source counters
    assert lines.index(probe_lines[-1]) < min(i for i, line in enumerate(lines)
                                              if line.startswith("ip saddr"))
    assert all(" accept comment " in line for line in probe_lines)
    markers = {int(m) for m in re.findall(r"(?:sport|id) (\d+)", script)}
    assert markers == {probes.SENDER_BASE + i for i in range(len(senders))}


def test_paths_of_escaped_probes():
    assert probes.path_of("tunnel-dns", "global", "national") == "tunnel"
    assert probes.path_of("ipv6", "intranet", "national") == "ipv6"
    assert probes.path_of("policy-hole", "global", "national") == "uplink"
    assert probes.path_of("policy-hole", "intranet", "national") == "internal"
    assert probes.path_of("spoofed-source", "global", "foreign") == "foreign-cell"
