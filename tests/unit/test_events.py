"""The scenario clock's events: one sorted, merged, validated list from every source."""

from __future__ import annotations

import pytest
import yaml

from hermitnet import radio, scenario
from hermitnet.errors import HermitError
from hermitnet.timeline.events import Event, events, radio_model_on_clock, scenario_s
from tests.conftest import REPO_ROOT as REPO


def with_timeline(scenario_dict, *entries, duration_s=30, **extra):
    data = scenario_dict(**extra)
    data["timeline"] = {"duration_s": duration_s, "events": list(entries)}
    return data


def refused(data, field: str, *words: str) -> HermitError:
    with pytest.raises(HermitError) as caught:
        scenario.from_dict(data, source="s.yaml")
    assert caught.value.field == field, caught.value
    assert caught.value.source == "s.yaml"
    for word in words:
        assert word in caught.value.message, caught.value
    return caught.value


def test_events_are_sorted_by_time_then_domain(scenario_dict):
    data = with_timeline(
        scenario_dict,
        {"at_s": 20, "kind": "unblock", "site": "video"},
        {"at_s": 5, "kind": "site_down", "site": "news"},
        {"at_s": 5, "kind": "block", "site": "video", "tier": "elite"},
        {"at_s": 5, "kind": "uplink_degrade", "bw_mbps": 1, "loss_pct": 2},
        {"at_s": 12, "kind": "site_up", "site": "news"},
        {"at_s": 20, "kind": "uplink_up"},
        blocklist=[{"site": "video"}])
    got = [(e.at_s, e.kind) for e in events(scenario.from_dict(data))]
    assert got == [(5, "block"), (5, "uplink_degrade"), (5, "site_down"), (12, "site_up"),
                   (20, "unblock"), (20, "uplink_up")]
    degrade = events(scenario.from_dict(data))[1]
    assert degrade.settings == (("bw_mbps", 1.0), ("loss_pct", 2.0))
    assert degrade.target == "uplink" and degrade.field == "timeline.events[3]"


def test_blocklist_windows_are_block_and_unblock_events(scenario_dict):
    data = scenario_dict(blocklist=[{"site": "video", "from_s": 5, "until_s": 15},
                                    {"site": "news", "until_s": 8}])
    data["timeline"] = {"duration_s": 20}
    loaded = scenario.from_dict(data)
    assert loaded.blocklist == (scenario.BlockEntry("news"),)   # blocked from t = 0 until 8 s
    got = [(e.at_s, e.kind, e.target, e.field) for e in events(loaded)]
    assert got == [(5, "block", "video", "blocklist[0].from_s"),
                   (8, "unblock", "news", "blocklist[1].until_s"),
                   (15, "unblock", "video", "blocklist[0].until_s")]


def test_identical_events_from_two_sources_are_merged(scenario_dict):
    data = with_timeline(scenario_dict, {"at_s": 5, "kind": "block", "site": "video"},
                         blocklist=[{"site": "video", "from_s": 5}])
    (only,) = events(scenario.from_dict(data))
    assert (only.at_s, only.kind, only.target) == (5, "block", "video")


def test_radio_schedules_duty_cycles_and_moves_become_events():
    loaded = scenario.load(REPO / "scenarios" / "border.yaml")
    got = [(e.at_s, e.kind, e.target) for e in events(loaded)]
    assert (10.0, "jammer_on", "jam-hyesan-east") in got
    assert (40.0, "jammer_off", "jam-hyesan-east") in got
    pochon = [(t, k) for t, k, target in got if target == "jam-pochon"]
    assert pochon == [(10, "jammer_off"), (20, "jammer_on"), (30, "jammer_off"),
                      (40, "jammer_on"), (50, "jammer_off")]     # on 10 s of every 20 s
    assert [(t, k) for t, k, target in got if target == "walker-1"] == [
        (5, "phone_move"), (55, "phone_move")]
    assert got == sorted(got, key=lambda e: e[0])


