"""The border scenario on the real emulator: jammers decide who reaches a foreign cell, in traffic.

A compressed copy of scenarios/border.yaml: the east jammer goes on at 4 s and off at 12 s, and
the smuggled foreign handset's pings to a foreign site are counted at that site every second.
"""

from __future__ import annotations

import pytest
import yaml

from hermitnet import radio, runner, scenario
from hermitnet.sweep import apply_override
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ON_S, OFF_S, DURATION_S = 4.0, 12.0, 16.0
FLOW = "smuggler-1->world-news"


@pytest.fixture(scope="module")
def border_run(tmp_path_factory):
    doc = yaml.safe_load((REPO / "scenarios" / "border.yaml").read_text())
    doc = apply_override(doc, "radio.jammers.1.schedule",
                         [{"t_s": ON_S, "active": True}, {"t_s": OFF_S, "active": False}])
    doc = apply_override(doc, "measure.timeline.duration_s", DURATION_S)
    doc["measure"]["throughput"]["flows"] = []
    loaded = scenario.from_dict(doc, source="border (compressed)")
    # the premise: the model drops the smuggler when the east jammer is on, and only then
    assert radio.evaluate(loaded.radio, ON_S - 1)["smuggler-1"].cell_kind == "foreign"
    assert radio.evaluate(loaded.radio, ON_S)["smuggler-1"].cell is None
    assert radio.evaluate(loaded.radio, OFF_S)["smuggler-1"].cell_kind == "foreign"
    out = tmp_path_factory.mktemp("border")
    _, results = runner.run(loaded, out, progress=lambda message: None)
    return results


def _arrived(results, flow, t_from, t_to) -> int:
    """Bytes of `flow` that arrived in (t_from, t_to] of the timeline."""
    at = {row["t_s"]: row["arrived_bytes_total"][flow] for row in results["radio"]["timeline"]}
    return at[t_to] - at[t_from]


def test_foreign_cell_traffic_flows_before_the_jammer(border_run):
    assert _arrived(border_run, FLOW, 0.0, ON_S) > 0


def test_jammer_on_stops_it_within_one_step(border_run):
    step = 1.0
    assert _arrived(border_run, FLOW, ON_S + step, OFF_S) == 0


def test_jammer_off_restores_it_within_one_step(border_run):
    assert _arrived(border_run, FLOW, OFF_S + 1.0, DURATION_S) > 0


def test_national_phones_are_not_jammed(border_run):
    assert _arrived(border_run, "citizen-1->news", ON_S + 1.0, OFF_S) > 0


def test_foreign_cell_leakage_is_the_smugglers_traffic_at_the_site(border_run):
    leakage = border_run["leakage"]
    untagged = [x for x in leakage["leaks"] if x["probe_kind"] is None
                and x["seen_at"] == "host" and x["destination"] == "world-news"]
    by_source = {x["source"]: x for x in untagged}
    arrived = leakage["arrived"]["world-news"]
    assert by_source["smuggler-1"]["path"] == "foreign-cell"
    assert by_source["smuggler-1"]["sender_class"] == "citizen"
    assert by_source["smuggler-1"]["bytes"] == arrived["smuggler-1"]["bytes"] > 0
    assert "visitor-1" not in by_source   # a visitor may reach the global zone
    assert leakage["by_path"]["uplink"] == 0


def test_attachments_over_time_and_jamming_effectiveness(border_run):
    radio_results = border_run["radio"]
    kinds = [row["attached"]["foreign"] for row in radio_results["timeline"]]
    assert max(kinds) > min(kinds), "the jammer schedule must change foreign attachments"
    effectiveness = radio_results["jamming_effectiveness"]
    assert 0 < effectiveness["time_averaged"] < effectiveness["every_jammer_on"] <= 1
    assert effectiveness["worst_moment"] <= effectiveness["time_averaged"]
    assert radio_results["population"]["phones"] == runner.POPULATION_PHONES


def test_nothing_is_left_behind(border_run):
    assert leftovers(border_run["run_id"]) == []


def test_probes_from_a_foreign_handset_escape_by_every_kind(border_run):
    """Outside the national network nothing stops a foreign handset's probes, of any kind."""
    leakage = border_run["leakage"]
    escaped = {p["kind"] for p in leakage["probes"]
               if p["sender"] == "smuggler-1" and p["dst_zone"] == "global"
               and p["arrived_packets"]}
    assert escaped == {"policy-hole", "spoofed-source", "tunnel-dns", "tunnel-icmp", "ipv6"}
    # national phones' probes never arrive: the national policy stops every kind
    assert not [p for p in leakage["probes"] if p["sender"] in ("citizen-1", "citizen-2")
                and p["arrived_packets"]]
