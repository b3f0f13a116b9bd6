"""The policy timeline and verdicts judged by the policy in force at each measurement's moment:
a widened tier, a narrowed tier, a blocklist window, a subscriber moved, a flow spanning a
change, counters across a change. Pure: no root, no emulation."""

from __future__ import annotations

import pytest

from hermitnet import results, zones
from hermitnet.policy import timeline as policy_timeline
from hermitnet.policy.state import PolicyState
from hermitnet.timeline.events import Event
from hermitnet.workload import probes, throughput


@pytest.fixture
def state(baseline):
    return PolicyState.from_scenario(baseline)


def _record(kind, target, requested_s, confirmed_s, **extra):
    """An event record as the player writes it (results.json timeline.events)."""
    return {"planned_s": requested_s - 0.01, "started_s": requested_s - 0.005, "kind": kind,
            "target": target, "requested_s": requested_s, "confirmed_s": confirmed_s,
            "effective_s": confirmed_s + 0.01, **extra}


WIDEN = _record("set_tier_zones", "citizen", 10.0, 10.2, zones=["intranet", "national"])


def _allowed(plan, state, src, dst):
    ends = zones.endpoints(plan, state)
    return zones.allowed(ends[src], ends[dst], state)


def test_no_change_is_one_period_from_zero_to_the_end(baseline_plan, state):
    line = policy_timeline.from_records(baseline_plan, state, [])
    assert not line.changed
    assert [(p.start_s, p.end_s) for p in line.periods] == [(0.0, float("inf"))]
    assert line.during(0, 1e9) == (state,)


def test_a_widened_tier_forbids_before_the_request_and_allows_after_the_confirmation(
        baseline_plan, state):
    line = policy_timeline.from_records(baseline_plan, state, [WIDEN])
    assert [(p.start_s, p.end_s, p.changing) for p in line.periods] == [
        (0.0, 10.0, False), (10.0, 10.2, True), (10.2, float("inf"), False)]
    before, after = line.at(5.0), line.at(11.0)
    assert before == state
    assert after.tier_zones["citizen"] == ("intranet", "national")

    def may(t0, t1=None):
        return line.judge(lambda s: _allowed(baseline_plan, s, "citizen-1", "portal"), t0, t1)

    assert may(9.99) == "forbidden"
    assert may(10.1) == "ambiguous"          # some switches may hold either policy
    assert may(10.2) == "allowed"
    assert may(9.0, 11.0) == "ambiguous"     # a span across the change
    assert may(10.3, 30.0) == "allowed"
    # a crossing the change does not touch keeps its verdict across it
    assert line.judge(lambda s: _allowed(baseline_plan, s, "citizen-1", "video"),
                      9.0, 11.0) == "forbidden"


def test_a_narrowed_tier_allows_before_and_forbids_after(baseline_plan, state):
    narrow = _record("set_tier_zones", "elite", 4.0, 4.1, zones=["intranet"])
    line = policy_timeline.from_records(baseline_plan, state, [narrow])

    def may(t0, t1=None):
        return line.judge(lambda s: _allowed(baseline_plan, s, "elite-1", "video"), t0, t1)

    assert (may(3.0), may(4.05), may(5.0), may(0.0, 8.0)) == (
        "allowed", "ambiguous", "forbidden", "ambiguous")


def test_a_blocklist_window_forbids_its_site_only_inside_the_window(baseline, baseline_plan,
                                                                     state):
    planned = [Event(5.0, "block", "news", reason="test"), Event(15.0, "unblock", "news")]
    line = policy_timeline.planned(baseline_plan, state, planned)
    assert [p.change for p in line.periods if p.changing] == ["block news", "unblock news"]

    def may(t0, t1=None):
        return line.judge(lambda s: _allowed(baseline_plan, s, "citizen-1", "news"), t0, t1)

    assert (may(4.9), may(5.0), may(10.0), may(14.9), may(15.0)) == (
        "allowed", "forbidden", "forbidden", "forbidden", "allowed")
    assert may(6.0, 14.0) == "forbidden" and may(0.0, 6.0) == "ambiguous"
    # the blocklist is part of the policy the judge applies: a site of an allowed zone
    assert line.at(10.0).blocked_for("citizen") == {"news"}
    assert line.judge(lambda s: _allowed(baseline_plan, s, "citizen-1", "recipes"),
                      0.0, 20.0) == "allowed"


