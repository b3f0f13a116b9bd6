"""The one scenario clock on the real emulator: events and measurements placed on it happen then.

Two short runs. The baseline network with a block of `news` from 5 s to 15 s, the uplink down
from 5 s to 15 s and `recipes` down from 5 s to 15 s, reachability swept at 2, 10 and 20 s and
one elite flow over the uplink all along. The border network with a jammer switched on and a
site blocked at the same moment.
"""

from __future__ import annotations

import pytest
import yaml

from hermitnet import runner, scenario
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

DOWN_S, UP_S, DURATION_S = 5.0, 15.0, 30.0
SITE_UP_S = 12.0
STEP_S = 1.0


def _doc(name: str) -> dict:
    return yaml.safe_load((REPO / "scenarios" / f"{name}.yaml").read_text())


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    doc = _doc("baseline")
    doc["timeline"] = {"duration_s": DURATION_S, "step_s": STEP_S, "events": [
        {"at_s": DOWN_S, "kind": "block", "site": "news", "reason": "test"},
        {"at_s": UP_S, "kind": "unblock", "site": "news"},
        {"at_s": DOWN_S, "kind": "uplink_down"},
        {"at_s": UP_S, "kind": "uplink_up"},
        {"at_s": DOWN_S, "kind": "site_down", "site": "recipes"},
        {"at_s": SITE_UP_S, "kind": "site_up", "site": "recipes"},
    ]}
    doc["measure"] = {
        "reachability": {"connect_timeout_s": 1, "at_s": [2, 10, 20]},
        # the second flow, a new connection after the outage: a TCP connection stalled through
        # 10 s backs its retransmissions off and may stay silent past the end of the run
        "throughput": {"flows": [{"from": "elite-1", "to": "search", "start_s": 0,
                                  "seconds": DURATION_S - 2},
                                 {"from": "elite-1", "to": "video", "start_s": UP_S + 2,
                                  "seconds": 8}]},
    }
    loaded = scenario.from_dict(doc, source="baseline (timeline)")
    _, results = runner.run(loaded, tmp_path_factory.mktemp("clock"), progress=print)
    return results


def _fetch(results, t_s, host, site) -> dict:
    (row,) = [r for r in results["reachability"]
              if r["t_s"] >= t_s and r["t_s"] < t_s + 1 and r["host"] == host
              and r["site"] == site]
    return row


def test_block_at_5_unblock_at_15_reads_ok_blocked_ok(baseline_run):
    sweeps = sorted({r["t_s"] for r in baseline_run["reachability"]})
    assert [round(t) for t in sweeps] == [2, 10, 20]
    outcomes = [_fetch(baseline_run, t, "citizen-1", "news")["ok"] for t in (2, 10, 20)]
    assert outcomes == [True, False, True]
    assert _fetch(baseline_run, 10, "citizen-1", "university")["ok"]   # only that site


def test_a_site_down_is_down_for_every_tier_and_comes_back(baseline_run):
    at_10 = [r for r in baseline_run["reachability"]
             if 10 <= r["t_s"] < 11 and r["site"] == "recipes"]
    assert at_10 and not any(r["ok"] for r in at_10)
    # told apart from a block: it fails for the control vantage too (nothing listens there)
    assert {r["verdict"] for r in at_10} == {"site-down"}
    assert {r["control"]["tcp_connect"][0]["failure"] for r in at_10} == {"connection_refused"}
    assert _fetch(baseline_run, 10, "citizen-1", "news")["blocking"] == "tcp_ip"
    assert _fetch(baseline_run, 20, "citizen-1", "recipes")["ok"]


def test_uplink_down_drops_the_elite_series_to_zero_and_it_recovers(baseline_run):
    flow, fresh = sorted((f for f in baseline_run["throughput"] if f["src"] == "elite-1"),
                         key=lambda f: f["start_s"])
    assert flow["path"] == "uplink" and flow["start_s"] < 1
    series = {p["t_s"]: p["mbps"] for p in flow["series"]}   # t_s: each 1 s interval's end
    # whole intervals on either side of each event: one that straddles it may read either way
    before = [mbps for t, mbps in series.items() if 2 <= t <= DOWN_S - 0.5]
    during = [mbps for t, mbps in series.items() if DOWN_S + 2 <= t <= UP_S]
    after = [p["mbps"] for p in fresh["series"]]
    assert before and min(before) > 0.5, series
    assert during and max(during) < 0.05, series
    assert after and max(after) > 0.5, series


