"""The player (one clock for events and measurements) and the pure builders it uses."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from hermitnet import plan as plan_module
from hermitnet.emulation import uplink
from hermitnet.errors import HermitError
from hermitnet.timeline.actions import policy_request
from hermitnet.timeline.events import Event
from hermitnet.timeline.player import Clock, Player
from hermitnet.workload import throughput


def test_events_play_in_order_at_their_time_and_jobs_run_concurrently():
    clock = Clock()
    player = Player(clock, step_s=1.0, time_scale=60, progress=lambda line: None)
    applied, started = [], {}
    for at_s, site in ((0.2, "b"), (0.1, "a")):
        player.event(Event(at_s, "block", site), lambda e: applied.append(
            (e.target, clock.now_s())) or {"note": e.target})
    both_running = threading.Barrier(2, timeout=5)
    for name, at_s in (("one", 0.05), ("two", 0.1)):
        player.job(at_s, name, lambda name=name: (started.setdefault(name, clock.now_s()),
                                                  both_running.wait()))
    player.events.sort(key=lambda item: item[0].at_s)      # events() hands them sorted
    player.start()
    player.wait(0.3)
    assert [site for site, _ in applied] == ["a", "b"]
    assert all(t_s >= at_s for (_, t_s), at_s in zip(applied, (0.1, 0.2), strict=True))
    assert started["one"] >= 0.05 and started["two"] >= 0.1    # and overlapped (the barrier)
    first = player.records[0]
    assert first["planned_s"] == 0.1 and first["scenario_s"] == 6.0 and first["note"] == "a"
    assert first["effective_s"] >= first["started_s"] >= 0.1
    assert first["late"] is False


def test_an_event_that_takes_longer_than_a_step_is_recorded_late():
    lines = []
    player = Player(Clock(), step_s=0.05, time_scale=1, progress=lines.append)
    player.event(Event(0.0, "site_up", "news"), lambda e: time.sleep(0.1))
    player.start()
    player.wait(0.0)
    (record,) = player.records
    assert record["late"] and record["late_s"] >= 0.1
    assert "LATE" in lines[0] and "more than one step" in lines[0]


def test_events_planned_for_the_same_time_share_one_bracket():
    """Seven blocks at once: the observers are read once before and once after the group
    (LiveActions.bracket), not around each of them; a later event gets a bracket of its own."""
    from hermitnet.timeline.actions import LiveActions

    clock = Clock()
    trace = []
    live = SimpleNamespace(clock=clock, read_observers=lambda: trace.append("read"))
    actions = LiveActions(live)
    player = Player(clock, step_s=1.0, time_scale=1, progress=lambda line: None)
    for at_s, site in [*((0.05, f"s{i}") for i in range(7)), (0.1, "late")]:
        player.event(Event(at_s, "block", site),
                     lambda e: trace.append(e.target) or {}, actions.bracket)
    player.event(Event(0.05, "site_down", "news"),
                 lambda e: trace.append("site") or {}, actions.bracket)
    player.start()
    player.wait(0.2)
    policy = [t for t in trace if t != "site"]
    assert policy == ["read", *(f"s{i}" for i in range(7)), "read", "read", "late", "read"]
    assert trace.count("site") == 1 and len(player.records) == 9


def test_a_failing_event_stops_the_run_naming_it():
    player = Player(Clock(), step_s=1, time_scale=1, progress=lambda line: None)

    def refuse(event):
        raise HermitError("unknown site 'x'", field="site")

    player.event(Event(0.0, "block", "x"), refuse)
    player.event(Event(0.05, "block", "y"), lambda e: pytest.fail("played after a failure"))
    player.start()
    with pytest.raises(HermitError, match="policy events: .*unknown site"):
        player.wait(5.0)
    player.stop()


def test_policy_events_are_the_rest_requests_of_hermitnet_policy():
    assert policy_request(Event(1, "block", "video", tier="elite", reason="r")) == (
        "POST", "/v1/blocklist", {"site": "video", "tier": "elite", "reason": "r"})
    assert policy_request(Event(1, "unblock", "video")) == (
        "DELETE", "/v1/blocklist/video", None)
    assert policy_request(Event(1, "unblock", "video", tier="elite")) == (
        "DELETE", "/v1/blocklist/video/tiers/elite", None)
    assert policy_request(Event(1, "move_subscriber", "elite-1", tier="citizen")) == (
        "PUT", "/v1/subscribers/elite-1/tier", {"tier": "citizen"})
    assert policy_request(Event(1, "set_tier_zones", "visitor", zones=("national",))) == (
        "PUT", "/v1/tiers/visitor/zones", {"zones": ["national"]})


def caps(**kw):
    return SimpleNamespace(**{"htb": True, "netem": False, "nft": True, **kw})


def test_uplink_down_and_up_commands(baseline):
    layout = plan_module.build(baseline, run_tag=7, prefix="hnxy")
    border_end, global_end = uplink.interfaces(layout)
    assert border_end.startswith("hnxys") and global_end.startswith("hnxys")
    assert uplink.down(layout).commands == (
        ("ip", "link", "set", "dev", border_end, "down"),
        ("ip", "link", "set", "dev", global_end, "down"))
    up = uplink.shaped(layout, baseline.uplink, caps())
    assert up.commands[:2] == (("ip", "link", "set", "dev", border_end, "up"),
                               ("ip", "link", "set", "dev", global_end, "up"))
    assert [c[:3] for c in up.commands[2:]] == [("tc", "class", "change")] * 2
    assert "10mbit" in up.commands[2]
    (script,) = up.nft     # no loss: the run's own table removed
    assert "delete table netdev hermitnet_uplink_hnxy" in script and "drop" not in script
    assert up.not_emulated == ("uplink border-global: delay_ms=30 jitter_ms=0 "
                               "(no netem in this kernel)",)


def test_uplink_degrade_without_netem_drops_by_nftables_and_says_delay_is_not_emulated(
        baseline):
    layout = plan_module.build(baseline, run_tag=7, prefix="hnxy")
    spec = baseline.uplink.merged({"bw_mbps": 1.5, "delay_ms": 300, "loss_pct": 5})
    change = uplink.shaped(layout, spec, caps())
    assert any("1.5mbit" in c for c in change.commands)
    (script,) = change.nft
    assert "numgen random mod 1000000 < 50000 drop" in script
    assert uplink.interfaces(layout)[0] in script        # one end: each direction once
    assert "delay_ms=300" in change.not_emulated[0]
    with_netem = uplink.shaped(layout, spec, caps(netem=True))
    assert with_netem.nft == () and with_netem.not_emulated == ()
    assert any(c[:3] == ("tc", "qdisc", "replace") and "netem" in c and "300ms" in c
               for c in with_netem.commands)
    neither = uplink.shaped(layout, spec, caps(nft=False))
    assert any("loss_pct=5" in line for line in neither.not_emulated)


def test_interval_series_is_stamped_on_the_clock():
    report = {"intervals": [{"sum": {"end": 1.0, "bits_per_second": 2e6}}],
              "server_output_json": {"intervals": [
                  {"sum": {"end": 1.0, "bits_per_second": 3e6}},
                  {"sum": {"end": 2.0, "bits_per_second": 0.0}}]}}
    assert throughput.interval_series(report, 5.0) == [
        {"t_s": 6.0, "mbps": 3.0, "omitted": False}, {"t_s": 7.0, "mbps": 0.0, "omitted": False}]
    del report["server_output_json"]
    assert throughput.interval_series(report, 0.0)[0]["mbps"] == 2.0   # the sender's


def test_concurrent_flows_say_they_share_the_links():
    rows = [{"src": "a", "dst": "x", "start_s": 0, "seconds": 10},
            {"src": "b", "dst": "x", "start_s": 5, "seconds": 10},
            {"src": "c", "dst": "x", "start_s": 20, "seconds": 5}]
    throughput.concurrent_note(rows)
    assert rows[0]["concurrent_with"] == ["b->x"] and rows[1]["concurrent_with"] == ["a->x"]
    assert "shared" in rows[0]["expectation"] and "concurrent_with" not in rows[2]


def test_plots_on_the_clock_mark_every_event(tmp_path):
    from hermitnet import plots

    series = [{"t_s": float(t), "mbps": 0.0 if 5 < t <= 15 else 4.0} for t in range(1, 25)]
    results = {
        "scenario": "s", "throughput": [{"tier": "elite", "series": series}],
        "reachability": [{"t_s": t, "host": h, "site": s, "ok": not (t == 10 and s == "news")}
                         for t in (2, 10, 20) for h in ("a", "b") for s in ("news", "mail")],
        "timeline": {"events": [{"effective_s": 5.02, "kind": "uplink_down", "target": "uplink"},
                                {"effective_s": 15.01, "kind": "uplink_up", "target": "uplink"}]},
    }
    made = plots.clock_throughput_png(results, tmp_path / "t.png")
    assert made and made.read_bytes()[:4] == b"\x89PNG"
    assert plots.clock_reachability_png(results, tmp_path / "r.png").stat().st_size > 1000
    results["reachability"] = [r for r in results["reachability"] if r["t_s"] == 2]
    assert plots.clock_reachability_png(results, tmp_path / "one.png") is None  # one sweep