def test_a_moved_subscriber_is_judged_and_booked_by_its_tier_at_the_time(baseline_plan,
                                                                         state):
    move = _record("move_subscriber", "citizen-1", 8.0, 8.1, tier="elite")
    line = policy_timeline.from_records(baseline_plan, state, [move])
    ends = zones.endpoints(baseline_plan, state)
    assert ends["citizen-1"].tier == "citizen"       # endpoints keep the starting tier ...
    assert zones.allowed(ends["citizen-1"], ends["video"], line.at(9.0))   # ... judged now
    assert zones.sender_class(ends["citizen-1"], line.at(9.0)) == "elite"
    assert line.judge(lambda s: zones.allowed(ends["citizen-1"], ends["video"], s),
                      0.0, 7.0) == "forbidden"
    row = {"tier": "citizen", "host": "citizen-1", "site": "video", "zone": "global",
           "ok": True, "blocking": "false", "t_s": 9.0, "t_end_s": 10.0}
    (judged,) = results.judge_reachability([row], baseline_plan, line)
    assert (judged["tier"], judged["policy"]) == ("elite", "allowed")


def test_a_change_requested_before_the_last_is_confirmed_makes_one_changing_period(
        baseline_plan, state):
    first = _record("block", "news", 5.0, 5.0)
    second = _record("block", "mail", 5.0, 5.0)
    line = policy_timeline.from_records(baseline_plan, state, [first, second])
    changing = [p for p in line.periods if p.changing]
    assert len(changing) == 1 and len(changing[0].states) == 3
    assert line.at(6.0).blocked_for("citizen") == {"news", "mail"}


def test_to_dict_records_each_period_with_its_policy(baseline_plan, state):
    data = policy_timeline.from_records(baseline_plan, state, [WIDEN]).to_dict()
    assert [(p["t_start_s"], p["t_end_s"], p["changing"]) for p in data] == [
        (0.0, 10.0, False), (10.0, 10.2, True), (10.2, None, False)]
    assert data[1]["previous_policy"]["tier_zones"]["citizen"] == ["intranet"]
    assert data[2]["policy"]["tier_zones"]["citizen"] == ["intranet", "national"]
    assert data[1]["change"] == "set_tier_zones citizen zones=intranet,national"


# --- counters across a change ------------------------------------------------------------------

def _readings_around(change: dict, before: dict, after: dict) -> list[dict]:
    """The observers read just before the request and just after the confirmation."""
    return [{"t_from_s": change["requested_s"] - 0.05, "t_to_s": change["requested_s"] - 0.01,
             "counters": before},
            {"t_from_s": change["confirmed_s"] + 0.01, "t_to_s": change["confirmed_s"] + 0.05,
             "counters": after}]


