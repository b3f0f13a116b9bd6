"""Ground truth of the leakage measurement: injected holes whose right answer is known.

Two runs on the real emulator. tests/ground_truth/holes.yaml with the test-only policy holes
(HERMITNET_TEST_HOLES): citizens allowed one global site (video), citizen-2's port without
anti-spoofing, the uplink open from the global zone to the intranet, the visitor allowed to
reach citizen-1's phone, and the border area unjammed (the smuggled handset on a foreign
cell). Each hole must be found on its path, under its tier, with the bytes its probes carried.
Its sealed twin (tests/ground_truth/sealed.yaml, no holes, the border jammed) must read 0 on
every path with every positive control arriving.
"""

from __future__ import annotations

import json
import os

import pytest

from hermitnet import runner, scenario
from hermitnet.policy.compile import TEST_HOLES_ENV
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

GROUND_TRUTH = REPO / "tests" / "ground_truth"
HOLES = {"allow": [["citizen", "video"], ["visitor", "citizen-1"]],
         "no_antispoofing": ["citizen-2"], "uplink_to": ["intranet"]}


def _run(name: str, tmp_path_factory, holes: dict | None) -> dict:
    loaded = scenario.load(GROUND_TRUTH / f"{name}.yaml")
    before = os.environ.pop(TEST_HOLES_ENV, None)
    if holes:
        os.environ[TEST_HOLES_ENV] = json.dumps(holes)
    try:
        _, results = runner.run(loaded, tmp_path_factory.mktemp(name),
                                progress=lambda message: None)
    finally:
        os.environ.pop(TEST_HOLES_ENV, None)
        if before is not None:
            os.environ[TEST_HOLES_ENV] = before
    return results


@pytest.fixture(scope="module")
def holes(tmp_path_factory):
    return _run("holes", tmp_path_factory, HOLES)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    return _run("sealed", tmp_path_factory, None)


def _leaks(results, **match) -> list[dict]:
    return [leak for leak in results["leakage"]["leaks"]
            if all(leak.get(k) == v for k, v in match.items())]


def _probe_bytes(results, **match) -> int:
    """What the matching leakage probes carried, as sent (IP bytes)."""
    return sum(p["bytes_sent"] for p in results["leakage"]["probes"]
               if all(p.get(k) == v for k, v in match.items()))


def _tagged(leaks: list[dict]) -> list[dict]:
    return [leak for leak in leaks if leak["probe_kind"] is not None]


def test_a_tier_allowed_one_global_site(holes):
    leaks = _tagged(_leaks(holes, destination="video", sender_class="citizen", path="uplink",
                           probe_kind="policy-hole"))
    assert {leak["source"] for leak in leaks} == {"citizen-1", "citizen-2"}
    expected = _probe_bytes(holes, destination="video", path="uplink", kind="policy-hole",
                            sender_class="citizen")
    assert expected > 0 and sum(leak["bytes"] for leak in leaks) == expected
    # the other global site stays closed to citizens
    assert not _leaks(holes, destination="social", source="citizen-1")


def test_a_port_without_anti_spoofing(holes):
    spoofed = _tagged(_leaks(holes, path="spoofed-source"))
    assert {leak["source"] for leak in spoofed} == {"citizen-2"}
    assert {leak["destination"] for leak in spoofed} == {"portal", "video", "social"}
    assert sum(leak["bytes"] for leak in spoofed) == _probe_bytes(
        holes, sender="citizen-2", kind="spoofed-source")
    assert holes["leakage"]["by_tier"]["citizen"] >= sum(leak["bytes"] for leak in spoofed)


def test_an_unjammed_border_area(holes):
    leaks = _tagged(_leaks(holes, source="smuggler-1", path="foreign-cell", seen_at="host"))
    # every global-zone host the smuggler's probes went to: the global sites, and since DNS is
    # real the foreign resolver, the foreign operator's resolver and the global control vantage
    probed = {p["destination"] for p in holes["leakage"]["probes"]
              if p["sender"] == "smuggler-1" and p["path"] == "foreign-cell"
              and not p["destination"].startswith("unlisted:")}
    assert probed == {"video", "social", "dns-foreign", "dns-operator", "control-global"}
    assert {leak["destination"] for leak in leaks} == probed
    assert all(leak["sender_class"] == "citizen" for leak in leaks)
    assert sum(leak["bytes"] for leak in leaks) == sum(
        _probe_bytes(holes, sender="smuggler-1", path="foreign-cell", destination=destination)
        for destination in probed)
    # the catch-all: an address of the global zone that is no host's, seen at the foreign RAN
    assert _leaks(holes, source="smuggler-1", seen_at="edge:foreign-ran", path="foreign-cell")


