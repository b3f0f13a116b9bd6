"""Verdicts by the policy in force at their moment, on the real emulator.

One short run: citizens (intranet only) with a test-only policy hole that lets their packets
reach the global site `video` anyway (HERMITNET_TEST_HOLES, as in the ground-truth suite; one
way: video's replies to a citizen stay forbidden until the widening), and the
citizen tier widened to the global zone at WIDEN_S. The leakage probes go out before and after
the widening (the same tags each round), citizen-1 sends a flow to video before the widening
and another after it, citizen-2 one across it. Before the widening the crossing citizen ->
video is leakage; after it the same traffic is allowed and must not be counted; the flow
across it is ambiguous, not leaked.
"""

from __future__ import annotations

import json
import os

import pytest

from hermitnet import runner, scenario
from hermitnet.policy.compile import TEST_HOLES_ENV

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

WIDEN_S, DURATION_S = 10.0, 24.0
HOLES = {"allow": [["citizen", "video"]]}


def _doc() -> dict:
    mobile = {"bw_mbps": 4.0, "delay_ms": 0, "loss_pct": 0}
    return {
        "schema": 1, "name": "policy-timeline", "seed": 5,
        "description": "citizens widened to the global zone mid-run",
        "defaults": {"mobile_link": mobile, "fixed_link": mobile,
                     "backhaul_link": {"bw_mbps": 100, "delay_ms": 0, "loss_pct": 0}},
        "uplink": {"bw_mbps": 10, "delay_ms": 0, "loss_pct": 0},
        "tiers": {"citizen": {"zones": ["intranet"]},
                  "elite": {"zones": ["intranet", "national", "global"]}},
        "cells": [{"name": "town-1"}],
        "subscribers": [{"name": "citizen-1", "tier": "citizen", "cell": "town-1"},
                        {"name": "citizen-2", "tier": "citizen", "cell": "town-1"},
                        {"name": "elite-1", "tier": "elite", "cell": "town-1"}],
        "sites": [{"name": "news", "zone": "intranet"}, {"name": "video", "zone": "global"}],
        "timeline": {"duration_s": DURATION_S, "step_s": 1.0, "events": [
            {"at_s": WIDEN_S, "kind": "set_tier_zones", "tier": "citizen",
             "zones": ["intranet", "global"], "reason": "widened mid-run (test)"}]},
        "measure": {
            "reachability": {"connect_timeout_s": 1, "at_s": [1, 18]},
            "probes": {"at_s": [3, 15]},
            "throughput": {"flows": [
                {"from": "citizen-1", "to": "video", "start_s": 2, "seconds": 4},
                {"from": "citizen-1", "to": "video", "start_s": 14, "seconds": 4},
                {"from": "citizen-2", "to": "video", "start_s": 7, "seconds": 6}]},
        },
    }


@pytest.fixture(scope="module")
def widened(tmp_path_factory):
    loaded = scenario.from_dict(_doc(), source="policy-timeline (test)")
    before = os.environ.pop(TEST_HOLES_ENV, None)
    os.environ[TEST_HOLES_ENV] = json.dumps(HOLES)
    try:
        _, results = runner.run(loaded, tmp_path_factory.mktemp("widened"), progress=print)
    finally:
        os.environ.pop(TEST_HOLES_ENV, None)
        if before is not None:
            os.environ[TEST_HOLES_ENV] = before
    return results


def _change(results) -> dict:
    (record,) = [e for e in results["timeline"]["events"] if e["kind"] == "set_tier_zones"]
    return record


def test_the_policy_timeline_records_the_widening_as_it_took_effect(widened):
    record = _change(widened)
    assert record["requested_s"] >= WIDEN_S and record["confirmed_s"] >= record["requested_s"]
    periods = widened["policy_timeline"]["periods"]
    assert [p["changing"] for p in periods] == [False, True, False]
    assert periods[0]["policy"]["tier_zones"]["citizen"] == ["intranet"]
    assert periods[2]["policy"]["tier_zones"]["citizen"] == ["intranet", "global"]
    assert periods[1]["t_start_s"] == pytest.approx(record["requested_s"], abs=1e-3)
    assert periods[2]["t_start_s"] == pytest.approx(record["confirmed_s"], abs=1e-3)
    assert widened["policy_timeline"]["changes"] == 1


def test_citizen_traffic_to_video_is_leakage_before_the_widening_and_not_after(widened):
    record = _change(widened)
    leak = widened["leakage"]
    to_video = [x for x in leak["leaks"]
                if x["destination"] == "video" and x["sender_class"] == "citizen"]
    assert to_video, leak["leaks"]
    # every leak of citizens into video was counted before the change was requested
    assert all(x["t_end_s"] is not None and x["t_end_s"] <= record["requested_s"] + 1e-3
               for x in to_video), to_video
    # the same kind of traffic after the widening reached video (the probes of the second
    # round, the second flow) and is not leakage
    hole = next(p for p in leak["probes"] if p["kind"] == "policy-hole"
                and p["sender"] == "citizen-1" and p["destination"] == "video")
    assert hole["arrived_packets"] == 2 * 3, hole       # both rounds arrived
    leaked_probe = [x for x in to_video if x.get("probe_id") == hole["id"]]
    assert sum(x["packets"] for x in leaked_probe) == 3  # only the round before counts
    first_flow = next(r for r in widened["throughput"]
                      if r["src"] == "citizen-1" and r["start_s"] < WIDEN_S)
    after_flow = next(r for r in widened["throughput"]
                      if r["src"] == "citizen-1" and r["start_s"] > WIDEN_S)
    # the hole is one way (the replies of a global site to a citizen stay forbidden): the TCP
    # flow before the widening cannot run, and is expected not to
    assert first_flow["blocked"] and first_flow["verdict"] == "blocked", first_flow
    assert not after_flow["blocked"] and after_flow["bps"] > 0, after_flow
    assert after_flow["verdict"] in ("ok", "slow", "fast"), after_flow
    # the bytes the observers counted from citizen-1 at video after the change (its flow
    # and probes) are allowed: more arrived in all than was booked as leakage
    arrived = sum(c["bytes"] for k, c in leak["arrived"]["video"].items()
                  if k in ("citizen-1", f"probe:{hole['id']}"))
    booked = sum(x["bytes"] for x in to_video if x["source"] == "citizen-1")
    assert arrived > booked > 0


def test_the_flow_across_the_widening_is_ambiguous_and_said_in_the_summary(widened):
    from hermitnet import report

    across = next(r for r in widened["throughput"] if r["src"] == "citizen-2")
    assert across["verdict"] == "ambiguous", across
    assert across["policy_changes"] == ["set_tier_zones citizen zones=intranet,global"]
    counts = widened["policy_timeline"]["verdicts_across_changes"]
    assert counts["throughput"] == 1
    assert "policy changed 1 time(s) during the run" in report.summary(widened)


def test_reachability_is_expected_by_the_policy_of_its_sweep(widened):
    rows = [r for r in widened["reachability"] if r["host"] == "citizen-1"
            and r["site"] == "video"]
    assert [r["policy"] for r in sorted(rows, key=lambda r: r["t_s"])] == ["forbidden",
                                                                             "allowed"]
    assert [r["ok"] for r in sorted(rows, key=lambda r: r["t_s"])] == [False, True]
