"""results.json: leakage counting, validation on write and load, CSV files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hermitnet import results
from hermitnet.errors import HermitError
from hermitnet.policy.state import PolicyState


@pytest.fixture
def state(baseline):
    return PolicyState.from_scenario(baseline)


@pytest.fixture
def border_like():
    from hermitnet import plan, scenario

    loaded = scenario.load(Path(__file__).resolve().parents[1] / "ground_truth" / "holes.yaml")
    return plan.build(loaded, run_tag=4), PolicyState.from_scenario(loaded)


def _count(nbytes: int) -> dict:
    return {"packets": max(1, nbytes // 1000), "bytes": nbytes}


@pytest.fixture
def layout(baseline):
    from hermitnet import plan

    return plan.build(baseline, run_tag=9)


def _probe(planned, **match):
    return next(p for p in planned if all(p[k] == v for k, v in match.items()))


def _sent(planned):
    return [{**p, "packets_sent": 3, "bytes_sent": 150, "send_errors": 0, "no_service": False}
            for p in planned]


def _with_controls(planned, arrived):
    """Every positive control arrived (3 packets)."""
    for probe in planned:
        if probe["control"]:
            arrived.setdefault(probe["destination"], {})[f"probe:{probe['id']}"] = _count(150)
    return arrived


def test_leakage_is_judged_by_the_crossing_in_both_directions(baseline, layout, state):
    from hermitnet.workload import probes

    planned = _sent(probes.plan_probes(layout, state))
    arrived = _with_controls(planned, {
        "video": {"citizen-1": _count(5000), "elite-1": _count(90_000),
                  "library-1": _count(700)},
        "portal": {"citizen-2": _count(300), "visitor-1": _count(1000)},
        "news": {"citizen-1": _count(4000), "visitor-1": _count(200)},
        "citizen-1": {"news": _count(900), "video": _count(64), "visitor-1": _count(80)},
        "elite-1": {"video": _count(70_000)},
    })
    leak = results.leakage(arrived, planned, {}, layout, state)
    # citizen: video 5000 (uplink) + portal 300 (internal); public: video 700; visitor:
    # news 200 and citizen-1's phone 80 (internal); video -> citizen-1 64 (uplink, inbound)
    assert leak["by_tier"] == {"citizen": 5300, "public": 700, "elite": 0, "visitor": 280,
                               "zone:global": 64}
    assert leak["by_path"]["uplink"] == 5000 + 700 + 64
    assert leak["by_path"]["internal"] == 300 + 200 + 80
    assert leak["by_path"]["spoofed-source"] == 0 and leak["by_path"]["foreign-cell"] is None
    assert "foreign-cell" in leak["not_measured"]
    assert leak["arrived"] is arrived


def test_a_smuggled_handset_into_the_intranet_is_global_zone_leakage(border_like):
    from hermitnet.workload import probes

    layout, state = border_like
    planned = _sent(probes.plan_probes(layout, state))
    arrived = _with_controls(planned, {"news": {"smuggler-1": _count(600)},
                                       "video": {"smuggler-1": _count(2000)}})
    leak = results.leakage(arrived, planned, {}, layout, state)
    (into_news,) = [x for x in leak["leaks"] if x["destination"] == "news"]
    assert into_news["path"] == "uplink" and into_news["sender_class"] == "citizen"
    (into_video,) = [x for x in leak["leaks"] if x["destination"] == "video"]
    assert into_video["path"] == "foreign-cell"
    assert leak["by_tier"]["citizen"] == 2600


def test_a_probe_is_booked_by_its_sender_and_a_control_is_never_leakage(layout, state):
    from hermitnet.workload import probes

    planned = _sent(probes.plan_probes(layout, state))
    spoofed = _probe(planned, kind="spoofed-source", sender="citizen-1", destination="video",
                     control=False)
    control = _probe(planned, control=True, path="uplink")
    arrived = _with_controls(planned, {"video": {f"probe:{spoofed['id']}": _count(150)}})
    leak = results.leakage(arrived, planned, {}, layout, state)
    (found,) = leak["leaks"]
    assert (found["source"], found["path"], found["bytes"]) == ("citizen-1", "spoofed-source",
                                                                150)
    assert leak["by_tier"]["citizen"] == 150 and leak["probes_escaped"] == 1
    assert all(c["arrived_packets"] for c in leak["controls"])
    assert control["id"] in {c["id"] for c in leak["controls"]}


def test_a_failed_control_makes_its_path_not_measured_never_zero(layout, state):
    from hermitnet.workload import probes

    planned = _sent(probes.plan_probes(layout, state))
    arrived = _with_controls(planned, {})
    for probe in planned:
        if probe["control"] and probe["path"] == "tunnel":
            del arrived[probe["destination"]][f"probe:{probe['id']}"]
    leak = results.leakage(arrived, planned, {}, layout, state)
    assert leak["by_path"]["tunnel"] is None
    assert leak["not_measured"]["tunnel"].startswith("positive control did not arrive")
    assert leak["by_path"]["uplink"] == 0 and "uplink" not in leak["not_measured"]


def test_probes_sent_counts_what_was_sent(layout, state):
    from hermitnet.workload import probes

    planned = probes.plan_probes(layout, state)
    sent = [{**p, "packets_sent": 1, "bytes_sent": 50, "send_errors": 2,
             "send_error": "No buffer space available", "no_service": False} for p in planned]
    leak = results.leakage({}, sent, {}, layout, state)
    leakage_probes = [p for p in planned if not p["control"]]
    assert leak["probes_sent"] == len(leakage_probes)
    assert leak["probe_send_errors"] == 2 * len(planned)
    assert leak["probes_planned"] == 3 * len(planned)


def test_no_leakage_when_nothing_arrived_but_controls(baseline, layout, state):
    from hermitnet.workload import probes

    planned = _sent(probes.plan_probes(layout, state))
    leak = results.leakage(_with_controls(planned, {}), planned, {}, layout, state)
    assert set(leak["by_tier"]) == set(baseline.tiers)
    assert sum(leak["by_tier"].values()) == 0
    assert {p: v for p, v in leak["by_path"].items() if v is not None} == {
        "uplink": 0, "internal": 0, "spoofed-source": 0, "tunnel": 0, "ipv6": 0}


def test_a_probe_is_judged_against_the_policy_at_judging_time(layout, state):
    """A probe planned as forbidden is no leak if the policy (changed during the run) now
    allows its sender that zone."""
    import dataclasses

    from hermitnet.workload import probes

    planned = _sent(probes.plan_probes(layout, state))
    hole = _probe(planned, kind="policy-hole", sender="citizen-1", destination="portal",
                  control=False)
    arrived = _with_controls(planned, {"portal": {f"probe:{hole['id']}": _count(150)}})
    assert results.leakage(arrived, planned, {}, layout, state)["by_tier"]["citizen"] == 150
    opened = dataclasses.replace(state, tier_zones={**state.tier_zones,
                                                    "citizen": ("intranet", "national")})
    assert results.leakage(arrived, planned, {}, layout, opened)["by_tier"]["citizen"] == 0


def test_write_validates_and_writes_json_and_csv(tmp_path, results_record):
    data = results_record()
    path = results.write(tmp_path, data)
    assert path == tmp_path / "results.json"
    assert json.loads(path.read_text()) == data
    with (tmp_path / "reachability.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["site"] for r in rows] == ["news", "video", "news", "video"]
    assert rows[1]["blocking"] == "tcp_ip" and rows[1]["ok"] == "False"
    with (tmp_path / "throughput.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["tier", "src", "dst", "protocol", "bps", "expected_bps", "seconds"]
    assert float(rows[0]["bps"]) == 1.91e6 and rows[1]["expected_bps"] == ""
    assert (tmp_path / "rtt.csv").read_text().splitlines()[0] == (
        "tier,src,dst,rtt_ms_min,rtt_ms_avg,configured_delay_ms")


def test_load_round_trip(tmp_path, results_record):
    results.write(tmp_path, results_record())
    assert results.load(tmp_path) == results_record()


def _broken(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,field", [
    (("status",), "great", "status"),
    (("reachability", 1, "blocking"), "maybe", "reachability[1].blocking"),
    (("reachability", 0, "ok"), "yes", "reachability[0].ok"),
    (("throughput", 0, "bps"), -1, "throughput[0].bps"),
    (("environment", "datapath"), "quantum", "environment.datapath"),
    (("environment", "not_emulated"), KeyError, "environment"),
    (("leakage", "by_tier", "citizen"), 1.5, "leakage.by_tier.citizen"),
    (("schema",), "hermitnet.results/0", "schema"),
    (("rtt",), KeyError, "(top level)"),
])
def test_write_refuses_a_bad_record_naming_the_field(tmp_path, results_record, path, value,
                                                     field):
    with pytest.raises(HermitError) as caught:
        results.write(tmp_path, _broken(results_record(), path, value))
    assert caught.value.field == field
    assert str(tmp_path / "results.json") in str(caught.value)
    assert not (tmp_path / "results.json").exists()


def test_load_refuses_a_record_that_does_not_match(tmp_path, results_record):
    data = results_record()
    data["status"] = "unknown"
    (tmp_path / "results.json").write_text(json.dumps(data))
    with pytest.raises(HermitError, match="status"):
        results.load(tmp_path)


def test_load_of_a_folder_without_results_names_the_file(tmp_path):
    with pytest.raises(HermitError) as caught:
        results.load(tmp_path / "no-run")
    assert str(tmp_path / "no-run" / "results.json") in str(caught.value)
    assert "cannot read" in str(caught.value)


def test_load_of_broken_json_names_the_file(tmp_path):
    (tmp_path / "results.json").write_text('{"schema": ')
    with pytest.raises(HermitError, match=r"results\.json: not valid JSON"):
        results.load(tmp_path)


def test_write_replaces_atomically_leaving_no_temporary_file(tmp_path, results_record,
                                                              monkeypatch):
    results.write(tmp_path, results_record())
    before = (tmp_path / "results.json").read_text()
    data = results_record()
    data["status"] = "running"
    replaced = []
    real_replace = results.os.replace

    def replace(src, dst):
        # The new text is complete (and synced) before it takes the old file's place.
        if str(dst).endswith("results.json"):
            assert json.loads(type(tmp_path)(src).read_text())["status"] == "running"
            assert (tmp_path / "results.json").read_text() == before
        replaced.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", replace)
    results.write(tmp_path, data)
    assert tmp_path / "results.json" in [type(tmp_path)(p) for p in replaced]
    assert results.load(tmp_path)["status"] == "running"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "reachability.csv", "results.json", "rtt.csv", "throughput.csv"]


def test_a_running_record_without_finish_time_is_valid(tmp_path, results_record):
    data = results_record()
    data["status"], data["finished"] = "running", None
    results.write(tmp_path, data)
    assert results.load(tmp_path)["finished"] is None


def test_mark_killed_turns_a_running_record_into_an_interrupted_one(tmp_path, results_record):
    data = results_record()
    data["status"], data["finished"] = "running", None
    results.write(tmp_path, data)
    assert results.mark_killed(tmp_path) is True
    marked = results.load(tmp_path)
    assert marked["status"] == "interrupted"
    assert marked["error"] == "killed (SIGKILL or crash); cleaned by hermitnet clean"
    assert marked["finished"] and marked["reachability"] == data["reachability"]
    assert results.mark_killed(tmp_path) is False   # only once


@pytest.mark.parametrize("status", ["ok", "failed", "interrupted"])
def test_mark_killed_leaves_a_finished_record_alone(tmp_path, results_record, status):
    data = results_record()
    data["status"] = status
    results.write(tmp_path, data)
    assert results.mark_killed(tmp_path) is False
    assert results.load(tmp_path) == data


def test_mark_killed_without_a_record(tmp_path):
    assert results.mark_killed(tmp_path / "none") is False
    (tmp_path / "results.json").write_text("[1, 2")
    assert results.mark_killed(tmp_path) is False

