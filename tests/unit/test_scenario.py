"""Scenario loading: shipped scenarios load, broken files fail naming file and field, defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hermitnet import scenario
from hermitnet.errors import HermitError

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
INVALID = sorted((HERE / "invalid_scenarios").glob("*.yaml"))


def _expectation(path: Path) -> tuple[str | None, str]:
    """The '# Must fail. field: F  message: M' header of an invalid fixture."""
    first_line = path.read_bytes().decode("utf-8", errors="replace").splitlines()[0]
    match = re.match(r"# Must fail\. field: (.+?)\s{2,}message: (.+)", first_line)
    assert match, f"{path.name}: first line must say which field fails and with what message"
    field, message = match.groups()
    return (None if field == "-" else field), message.strip()


def test_there_are_invalid_fixtures():
    assert len(INVALID) >= 90


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_fails_naming_file_and_field(path):
    field, message = _expectation(path)
    with pytest.raises(HermitError) as caught:
        scenario.load(path)
    error = caught.value
    text = str(error)
    assert error.source == str(path)
    assert text.startswith(f"{path}: "), text
    assert error.field == field, text
    if field:
        assert f": {field}: " in text
    assert message in text


SHIPPED = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))


def test_there_are_shipped_scenarios():
    assert {"baseline.yaml", "border.yaml"} <= {p.name for p in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path):
    loaded = scenario.load(path)
    assert loaded.source == str(path)
    assert loaded.subscribers and loaded.sites


def test_baseline_model(baseline):
    assert baseline.name == "baseline"
    assert baseline.seed == 1
    assert set(baseline.tiers) == {"citizen", "public", "elite", "visitor"}
    assert baseline.tiers["citizen"].zones == ("intranet",)
    assert baseline.tiers["elite"].zones == ("intranet", "national", "global")
    assert {s.zone for s in baseline.sites} == {"intranet", "national", "global"}
    assert baseline.subscriber("library-1").access == "fixed"
    assert baseline.subscriber("library-1").cell is None
    assert baseline.subscriber("citizen-1").cell == "pyongyang-1"
    assert baseline.site("video").hostname == "video.example"
    assert baseline.uplink.bw_mbps == 10 and baseline.uplink.delay_ms == 30
    assert baseline.connect_timeout_s == 2.0
    assert baseline.throughput_seconds == 5.0
    assert [(f.src, f.dst) for f in baseline.flows][1] == ("elite-1", "video")
    assert baseline.blocklist == ()


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(HermitError, match=r"nowhere\.yaml: cannot read scenario file"):
        scenario.load(path)


def test_directory_is_not_a_scenario(tmp_path):
    with pytest.raises(HermitError, match="cannot read scenario file"):
        scenario.load(tmp_path)


def test_minimal_dict_is_valid(scenario_dict):
    loaded = scenario.from_dict(scenario_dict(), source="mini.yaml")
    assert loaded.name == "mini"
    assert loaded.seed == 1
    assert loaded.description == ""
    assert loaded.blocklist == () and loaded.flows == ()
    assert loaded.radio is None


def test_defaults_when_nothing_is_configured(scenario_dict):
    loaded = scenario.from_dict(scenario_dict())
    defaults = scenario.DEFAULT_LINKS
    assert loaded.subscriber("phone-1").link == scenario.LinkSpec(**defaults["mobile_link"])
    assert loaded.subscriber("desk-1").link == scenario.LinkSpec(**defaults["fixed_link"])
    assert loaded.cells[0].backhaul == scenario.LinkSpec(**defaults["backhaul_link"])
    assert loaded.uplink == scenario.LinkSpec(**defaults["uplink"])
    site = loaded.site("news")
    assert site.hostname == "news.intranet.invalid" and site.title == "news"


def test_subscriber_link_overrides_only_given_fields(scenario_dict):
    data = scenario_dict(defaults={"mobile_link": {"bw_mbps": 3.0, "delay_ms": 50, "loss_pct": 1}})
    data["subscribers"][0]["link"] = {"bw_mbps": 1.5}
    data["subscribers"][1]["link"] = {"jitter_ms": 7}
    loaded = scenario.from_dict(data)
    assert loaded.subscriber("phone-1").link == scenario.LinkSpec(1.5, 50, 0.0, 1)
    assert loaded.subscriber("phone-2").link == scenario.LinkSpec(3.0, 50, 7, 1)
    # the fixed-line default is untouched by the mobile defaults
    assert loaded.subscriber("desk-1").link.bw_mbps == scenario.DEFAULT_LINKS["fixed_link"][
        "bw_mbps"]


def test_defaults_override_only_given_fields(scenario_dict):
    data = scenario_dict(defaults={"backhaul_link": {"delay_ms": 9}}, uplink={"loss_pct": 0.5})
    data["cells"].append({"name": "cell-2", "backhaul": {"bw_mbps": 20}})
    loaded = scenario.from_dict(data)
    built_in = scenario.DEFAULT_LINKS["backhaul_link"]["bw_mbps"]
    assert loaded.cells[0].backhaul.bw_mbps == built_in and loaded.cells[0].backhaul.delay_ms == 9
    assert loaded.cells[1].backhaul.bw_mbps == 20 and loaded.cells[1].backhaul.delay_ms == 9
    assert loaded.uplink.loss_pct == 0.5
    assert loaded.uplink.bw_mbps == scenario.DEFAULT_LINKS["uplink"]["bw_mbps"]


def test_blocklist_windows(scenario_dict):
    data = scenario_dict(blocklist=[{"site": "video"},
                                    {"site": "news", "from_s": 10, "until_s": 20}])
    always, window = scenario.from_dict(data).blocklist
    assert always.active(0) and always.active(1e9)
    assert not window.active(9.99)
    assert window.active(10) and window.active(19.9)
    assert not window.active(20)


def test_flows_and_measure_settings(scenario_dict):
    data = scenario_dict(measure={
        "reachability": {"connect_timeout_s": 1.5},
        "throughput": {"seconds": 3, "flows": [{"from": "phone-2", "to": "video"}]},
    })
    loaded = scenario.from_dict(data)
    assert loaded.connect_timeout_s == 1.5
    assert loaded.throughput_seconds == 3.0
    assert loaded.flows == (scenario.Flow("phone-2", "video"),)


@pytest.mark.parametrize("name", sorted(scenario.RESERVED_NAMES) + ["nb-x"])
def test_reserved_names_are_refused_for_sites(scenario_dict, name):
    data = scenario_dict()
    data["sites"][2]["name"] = name
    with pytest.raises(HermitError) as caught:
        scenario.from_dict(data, source="s.yaml")
    assert caught.value.field == "sites[2].name"


def test_too_many_subscribers(scenario_dict):
    data = scenario_dict()
    data["subscribers"] = [{"name": f"p-{i}", "tier": "citizen", "cell": "cell-1"}
                           for i in range(201)]
    with pytest.raises(HermitError, match="at most 200 subscribers"):
        scenario.from_dict(data)


def test_error_message_lists_what_was_expected(scenario_dict):
    data = scenario_dict()
    data["subscribers"][0]["tier"] = "vip"
    with pytest.raises(HermitError, match="expected one of: citizen, elite"):
        scenario.from_dict(data, source="x.yaml")