def test_timeline_jammer_events_drive_the_radio_model():
    doc = yaml.safe_load((REPO / "scenarios" / "border.yaml").read_text())
    doc["radio"]["jammers"][0]["initially_on"] = True
    doc["timeline"] = {"duration_s": 60, "events": [
        {"at_s": 20, "kind": "jammer_off", "jammer": "jam-hyesan-west"},
        {"at_s": 30, "kind": "jammer_on", "jammer": "jam-hyesan-west"}]}
    loaded = scenario.from_dict(doc)
    model = radio_model_on_clock(loaded.radio, events(loaded))
    west = model.jammers[0]
    assert [west.is_on(t) for t in (0, 19.9, 20, 29.9, 30, 60)] == [
        True, True, False, False, True, True]
    pochon = model.jammers[2]      # its duty cycle, expanded on the clock
    assert [pochon.is_on(t) for t in (0, 9.9, 10, 20, 35)] == [True, True, False, True, False]
    assert radio.evaluate(model, 25).keys() == radio.evaluate(loaded.radio, 25).keys()


def test_time_compression_records_scenario_time(scenario_dict):
    data = with_timeline(scenario_dict, {"at_s": 6, "kind": "uplink_down"},
                         {"at_s": 18, "kind": "uplink_up"})
    data["timeline"]["time_scale"] = 600       # one run second for ten minutes of history
    loaded = scenario.from_dict(data)
    assert loaded.timeline.time_scale == 600
    down, up = events(loaded)
    assert down.to_dict(loaded.timeline.time_scale)["scenario_s"] == 3600    # an hour in
    assert up.to_dict(600)["planned_s"] == 18 and up.to_dict(600)["scenario_s"] == 10800
    assert scenario_s(0.5, 600) == 300


@pytest.mark.parametrize("entry,field,words", [
    ({"at_s": 5, "kind": "block", "site": "vidoe"}, "timeline.events[0].site",
     ["unknown site 'vidoe'", "news, portal, video"]),
    ({"at_s": 5, "kind": "block", "site": "video", "tier": "royal"}, "timeline.events[0].tier",
     ["unknown tier 'royal'"]),
    ({"at_s": 5, "kind": "move_subscriber", "subscriber": "nobody", "tier": "citizen"},
     "timeline.events[0].subscriber", ["unknown subscriber 'nobody'"]),
    ({"at_s": 5, "kind": "move_subscriber", "subscriber": "phone-1", "tier": "royal"},
     "timeline.events[0].tier", ["unknown tier"]),
    ({"at_s": 5, "kind": "set_tier_zones", "tier": "royal", "zones": []},
     "timeline.events[0].tier", ["unknown tier"]),
    ({"at_s": 5, "kind": "jammer_on", "jammer": "jam-1"}, "timeline.events[0].jammer",
     ["unknown jammer", "no radio section"]),
    ({"at_s": 5, "kind": "site_down", "site": "nowhere"}, "timeline.events[0].site",
     ["unknown site"]),
    ({"at_s": 45, "kind": "uplink_down"}, "timeline.events[0].at_s",
     ["beyond the run's duration", "30 s"]),
    ({"at_s": 5, "kind": "uplink_degrade"}, "timeline.events[0]", ["needs at least one of"]),
    ({"at_s": 5, "kind": "uplink_down", "site": "news"}, "timeline.events[0].site",
     ["uplink_down takes no 'site'"]),
    ({"at_s": 5, "kind": "block"}, "timeline.events[0]", ["block needs 'site'"]),
    ({"at_s": 5, "kind": "unblock", "site": "video"}, "timeline.events[0]",
     ["not blocked for every tier at 5 s"]),
    ({"at_s": 5, "kind": "uplink_up"}, "timeline.events[0]", ["already up"]),
    ({"at_s": 5, "kind": "site_up", "site": "news"}, "timeline.events[0]", ["already up"]),
])
def test_each_bad_event_is_refused_naming_its_field(scenario_dict, entry, field, words):
    refused(with_timeline(scenario_dict, entry), field, *words)


def test_an_unknown_uplink_is_refused(scenario_dict):
    data = with_timeline(scenario_dict, {"at_s": 5, "kind": "uplink_down", "uplink": "second"})
    refused(data, "timeline.events[0].uplink", "unknown uplink 'second'",
            "expected one of: uplink")   # the single uplink form names its one uplink "uplink"


TWO_UPLINKS = [{"name": "cable", "bw_mbps": 10, "delay_ms": 30},
               {"name": "satellite", "bw_mbps": 2, "delay_ms": 300}]


