"""results.json: leakage counting, validation on write and load, CSV files."""

from __future__ import annotations

import csv
import json

import pytest

from hermitnet import results
from hermitnet.errors import HermitError
from hermitnet.policy.state import PolicyState


@pytest.fixture
def state(baseline):
    return PolicyState.from_scenario(baseline)


def _count(nbytes: int) -> dict:
    return {"packets": max(1, nbytes // 1000), "bytes": nbytes}


def test_leakage_counts_only_forbidden_zones_split_by_path(baseline, state):
    arrived = {
        "video": {"citizen-1": _count(5000), "elite-1": _count(90_000), "library-1": _count(700)},
        "portal": {"citizen-2": _count(300), "visitor-1": _count(1000), "elite-1": _count(10)},
        "news": {"citizen-1": _count(4000), "visitor-1": _count(200)},
        "shop": {"citizen-2": _count(0)},
    }
    leak = results.leakage(arrived, state, baseline)
    # citizen: video 5000 (global) + portal 300 (national); public: video 700;
    # visitor may not reach the intranet: news 200; elite may reach everything.
    assert leak["by_tier"] == {"citizen": 5300, "public": 700, "elite": 0, "visitor": 200}
    counted = {path: n for path, n in leak["by_path"].items() if n}
    assert counted == {"uplink": 5700, "internal": 500}
    assert leak["arrived"] is arrived


def test_no_leakage_when_nothing_arrived(baseline, state):
    leak = results.leakage({s.name: {} for s in baseline.sites}, state, baseline)
    assert set(leak["by_tier"]) == set(baseline.tiers)
    assert sum(leak["by_tier"].values()) == 0 and sum(leak["by_path"].values()) == 0


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


def test_escaped_probes_are_named_by_the_path_their_bytes_count_in(baseline, state):
    """Probes sent by a national phone leak by their kind's path; the bytes in by_path and the
    kinds in probes_escaped_by_path are the same probes."""
    arrived = {
        "video": {"probe:tunnel-dns:citizen-1": {"packets": 3, "bytes": 177},
                  "probe:policy-hole:citizen-1": {"packets": 2, "bytes": 120},
                  "probe:ipv6:citizen-2": {"packets": 0, "bytes": 0}},
        "portal": {"probe:spoofed-source:library-1": {"packets": 1, "bytes": 69}},
    }
    leak = results.leakage(arrived, state, baseline, probes_sent=30)
    counted = {path: n for path, n in leak["by_path"].items() if n}
    assert counted == {"tunnel": 177, "uplink": 120, "spoofed-source": 69}
    assert leak["probes_escaped_by_path"] == {
        "tunnel": {"tunnel-dns": 3}, "uplink": {"policy-hole": 2},
        "spoofed-source": {"spoofed-source": 1}}
    assert leak["probes_escaped"] == 6
    assert leak["probes_escaped_by_kind"] == {"tunnel-dns": 3, "policy-hole": 2,
                                              "spoofed-source": 1}
