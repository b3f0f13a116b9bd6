"""Reconciliation of controller counters, observers and the uplink capture, on made-up counts."""

from __future__ import annotations

from hermitnet import plan
from hermitnet.policy.state import PolicyState
from hermitnet.reconcile import reconcile, within


def _results(allow_citizen: int, arrived_citizen: int, classified: int, inbound: int) -> dict:
    return {
        "counters": {"flows": {
            "citizen": {"allow": {"packets": allow_citizen}, "denied": {"packets": 7}},
            "zone:global": {"classify": {"packets": classified}, "spoofed": {"packets": 0},
                            "allow": {"packets": 0}},
        }},
        "leakage": {
            "arrived": {"news": {"citizen-1": {"packets": arrived_citizen, "bytes": 1}},
                        "video": {"elite-1": {"packets": 0, "bytes": 0}}},
            "probes": [], "controls": [], "leaks": [],
            "edges": {"uplink": {"outbound": {}, "inbound": {"zone:global": inbound}}},
        },
    }


def _rows(out, decision):
    return {r["class"]: r for r in out["rows"] if r["decision"] == decision}


def test_agreeing_counts_reconcile(baseline):
    layout, state = plan.build(baseline), PolicyState.from_scenario(baseline)
    out = reconcile(_results(1000, 990, 40, 40), layout, state)
    assert _rows(out, "allow")["citizen"]["agrees"] is True
    assert _rows(out, "dropped")["citizen"]["controller_packets"] == 7
    assert _rows(out, "classified at the uplink")["zone:global"]["agrees"] is True
    assert out["disagreements"] == 0


def test_a_blind_observer_or_a_lost_counter_is_a_disagreement(baseline):
    layout, state = plan.build(baseline), PolicyState.from_scenario(baseline)
    out = reconcile(_results(1000, 10, 40, 400), layout, state)
    assert _rows(out, "allow")["citizen"]["agrees"] is False
    assert _rows(out, "classified at the uplink")["zone:global"]["agrees"] is False
    assert out["disagreements"] == 2


def test_without_controller_counters_nothing_is_claimed(baseline):
    layout, state = plan.build(baseline), PolicyState.from_scenario(baseline)
    data = _results(0, 5, 0, 0)
    del data["counters"]
    out = reconcile(data, layout, state)
    assert out["controller_counters"] is False
    involving = [r for r in out["rows"] if r["decision"] != "allow across the uplink"]
    assert involving and all(r["agrees"] is None for r in involving)
    assert out["disagreements"] == 0


def test_tolerance():
    assert within(1000, 985) and not within(1000, 970)
    assert within(3, 12) and not within(0, 11)


def test_the_report_shows_the_table_and_flags_a_disagreement(baseline, results_record):
    from hermitnet import report

    layout, state = plan.build(baseline), PolicyState.from_scenario(baseline)
    data = results_record()
    data["leakage"] = {**_results(1000, 10, 40, 40)["leakage"],
                       "by_tier": {"citizen": 0}, "by_path": {"uplink": 0, "ipv6": None},
                       "not_measured": {"ipv6": "positive control did not arrive: x"}}
    data["counters"] = _results(1000, 10, 40, 40)["counters"]
    data["leakage"]["reconciliation"] = reconcile(data, layout, state)
    text = report.summary(data)
    assert "ipv6 not measured" in text and "by path: ipv6 not measured, uplink 0" in text
    assert "reconciliation (packets; agree within 10 or 2%)" in text
    assert "WARNING: 1 reconciliation row(s) disagree" in text