def test_named_uplinks_each_have_their_own_events(scenario_dict):
    data = with_timeline(scenario_dict,
                         {"at_s": 5, "kind": "uplink_down", "uplink": "cable"},
                         {"at_s": 5, "kind": "uplink_degrade", "uplink": "satellite",
                          "loss_pct": 1},
                         {"at_s": 15, "kind": "uplink_up", "uplink": "cable"},
                         uplinks=TWO_UPLINKS)
    loaded = scenario.from_dict(data)
    assert [u.name for u in loaded.uplinks] == ["cable", "satellite"]
    assert loaded.uplink_spec("satellite").delay_ms == 300
    assert loaded.uplink.bw_mbps == 10 and loaded.uplink_spec("cable").loss_pct == 0
    got = [(e.at_s, e.kind, e.target) for e in events(loaded)]
    assert got == [(5, "uplink_down", "cable"), (5, "uplink_degrade", "satellite"),
                   (15, "uplink_up", "cable")]


@pytest.mark.parametrize("entry,field,words", [
    ({"at_s": 5, "kind": "uplink_down"}, "timeline.events[0]",
     ["uplink_down needs 'uplink' when the scenario has several", "cable, satellite"]),
    ({"at_s": 5, "kind": "uplink_down", "uplink": "uplink"}, "timeline.events[0].uplink",
     ["unknown uplink 'uplink'", "expected one of: cable, satellite"]),
    ({"at_s": 5, "kind": "uplink_up", "uplink": "satellite"}, "timeline.events[0]",
     ["uplink satellite is already up at 5 s"]),
])
def test_bad_named_uplink_events_are_refused(scenario_dict, entry, field, words):
    refused(with_timeline(scenario_dict, entry, uplinks=TWO_UPLINKS), field, *words)


def test_one_uplink_down_twice_is_refused_but_two_uplinks_down_are_not(scenario_dict):
    down = {"kind": "uplink_down", "uplink": "cable"}
    refused(with_timeline(scenario_dict, {"at_s": 5, **down}, {"at_s": 8, **down},
                          uplinks=TWO_UPLINKS),
            "timeline.events[1]", "uplink cable is already down at 8 s")
    both = with_timeline(scenario_dict, {"at_s": 5, **down},
                         {"at_s": 8, "kind": "uplink_down", "uplink": "satellite"},
                         uplinks=TWO_UPLINKS)
    assert len(events(scenario.from_dict(both))) == 2


@pytest.mark.parametrize("extra,field,words", [
    ({"uplink": {"bw_mbps": 5}}, "uplink", ["either uplink", "or uplinks", "not both"]),
    ({"uplinks": [{"name": "cable"}, {"name": "cable"}]}, "uplinks[1].name",
     ["duplicate uplink name 'cable'"]),
    ({"uplinks": []}, "uplinks", ["[] should be non-empty"]),
    ({"uplinks": [{"bw_mbps": 5}]}, "uplinks[0]", ["'name' is a required property"]),
    ({"uplinks": [{"name": "cable", "rate": 5}]}, "uplinks[0]", ["'rate' was unexpected"]),
])
def test_bad_uplinks_are_refused(scenario_dict, extra, field, words):
    data = scenario_dict(**extra)
    if "uplink" in extra:
        data["uplinks"] = TWO_UPLINKS
    refused(data, field, *words)


@pytest.mark.parametrize("first,second", [
    ({"kind": "block", "site": "video"}, {"kind": "unblock", "site": "video"}),
    ({"kind": "site_down", "site": "news"}, {"kind": "site_up", "site": "news"}),
    ({"kind": "uplink_down"}, {"kind": "uplink_degrade", "bw_mbps": 1}),
    ({"kind": "move_subscriber", "subscriber": "phone-1", "tier": "citizen"},
     {"kind": "move_subscriber", "subscriber": "phone-1", "tier": "elite"}),
    ({"kind": "set_tier_zones", "tier": "elite", "zones": ["global"]},
     {"kind": "set_tier_zones", "tier": "elite", "zones": ["intranet"]}),
])
def test_contradictory_events_at_the_same_time_are_refused(scenario_dict, first, second):
    data = with_timeline(scenario_dict, {"at_s": 10, **first}, {"at_s": 10, **second},
                         tiers={"citizen": {"zones": ["intranet"]},
                                "elite": {"zones": ["intranet", "global"]}},
                         blocklist=[{"site": "video"}] if first["kind"] == "unblock" else [])
    error = refused(data, "timeline.events[1]", "contradicts", "at the same time",
                    "timeline.events[0]")
    assert "10 s" in error.message


def test_a_block_for_one_tier_and_one_for_every_tier_do_not_contradict(scenario_dict):
    data = with_timeline(scenario_dict, {"at_s": 10, "kind": "block", "site": "video"},
                         {"at_s": 10, "kind": "block", "site": "video", "tier": "citizen"})
    assert len(events(scenario.from_dict(data))) == 2