def test_every_event_is_recorded_planned_and_effective(baseline_run):
    timeline = baseline_run["timeline"]
    assert timeline["duration_s"] == DURATION_S and timeline["time_scale"] == 1
    events = timeline["events"]
    assert len(events) == 6
    for event in events:
        assert event["planned_s"] in (DOWN_S, UP_S, SITE_UP_S)
        assert event["effective_s"] >= event["planned_s"]
        assert event["late"] == (event["late_s"] > STEP_S)
        assert event["late"] == any(line.startswith(f"{event['kind']} {event['target']} ")
                                    for line in timeline["late"])
    # policy and link changes are quick; a server start is recorded late if it was
    assert not [e for e in events if e["late"] and not e["kind"].startswith("site_")]
    assert baseline_run["status"] == "ok"
    assert baseline_run["counters"]["t0_offset_s"] > 0


def test_nothing_is_left_behind(baseline_run):
    assert leftovers(baseline_run["run_id"]) == []


@pytest.fixture(scope="module")
def border_run(tmp_path_factory):
    doc = _doc("border")
    east = doc["radio"]["jammers"][1]
    east.pop("schedule", None)
    east["initially_on"] = False
    doc["measure"] = {"reachability": {"connect_timeout_s": 1}}
    doc["timeline"] = {"duration_s": 6, "events": [
        {"at_s": 3, "kind": "jammer_on", "jammer": "jam-hyesan-east"},
        {"at_s": 3, "kind": "block", "site": "world-news"},
    ]}
    loaded = scenario.from_dict(doc, source="border (timeline)")
    _, results = runner.run(loaded, tmp_path_factory.mktemp("clock-border"), progress=print)
    return results


def test_a_jammer_and_a_block_at_the_same_time_take_effect_within_one_step(border_run):
    records = {e["kind"]: e for e in border_run["timeline"]["events"] if e["planned_s"] == 3}
    jammer, block = records["jammer_on"], records["block"]
    assert abs(jammer["effective_s"] - block["effective_s"]) <= STEP_S
    assert not jammer["late"] and not block["late"]
    assert "smuggler-1" in jammer["reshaped"]      # the jammer took the smuggler off its cell
    assert leftovers(border_run["run_id"]) == []


FLOOD_FROM_S, FLOOD_UNTIL_S, FLOOD_RUN_S = 5.0, 15.0, 20.0


@pytest.fixture(scope="module")
def flood_run(tmp_path_factory):
    doc = _doc("baseline")
    doc["timeline"] = {"duration_s": FLOOD_RUN_S, "events": [
        {"at_s": FLOOD_FROM_S, "kind": "flood_start", "from": "video", "toward": "national",
         "rate_mbps": 40, "reason": "test"},
        {"at_s": FLOOD_UNTIL_S, "kind": "flood_stop", "from": "video"},
    ]}
    doc["measure"] = {
        "reachability": {"connect_timeout_s": 1, "at_s": [1]},
        "throughput": {"flows": [
            {"from": "elite-1", "to": "search", "start_s": 0, "seconds": FLOOD_RUN_S - 1,
             "direction": "download"},
            {"from": "citizen-1", "to": "university", "start_s": 0,
             "seconds": FLOOD_RUN_S - 1, "direction": "download"}]},
    }
    loaded = scenario.from_dict(doc, source="baseline (flood)")
    _, results = runner.run(loaded, tmp_path_factory.mktemp("clock-flood"), progress=print)
    return results


def _mean_mbps(flow, from_s, until_s) -> float:
    values = [p["mbps"] for p in flow["series"] if from_s < p["t_s"] <= until_s]
    assert values, flow["series"]
    return sum(values) / len(values)


