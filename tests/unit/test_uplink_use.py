"""Which uplink carried a flow and how long a failover took, from counters and ping output."""

from __future__ import annotations

import pytest

from hermitnet import plan as plan_module
from hermitnet import scenario as scenario_module
from hermitnet.policy.state import PolicyState
from hermitnet.workload import uplinks

UPLINKS = [{"name": "cable"}, {"name": "satellite"}]


def _samples(*rows):
    return [{"t_s": t, "bytes": {"cable": c, "satellite": s}} for t, c, s in rows]


def test_a_flow_over_one_uplink_then_the_other_used_both_in_that_order():
    samples = _samples((0, 0, 0), (1, 1000, 0), (2, 2000, 0), (3, 2000, 900), (4, 2000, 2000))
    carried, used = uplinks.usage(samples, 0.5, 4)
    assert carried == {"cable": 2000, "satellite": 2000} and used == ["cable", "satellite"]
    carried, used = uplinks.usage(samples, 0.5, 2)
    assert carried == {"cable": 2000, "satellite": 0} and used == ["cable"]


def test_a_trickle_below_the_share_is_not_counted_as_used():
    samples = _samples((0, 0, 0), (1, 100_000, 10), (2, 200_000, 20))
    assert uplinks.usage(samples, 0, 2)[1] == ["cable"]
    assert uplinks.usage([], 0, 2) == ({}, [])


def test_ping_replies_become_their_send_times_on_the_run_clock():
    out = ("PING 198.18.0.11 (198.18.0.11) 56(84) bytes of data.\n"
           "[1000.500000] 64 bytes from 198.18.0.11: icmp_seq=1 ttl=64 time=100 ms\n"
           "[1000.520000] 64 bytes from 198.18.0.11: icmp_seq=2 ttl=64 time=60.5 ms\n")
    assert uplinks.parse_ping(out, 990.0) == [10.4, 10.4595]
    argv = uplinks.ping_argv("198.18.0.11", 19.5)
    assert argv[:2] == ["ping", "-D"] and argv[argv.index("-w") + 1] == "20"


def _records(*events):
    return [{"kind": k, "target": t, "started_s": s, "planned_s": s} for k, t, s in events]


def _answered(*spans):
    """Send times every probe interval over each [from, until) span."""
    step = uplinks.PROBE_INTERVAL_S
    return [round(a + i * step, 4) for a, b in spans for i in range(round((b - a) / step))]


def test_failover_time_is_from_the_link_down_to_the_first_answer_after_the_gap():
    records = _records(("uplink_down", "cable", 5.0), ("uplink_up", "cable", 10.0),
                       ("uplink_down", "cable", 15.0))
    answered = _answered((0, 5.01), (5.31, 15.0), (15.5, 20))
    found = uplinks.failovers(records, ["cable", "satellite"], answered)
    assert [(f["uplink"], f["to"], f["planned_s"]) for f in found] == [
        ("cable", "satellite", 5.0), ("cable", "satellite", 15.0)]
    assert found[0]["failover_s"] == pytest.approx(0.31, abs=0.001)
    assert found[0]["lost_probes"] == 15       # sent from 5.00 to 5.28 s
    assert found[1]["failover_s"] == pytest.approx(0.5, abs=0.021)
    assert uplinks.p95([f["failover_s"] for f in found]) == found[1]["failover_s"]


def test_no_failover_when_the_standby_goes_down_or_no_uplink_is_left():
    records = _records(("uplink_down", "satellite", 5.0), ("uplink_down", "cable", 8.0))
    assert uplinks.failovers(records, ["cable", "satellite"], _answered((0, 20))) == []


def test_no_probe_lost_is_a_failover_of_zero_and_none_answered_is_unknown():
    records = _records(("uplink_down", "cable", 5.0))
    (quick,) = uplinks.failovers(records, ["cable", "satellite"], _answered((0, 20)))
    assert quick["lost_probes"] == 0 and 0 < quick["failover_s"] <= uplinks.PROBE_INTERVAL_S
    # probes lost later, to a congested queue, are not the failover
    (later,) = uplinks.failovers(records, ["cable", "satellite"],
                                 _answered((0, 7.0), (7.2, 20)))
    assert later["lost_probes"] == 0 and later["failover_s"] <= uplinks.PROBE_INTERVAL_S
    (never,) = uplinks.failovers(records, ["cable", "satellite"], _answered((0, 5)))
    assert never["failover_s"] is None
    assert uplinks.p95([]) is None
    assert uplinks.p95([0.1] * 19 + [3.0]) == 0.1
    assert uplinks.p95([0.1] * 18 + [2.0, 3.0]) == 2.0


def test_the_probe_goes_from_a_flow_across_the_border_else_anyone_allowed(scenario_dict):
    data = scenario_dict(uplinks=UPLINKS, measure={"throughput": {"flows": [
        {"from": "phone-1", "to": "news"}, {"from": "phone-2", "to": "video"}]}})
    loaded = scenario_module.from_dict(data)
    state = PolicyState.from_scenario(loaded)
    assert uplinks.probe_pair(loaded, state) == ("phone-2", "video")
    loaded = scenario_module.from_dict(scenario_dict(uplinks=UPLINKS))
    assert uplinks.probe_pair(loaded, state) == ("phone-2", "video")
    nobody = state.with_changes(tier_zones={"citizen": ("intranet",), "elite": ("intranet",)})
    assert uplinks.probe_pair(loaded, nobody) is None


def test_border_interfaces_and_counters(scenario_dict, tmp_path):
    loaded = scenario_module.from_dict(scenario_dict(uplinks=UPLINKS))
    plan = plan_module.build(loaded, run_tag=3, prefix="hnuc")
    interfaces = uplinks.border_interfaces(plan)
    border = plan.switch("border").node
    assert interfaces == {name: f"{border}-eth{port}"
                          for name, (_, port) in plan.uplink_ports().items()}
    stats = tmp_path / "veth0" / "statistics"
    stats.mkdir(parents=True)
    (stats / "rx_bytes").write_text("100\n")
    (stats / "tx_bytes").write_text("23\n")
    assert uplinks.read_bytes("veth0", tmp_path) == 123
    assert uplinks.read_bytes("gone", tmp_path) == 0