def test_measurement_times_beyond_the_run_are_refused(scenario_dict):
    data = scenario_dict(measure={"probes": {"at_s": [50]}})
    data["timeline"] = {"duration_s": 30}
    refused(data, "measure.probes.at_s[0]", "beyond the run's duration")
    data = scenario_dict(measure={"throughput": {"flows": [
        {"from": "phone-1", "to": "news", "start_s": 25, "seconds": 10}]}})
    data["timeline"] = {"duration_s": 30}
    refused(data, "measure.throughput.flows[0].start_s", "beyond the run's duration")


def test_measure_times_and_flows_are_parsed(scenario_dict):
    data = scenario_dict(measure={
        "reachability": {"at_s": [2, 10, 20]}, "probes": {"at_s": [3]},
        "throughput": {"seconds": 4, "flows": [
            {"from": "phone-1", "to": "news", "start_s": 0, "seconds": 25},
            {"from": "phone-1", "to": "portal"}]}})
    data["timeline"] = {"duration_s": 30, "step_s": 0.5}
    loaded = scenario.from_dict(data)
    assert loaded.reachability_at_s == (2, 10, 20) and loaded.probes_at_s == (3,)
    assert loaded.flows[0] == scenario.Flow("phone-1", "news", 0, 25)
    assert loaded.flows[1].start_s is None and loaded.duration_s == 30
    assert loaded.timeline.step_s == 0.5


def test_event_describes_itself_for_the_results():
    event = Event(5.0, "block", "video", tier="elite", reason="2016", field="timeline.events[0]")
    assert event.domain == "policy"
    assert event.to_dict(10) == {"planned_s": 5.0, "scenario_s": 50.0, "kind": "block",
                                 "target": "video", "tier": "elite", "reason": "2016",
                                 "field": "timeline.events[0]"}
    assert Event(1.0, "uplink_down", "uplink").domain == "uplink"


def test_the_readme_timeline_example_is_valid():
    text = (REPO / "README.md").read_text()
    section = text.split("### The timeline", 1)[1]
    example = yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])
    doc = yaml.safe_load((REPO / "scenarios" / "baseline.yaml").read_text())
    doc["timeline"] = example["timeline"]
    doc["measure"] = {**doc["measure"], **example["measure"]}
    loaded = scenario.from_dict(doc)
    kinds = [e.kind for e in events(loaded)]
    assert kinds[0] == "set_tier_zones" and "uplink_down" in kinds
    assert loaded.timeline.time_scale == 86400 and loaded.reachability_at_s == (2, 20, 38)


def test_the_controller_is_killed_and_started_on_the_clock(scenario_dict):
    data = with_timeline(scenario_dict, {"at_s": 4, "kind": "controller_down", "reason": "crash"},
                         {"at_s": 12, "kind": "controller_up"})
    got = [(e.at_s, e.kind, e.target, e.domain) for e in events(scenario.from_dict(data))]
    assert got == [(4, "controller_down", "controller", "control"),
                   (12, "controller_up", "controller", "control")]


@pytest.mark.parametrize("entries, field, words", [
    ([{"at_s": 4, "kind": "controller_up"}], "timeline.events[0]",
     ("already up", "controller_down before it")),
    ([{"at_s": 4, "kind": "controller_down"}, {"at_s": 6, "kind": "controller_down"}],
     "timeline.events[1]", ("already down",)),
    ([{"at_s": 4, "kind": "controller_down"}, {"at_s": 4, "kind": "controller_up"}],
     "timeline.events[1]", ("contradicts",)),
    ([{"at_s": 4, "kind": "controller_down", "site": "news"}], "timeline.events[0].site",
     ("takes no 'site'",)),
])
def test_controller_events_out_of_order_are_refused(scenario_dict, entries, field, words):
    refused(with_timeline(scenario_dict, *entries), field, *words)


def _flood(at_s=5, **fields):
    return {"at_s": at_s, "kind": "flood_start", "from": "video", "toward": "national",
            "rate_mbps": 20, **fields}