def test_a_foreign_handset_reaching_the_intranet_through_the_uplink(holes):
    leaks = _tagged(_leaks(holes, source="smuggler-1", destination="news", path="uplink"))
    assert leaks and all(leak["sender_class"] == "citizen" for leak in leaks)
    assert sum(leak["bytes"] for leak in leaks) == _probe_bytes(
        holes, sender="smuggler-1", destination="news", path="uplink")
    # a global site's own probes to the intranet cross the same hole
    assert _tagged(_leaks(holes, sender_class="zone:global", destination="news", path="uplink"))


def test_a_visitor_reaching_a_citizens_phone(holes):
    leaks = _tagged(_leaks(holes, source="visitor-1", destination="citizen-1"))
    assert [leak["path"] for leak in leaks] == ["internal"]
    assert leaks[0]["sender_class"] == "visitor"
    assert leaks[0]["bytes"] == _probe_bytes(holes, sender="visitor-1", destination="citizen-1")
    assert not _leaks(holes, source="visitor-1", destination="citizen-2")


def test_holes_are_recorded_and_their_controls_pass(holes):
    leakage = holes["leakage"]
    assert leakage["test_holes"]["no_antispoofing"] == ["citizen-2"]
    assert all(c["arrived_packets"] > 0 for c in leakage["controls"]), leakage["not_measured"]
    for path in ("uplink", "internal", "foreign-cell", "spoofed-source", "tunnel"):
        assert leakage["by_path"][path] > 0, path


def test_sealed_twin_reads_zero_with_every_control_passing(sealed):
    leakage = sealed["leakage"]
    assert "test_holes" not in leakage
    assert leakage["not_measured"] == {}
    assert leakage["by_path"] == {p: 0 for p in leakage["by_path"]}
    assert sum(leakage["by_tier"].values()) == 0 and leakage["leaks"] == []
    controls = leakage["controls"]
    assert {c["path"] for c in controls} == set(leakage["by_path"])
    assert all(c["arrived_packets"] > 0 for c in controls), controls


def test_sealed_probes_were_sent_and_the_jammed_handset_is_reported(sealed):
    leakage = sealed["leakage"]
    assert leakage["senders_without_service"] == ["smuggler-1"]
    unsent = [p for p in leakage["probes"] if p["sender"] == "smuggler-1"]
    assert unsent and all(p["packets_sent"] == 0 and p["no_service"] for p in unsent)
    sent = [p for p in leakage["probes"] if p["sender"] != "smuggler-1"]
    assert leakage["probes_sent"] == sum(p["packets_sent"] for p in sent) > 0
    assert leakage["probe_send_errors"] == 0


def test_ordinary_pings_are_never_tunnel_leakage(sealed):
    """The throughput flows ping their sites (RTT) while the observers count: only tagged
    probes may be booked as probes, and nothing of the allowed pings is leakage."""
    arrived = sealed["leakage"]["arrived"]
    assert arrived["news"]["citizen-1"]["packets"] > 0
    assert sealed["leakage"]["by_path"]["tunnel"] == 0


@pytest.mark.parametrize("run", ["sealed", "holes"])
def test_controller_observers_and_capture_reconcile(run, request):
    results = request.getfixturevalue(run)
    table = results["leakage"]["reconciliation"]
    assert table["controller_counters"]
    rows = {(r["class"], r["decision"]): r for r in table["rows"]}
    assert rows[("citizen", "allow")]["controller_packets"] > 0
    assert rows[("elite", "allow across the uplink")]["capture_packets"] > 0
    assert rows[("zone:global", "classified at the uplink")]["capture_packets"] > 0
    assert table["disagreements"] == 0, [r for r in table["rows"] if r["agrees"] is False]


def test_throughput_expectations_and_a_blocked_flow(sealed):
    rows = {(r["src"], r["dst"]): r for r in sealed["throughput"]}
    allowed = rows[("citizen-1", "news")]
    assert allowed["configured_bottleneck_bps"] == 4e6
    assert allowed["expected_goodput_bps"] == pytest.approx(4e6 * 1448 / 1514)
    assert allowed["verdict"] == "ok", allowed
    forbidden = rows[("citizen-2", "video")]
    assert forbidden["blocked"] and forbidden["expected_goodput_bps"] == 0
    assert forbidden["verdict"] == "blocked" and forbidden["bps"] == 0


def test_nothing_is_left_behind(holes, sealed):
    assert leftovers(holes["run_id"]) == [] and leftovers(sealed["run_id"]) == []