def test_a_flood_lowers_the_elite_goodput_and_leaves_the_intranet_alone(flood_run):
    flows = {f["src"]: f for f in flood_run["throughput"]}
    elite, citizen = flows["elite-1"], flows["citizen-1"]
    assert elite["path"] == "uplink" and citizen["path"] == "national"
    assert elite["direction"] == citizen["direction"] == "download"   # the flooded direction
    before, during = (FLOOD_FROM_S - 3, FLOOD_FROM_S), (FLOOD_FROM_S + 2, FLOOD_UNTIL_S)
    # lowered by at least a quarter: how much more depends on the flood the machine can send
    # beside everything else it runs (a 40 Mbit/s flood onto a 10 Mbit/s uplink)
    assert _mean_mbps(elite, *during) < 0.75 * _mean_mbps(elite, *before), elite["series"]
    assert _mean_mbps(citizen, *during) > 0.8 * _mean_mbps(citizen, *before), citizen["series"]
    (flood,) = flood_run["timeline"]["floods"]
    assert flood["from"] == "video" and flood["rate_mbps_asked"] == 40
    assert flood["destinations"] == ["203.0.113.10"]           # the national site, portal
    assert flood["packets"] > 0 and 0 < flood["rate_mbps_achieved"] <= 40 * 1.05
    assert flood["sender_started_s"] >= FLOOD_FROM_S
    assert flood["sender_stopped_s"] >= FLOOD_UNTIL_S
    records = {e["kind"]: e for e in flood_run["timeline"]["events"]}
    assert records["flood_stop"]["rate_mbps_achieved"] == flood["rate_mbps_achieved"]
    # what crossed the uplink died at the border: the global zone may not reach national sites
    denied = flood_run["counters"]["flows"]["zone:global"]["denied"]["packets"]
    assert 0.1 * flood["packets"] < denied <= flood["packets"]
    assert flood_run["status"] == "ok", flood_run.get("error")
    assert leftovers(flood_run["run_id"]) == []


FAILOVER_DOWN_S, FAILOVER_UP_S, FAILOVER_RUN_S = 6.0, 13.0, 18.0


@pytest.fixture(scope="module")
def two_uplinks_run(tmp_path_factory):
    doc = _doc("baseline")
    del doc["uplink"]
    doc["uplinks"] = [{"name": "cable", "bw_mbps": 10, "delay_ms": 30},
                      {"name": "satellite", "bw_mbps": 10, "delay_ms": 30}]
    doc["timeline"] = {"duration_s": FAILOVER_RUN_S, "events": [
        {"at_s": FAILOVER_DOWN_S, "kind": "uplink_down", "uplink": "cable"},
        {"at_s": FAILOVER_UP_S, "kind": "uplink_up", "uplink": "cable"},
    ]}
    doc["measure"] = {
        "reachability": {"connect_timeout_s": 1, "at_s": [1]},
        "throughput": {"flows": [{"from": "elite-1", "to": "search", "start_s": 0,
                                  "seconds": FAILOVER_RUN_S - 1, "direction": "download"}]},
    }
    loaded = scenario.from_dict(doc, source="baseline (two uplinks)")
    _, results = runner.run(loaded, tmp_path_factory.mktemp("clock-uplinks"), progress=print)
    return results


def test_an_uplink_going_down_moves_allowed_traffic_to_the_other(two_uplinks_run):
    results = two_uplinks_run
    assert results["status"] == "ok", results.get("error")
    (flow,) = results["throughput"]
    assert flow["uplinks_used"] == ["cable", "satellite"], flow["uplinks"]
    # traffic kept flowing during the outage: over the satellite uplink
    during = [p["mbps"] for p in flow["series"]
              if FAILOVER_DOWN_S + 2 <= p["t_s"] <= FAILOVER_UP_S]
    assert during and min(during) > 0.5, flow["series"]
    series = results["uplinks"]["series"]

    def carried(name, from_s, until_s):
        inside = [s["bytes"][name] for s in series if from_s <= s["t_s"] <= until_s]
        return inside[-1] - inside[0]

    outage = (FAILOVER_DOWN_S + 1, FAILOVER_UP_S - 0.5)
    assert carried("satellite", *outage) > 10 * max(1, carried("cable", *outage))
    assert carried("cable", 1, FAILOVER_DOWN_S - 0.5) > 10 * max(
        1, carried("satellite", 1, FAILOVER_DOWN_S - 0.5))
    # and back to the preferred uplink once it is up again
    assert carried("cable", FAILOVER_UP_S + 1, FAILOVER_RUN_S - 1.5) > 0
    controller = results["uplinks"]["controller"]
    assert [(c["uplink"], c["down"], c["active"]) for c in controller["changes"]] == [
        ("cable", True, "satellite"), ("cable", False, "cable")]
    failover = results["uplinks"]["failover"]
    (event,) = failover["events"]
    assert (event["uplink"], event["to"]) == ("cable", "satellite")
    assert event["failover_s"] is not None and failover["answered"] > 0
    assert failover["failover_s_p95"] == event["failover_s"]
    print(f"failover: {event['failover_s']} s, {event['lost_probes']} probes lost")
    assert leftovers(results["run_id"]) == []