def _count(nbytes: int) -> dict:
    return {"packets": max(1, nbytes // 100), "bytes": nbytes}


def test_counter_slices_are_the_growth_between_readings():
    readings = [{"t_from_s": 1.0, "t_to_s": 1.1, "counters": {"a": {"x": _count(100)}}},
                {"t_from_s": 2.0, "t_to_s": 2.1, "counters": {"a": {"x": _count(300)}}}]
    slices = results.counter_slices(readings, {"a": {"x": _count(1000)}})
    assert [(s["t_start_s"], s["t_end_s"]) for s in slices] == [(0.0, 1.1), (1.0, 2.1),
                                                                 (2.0, None)]
    assert [s["arrived"]["a"]["x"]["bytes"] for s in slices] == [100, 200, 700]


def test_traffic_before_a_widening_is_leakage_after_it_is_not(baseline_plan, state):
    """citizen-1 -> portal (national zone): 400 bytes before the widening, 100 while it was
    being confirmed, 2000 after. Only the 400 are leakage, the 100 are ambiguous."""
    line = policy_timeline.from_records(baseline_plan, state, [WIDEN])
    before, during, after = 400, 100, 2000
    readings = _readings_around(WIDEN, {"portal": {"citizen-1": _count(before)}},
                                {"portal": {"citizen-1": _count(before + during)}})
    final = {"portal": {"citizen-1": _count(before + during + after)}}
    leak = results.leakage(final, [], {}, baseline_plan, line,
                           results.counter_slices(readings, final))
    assert leak["by_tier"]["citizen"] == before
    assert leak["by_path"]["internal"] == before
    assert [(a["source"], a["bytes"]) for a in leak["ambiguous"]] == [("citizen-1", during)]
    assert leak["ambiguous_bytes"] == during
    assert leak["leaks"][0]["t_end_s"] == round(WIDEN["requested_s"] - 0.01, 3)
    # the same counters read once (no slices): the whole run is one slice, judged against
    # every policy in force during it: ambiguous, never leaked
    once = results.leakage(final, [], {}, baseline_plan, line)
    assert once["by_tier"]["citizen"] == 0
    assert once["ambiguous_bytes"] == before + during + after
    # and judged with the start policy only (the old rule) it would all be leaked
    old = results.leakage(final, [], {}, baseline_plan, state)
    assert old["by_tier"]["citizen"] == before + during + after


def test_traffic_after_a_narrowing_is_leakage(baseline_plan, state):
    narrow = _record("set_tier_zones", "elite", 6.0, 6.1, zones=["intranet"])
    line = policy_timeline.from_records(baseline_plan, state, [narrow])
    readings = _readings_around(narrow, {"video": {"elite-1": _count(5000)}},
                                {"video": {"elite-1": _count(5000)}})
    final = {"video": {"elite-1": _count(5300)}}
    leak = results.leakage(final, [], {}, baseline_plan, line,
                           results.counter_slices(readings, final))
    assert leak["by_tier"]["elite"] == 300 and leak["by_path"]["uplink"] == 300
    assert leak["ambiguous"] == []


def test_a_probe_is_judged_by_the_slice_it_arrived_in(baseline_plan, state):
    """A probe planned for citizen-1 -> portal (forbidden until the widening) arrives once
    before and once after: leakage only before."""
    line = policy_timeline.from_records(baseline_plan, state, [WIDEN])
    planned = [{**p, "packets_sent": 6, "bytes_sent": 300, "send_errors": 0,
                "no_service": False} for p in probes.plan_probes(baseline_plan, line)]
    hole = next(p for p in planned if p["kind"] == "policy-hole" and p["sender"] == "citizen-1"
                and p["destination"] == "portal")
    assert not hole["control"]
    key = f"probe:{hole['id']}"
    readings = _readings_around(WIDEN, {"portal": {key: _count(150)}},
                                {"portal": {key: _count(150)}})
    final = {"portal": {key: _count(300)}}
    leak = results.leakage(final, planned, {}, baseline_plan, line,
                           results.counter_slices(readings, final))
    assert leak["by_tier"]["citizen"] == 150
    assert leak["probes_escaped"] == 1 and leak["leaks"][0]["probe_id"] == hole["id"]


def test_probes_cover_every_pair_some_policy_forbids_and_controls_only_pairs_all_allow(
        baseline_plan, state):
    narrow = policy_timeline.planned(baseline_plan, state, [
        Event(5.0, "set_tier_zones", "elite", zones=("intranet",))])
    planned = probes.plan_probes(baseline_plan, narrow)
    elite_video = [p for p in planned if p["sender"] == "elite-1"
                   and p["destination"] == "video"]
    assert elite_video and not any(p["control"] for p in elite_video)
    assert not any(p["control"] and p["sender"] == "elite-1" and p["dst_zone"] == "global"
                   for p in planned)
    assert not any(p["sender"] == "elite-1" and p["destination"] == "video"
                   for p in probes.plan_probes(baseline_plan, state))


def test_an_edge_packet_is_judged_at_its_capture_time(baseline_plan, state):
    from scapy.all import IP, UDP, Ether, Raw

    narrow = _record("set_tier_zones", "elite", 6.0, 6.1, zones=["intranet"])
    line = policy_timeline.from_records(baseline_plan, state, [narrow])
    host = baseline_plan.host("elite-1")
    t0_wall = 1_000_000.0
    frames = []
    for t_s in (3.0, 6.05, 9.0):
        frame = Ether(bytes(Ether(src=host.mac) / IP(src=host.ip, dst="198.18.255.9")
                            / UDP(sport=1, dport=2) / Raw(b"x" * 20)))
        frame.time = t0_wall + t_s
        frames.append(frame)
    from hermitnet.workload import observer

    seen = observer.judge_edge("uplink", frames, baseline_plan, line, [], t0_wall)
    assert [c["packets"] for c in seen["unlisted_forbidden"]] == [1]     # at 9 s
    assert [c["packets"] for c in seen["unlisted_ambiguous"]] == [1]     # at 6.05 s


# --- flows ------------------------------------------------------------------------------------

def _flow(src, dst, start_s, seconds, bps, series=()):
    return {"tier": "citizen", "src": src, "dst": dst, "protocol": "tcp", "direction": "upload",
            "bps": bps, "seconds": seconds, "start_s": start_s, "verdict": "ok",
            "series": [{"t_s": t, "mbps": m, "omitted": False} for t, m in series]}


def test_a_flow_after_a_widening_is_judged_by_the_widened_policy(baseline_plan, state):
    line = policy_timeline.from_records(baseline_plan, state, [WIDEN])
    row = throughput.judge_flow(_flow("citizen-1", "portal", 12.0, 5, 1.8e6), baseline_plan,
                                line, 80.0)
    assert not row["blocked"] and row["verdict"] == "ok"
    before = throughput.judge_flow(_flow("citizen-1", "portal", 2.0, 5, 1.8e6), baseline_plan,
                                   line, 80.0)
    assert before["blocked"] and before["verdict"] == "leaked"


def test_a_flow_spanning_a_change_is_ambiguous_with_each_sample_judged(baseline_plan, state):
    line = policy_timeline.from_records(baseline_plan, state, [WIDEN])
    series = [(7.5 + i, 0.0 if i < 3 else 1.7) for i in range(1, 6)]   # 1 s samples to 8.5 ...
    row = throughput.judge_flow(_flow("citizen-1", "portal", 7.5, 5, 1.0e6, series),
                                baseline_plan, line, 80.0)
    assert row["verdict"] == "ambiguous" and row["expected_goodput_bps"] is None
    assert row["policy_changes"] == ["set_tier_zones citizen zones=intranet,national"]
    assert [p["policy"] for p in row["series"]] == [
        "forbidden", "forbidden", "ambiguous", "allowed", "allowed"]   # [9.5, 10.5]: the change


def test_a_move_between_tiers_during_a_flow_changes_its_expected_rate(baseline_plan, state):
    """elite-1 (5 Mbit/s air link) is moved to the citizen tier (intranet only): a flow to the
    university (intranet) stays allowed, so it is not ambiguous unless its expectation
    changed; a flow to video across the move is."""
    move = _record("move_subscriber", "elite-1", 3.0, 3.1, tier="citizen")
    line = policy_timeline.from_records(baseline_plan, state, [move])
    same = throughput.judge_flow(_flow("elite-1", "university", 1.0, 5, 4.7e6), baseline_plan,
                                 line, 80.0)
    assert same["verdict"] != "ambiguous" and not same["blocked"]
    across = throughput.judge_flow(_flow("elite-1", "video", 1.0, 5, 4.7e6), baseline_plan,
                                   line, 80.0)
    assert across["verdict"] == "ambiguous"
    later = throughput.judge_flow(_flow("elite-1", "video", 5.0, 5, 0.0), baseline_plan, line,
                                  80.0)
    assert later["tier"] == "citizen" and later["verdict"] == "blocked"


def test_reachability_rows_and_the_record_count_verdicts_across_a_change(baseline_plan, state):
    line = policy_timeline.from_records(baseline_plan, state, [WIDEN])
    rows = [{"tier": "citizen", "host": "citizen-1", "site": "portal", "zone": "national",
             "ok": ok, "blocking": "false", "t_s": t0, "t_end_s": t1}
            for ok, t0, t1 in ((False, 1.0, 4.0), (True, 9.0, 12.0), (True, 20.0, 23.0))]
    judged = results.judge_reachability(rows, baseline_plan, line)
    assert [r["policy"] for r in judged] == ["forbidden", "ambiguous", "allowed"]
    record = results.policy_record(line, {"reachability": judged, "throughput": [],
                                          "leakage": {"ambiguous": [{"bytes": 1}]}})
    assert record["changes"] == 1
    assert record["verdicts_across_changes"] == {"leakage": 1, "throughput": 0,
                                                 "reachability": 1}


def test_results_with_a_policy_timeline_validate_and_the_report_says_what_crossed_a_change(
        tmp_path, results_record, baseline_plan, state):
    from hermitnet import report

    line = policy_timeline.from_records(baseline_plan, state, [WIDEN])
    data = results_record()
    final = {"portal": {"citizen-1": _count(2500)}}
    readings = _readings_around(WIDEN, {"portal": {"citizen-1": _count(400)}},
                                {"portal": {"citizen-1": _count(500)}})
    data["leakage"] = results.leakage(final, [], {}, baseline_plan, line,
                                      results.counter_slices(readings, final))
    data["reachability"] = results.judge_reachability(
        [{**r, "t_s": 9.0, "t_end_s": 11.0} for r in data["reachability"]], baseline_plan,
        line)
    data["policy_timeline"] = results.policy_record(line, data)
    results.write(tmp_path, data)          # the schema accepts every new field
    assert results.load(tmp_path)["policy_timeline"]["changes"] == 1
    text = report.summary(data)
    assert ("policy changed 1 time(s) during the run; verdicts across a change (ambiguous, "
            "not counted as leaked): 1 leakage counter(s) (100 bytes)") in text
    page = report.write_html(data, tmp_path).read_text()
    assert "The policy over the run" in page and "Counted while the policy changed" in page