def test_a_flood_is_started_and_stopped_on_the_clock(scenario_dict):
    data = with_timeline(scenario_dict, _flood(protocol="syn", rate_mbps=2),
                         {"at_s": 15, "kind": "flood_stop", "from": "video"})
    start, stop = events(scenario.from_dict(data))
    assert (start.kind, start.target, start.domain) == ("flood_start", "video", "flood")
    assert start.to_dict()["rate_mbps"] == 2 and start.to_dict()["protocol"] == "syn"
    assert start.to_dict()["toward"] == "national"
    assert start.describe() == "flood_start video toward=national protocol=syn rate_mbps=2"
    assert (stop.at_s, stop.kind, stop.target) == (15, "flood_stop", "video")


@pytest.mark.parametrize("entry,field,words", [
    (_flood(**{"from": "news"}), "timeline.events[0].from",
     ["unknown global-zone site 'news'", "expected one of: video"]),
    (_flood(rate_mbps=500), "timeline.events[0].rate_mbps",
     ["500 Mbit/s", "beyond what this machine's flood generator can send", "at most 100"]),
    (_flood(rate_mbps=11, protocol="syn"), "timeline.events[0].rate_mbps",
     ["syn flood at 11", "at most 10"]),
    (_flood(toward="moon"), "timeline.events[0].toward", ["'moon' is not one of"]),
    (_flood(protocol="icmp"), "timeline.events[0].protocol", ["'icmp' is not one of"]),
    ({"at_s": 5, "kind": "flood_start", "from": "video", "toward": "border"},
     "timeline.events[0]", ["flood_start needs 'rate_mbps'"]),
    ({"at_s": 5, "kind": "flood_stop", "from": "video"}, "timeline.events[0]",
     ["video is not flooding at 5 s", "expected a flood_start before it"]),
    (_flood(at_s=40), "timeline.events[0].at_s", ["beyond the run's duration"]),
    (_flood(site="news"), "timeline.events[0].site", ["flood_start takes no 'site'"]),
])
def test_each_bad_flood_is_refused_naming_its_field(scenario_dict, entry, field, words):
    refused(with_timeline(scenario_dict, entry), field, *words)


def test_a_flood_toward_national_needs_national_sites(scenario_dict):
    data = with_timeline(scenario_dict, _flood(),
                         sites=[{"name": "news", "zone": "intranet"},
                                {"name": "video", "zone": "global"}])
    refused(data, "timeline.events[0].toward", "this scenario has none", "expected border")
    data["timeline"]["events"][0]["toward"] = "border"
    assert events(scenario.from_dict(data))[0].options[0] == ("toward", "border")


def test_floods_at_once_share_the_generator(scenario_dict):
    sites = [{"name": "video", "zone": "global"}, {"name": "shop", "zone": "global"},
             {"name": "portal", "zone": "national"}]
    data = with_timeline(scenario_dict, _flood(rate_mbps=60),
                         _flood(at_s=8, **{"from": "shop"}, rate_mbps=5, protocol="syn"),
                         sites=sites)
    error = refused(data, "timeline.events[1].rate_mbps", "floods at once at 8 s",
                    "video 60 Mbit/s udp", "shop 5 Mbit/s syn", "110%")
    assert "at most 100 %" in error.message
    data["timeline"]["events"].insert(1, {"at_s": 7, "kind": "flood_stop", "from": "video"})
    assert len(events(scenario.from_dict(data))) == 3


def test_a_second_flood_from_the_same_site_and_a_flood_started_and_stopped_at_once(
        scenario_dict):
    refused(with_timeline(scenario_dict, _flood(), _flood(at_s=8)), "timeline.events[1]",
            "video is already flooding at 8 s", "timeline.events[0]")
    refused(with_timeline(scenario_dict, _flood(), {"at_s": 5, "kind": "flood_stop",
                                                    "from": "video"}),
            "timeline.events[1]", "contradicts", "at the same time")


def test_the_readme_floods_and_uplinks_example_is_valid():
    text = (REPO / "README.md").read_text()
    section = text.split("#### Floods and a second upstream", 1)[1]
    example = yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])
    doc = yaml.safe_load((REPO / "scenarios" / "baseline.yaml").read_text())
    del doc["uplink"]
    doc.update(uplinks=example["uplinks"], timeline=example["timeline"])
    doc["measure"] = {**doc["measure"], **example["measure"]}
    loaded = scenario.from_dict(doc)
    assert [u.name for u in loaded.uplinks] == ["cable", "satellite"]
    assert [e.kind for e in events(loaded)] == ["flood_start", "flood_stop", "uplink_down",
                                               "uplink_up"]
    assert loaded.flows[0].direction == "download"
