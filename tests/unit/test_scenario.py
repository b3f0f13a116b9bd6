"""Scenario loading: shipped scenarios load, broken files fail naming file and field, defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

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
    data["timeline"] = {"duration_s": 30}
    loaded = scenario.from_dict(data)
    assert loaded.blocklist == (scenario.BlockEntry("video"),)   # blocked from t = 0
    (window,) = loaded.blocklist_windows
    assert (window.index, window.site, window.from_s, window.until_s) == (1, "news", 10, 20)


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


def test_the_scenario_sets_no_size_limit_the_machine_decides(scenario_dict):
    data = scenario_dict()
    data["subscribers"] = [{"name": f"p-{i}", "tier": ("citizen", "elite")[i % 2],
                            "cell": "cell-1"} for i in range(400)]
    data["sites"] = [{"name": f"site-{i}", "zone": "intranet"} for i in range(220)]
    loaded = scenario.from_dict(data)   # what one machine holds is hermitnet.capacity's question
    assert len(loaded.subscribers) == 400 and len(loaded.sites) == 220


def test_error_message_lists_what_was_expected(scenario_dict):
    data = scenario_dict()
    data["subscribers"][0]["tier"] = "vip"
    with pytest.raises(HermitError, match="expected one of: citizen, elite"):
        scenario.from_dict(data, source="x.yaml")


def test_default_seed_is_the_runs(scenario_dict):
    assert scenario.DEFAULT_SEED == 1
    assert scenario.from_dict(scenario_dict()).seed == scenario.DEFAULT_SEED


# --- one model for every command -------------------------------------------------------------

BORDER = REPO_ROOT / "scenarios" / "border.yaml"


def test_validate_run_map_and_sweep_get_the_same_model(run_cli, monkeypatch):
    """Load border.yaml through each command's own code path and compare what reaches the
    next layer: the Scenario (validate: the plan; run: the runner) and the radio model
    (validate, run, map: the population; sweep: the radio columns)."""
    from hermitnet import plan, runner
    from hermitnet.commands import map as map_command
    from hermitnet.radio import sweep as radio_sweep

    seen: dict[str, list] = {}

    def spy(name, real):
        def wrapper(first, *args, **kwargs):
            seen.setdefault(name, []).append(first)
            return real(first, *args, **kwargs)
        return wrapper

    def stop_before_emulating(loaded, *args, **kwargs):
        seen.setdefault("run", []).append(loaded)
        raise HermitError("stopped before building the network")

    monkeypatch.setattr(plan, "build", spy("validate", plan.build))
    monkeypatch.setattr(runner, "run", stop_before_emulating)
    monkeypatch.setattr(map_command, "population", spy("map", map_command.population))
    monkeypatch.setattr(radio_sweep, "population", spy("sweep", radio_sweep.population))

    assert run_cli("validate", BORDER)[0] == 0
    assert "stopped before building" in run_cli("run", BORDER)[2]
    assert run_cli("map", BORDER, "--out", "map.png", "--phones", 500)[0] == 0
    assert run_cli("sweep", BORDER, "--set", "name=border", "--phones", 500, "--out", "sw")[0] == 0

    validated, ran = seen["validate"][0], seen["run"][0]
    assert validated == ran == scenario.load(BORDER)
    models = [validated.radio, ran.radio, seen["map"][0], seen["sweep"][0]]
    assert all(model == models[0] for model in models)
    assert models[0].seed == 7 and models[0].source == str(BORDER)


# --- extends ---------------------------------------------------------------------------------

BLOCKLIST_2016 = REPO_ROOT / "scenarios" / "blocklist-2016.yaml"

# scenarios/blocklist-2016.yaml as it was written out in full before it extended the baseline.
BLOCKLIST_2016_EXPANDED = """
schema: 1
name: blocklist-2016
description: >
  The baseline network after the April 2016 announcement: video, social networks, Voice of
  America, South Korean media, adult and gambling sites blocked for everyone; the photo-sharing
  site (Instagram in the reports) still reachable at first.
seed: 1
defaults:
  mobile_link: {bw_mbps: 2.0, delay_ms: 40, loss_pct: 0}
  fixed_link: {bw_mbps: 10, delay_ms: 5, loss_pct: 0}
  backhaul_link: {bw_mbps: 100, delay_ms: 2, loss_pct: 0}
uplink: {bw_mbps: 10, delay_ms: 30, loss_pct: 0}
tiers:
  citizen: {zones: [intranet], description: "local SIM: national intranet only"}
  public:  {zones: [intranet], description: "fixed-line terminal in a library, university or cafe"}
  elite:   {zones: [intranet, national, global], description: "the few with global access"}
  visitor: {zones: [national, global], description: "foreigner SIM with mobile data, own segment"}
cells:
  - {name: pyongyang-1}
  - {name: pyongyang-2}
subscribers:
  - {name: citizen-1, tier: citizen, cell: pyongyang-1}
  - {name: citizen-2, tier: citizen, cell: pyongyang-2}
  - {name: elite-1, tier: elite, cell: pyongyang-1, link: {bw_mbps: 5.0}}
  - {name: visitor-1, tier: visitor, cell: pyongyang-2, link: {bw_mbps: 4.0}}
  - {name: library-1, tier: public, access: fixed}
  - {name: cafe-1, tier: public, access: fixed}
sites:
  - {name: news, zone: intranet, hostname: rodong.rep.kp, title: "State newspaper"}
  - {name: recipes, zone: intranet, hostname: cooks.kp, title: "Recipes"}
  - {name: university, zone: intranet, hostname: gnu.rep.kp, title: "University"}
  - {name: mail, zone: intranet, hostname: mail.star.kp, title: "E-mail"}
  - {name: airline, zone: intranet, hostname: airkoryo.com.kp, title: "Airline booking"}
  - {name: ministry, zone: intranet, hostname: mfa.gov.kp, title: "Foreign ministry (WordPress)"}
  - {name: portal, zone: national, hostname: naenara.com.kp, title: "National portal"}
  - {name: video, zone: global, hostname: video.example, title: "Video site"}
  - {name: social, zone: global, hostname: social.example, title: "Social network"}
  - {name: microblog, zone: global, hostname: microblog.example, title: "Microblog"}
  - {name: world-news, zone: global, hostname: news.example, title: "Foreign news"}
  - {name: south-news, zone: global, hostname: south.example, title: "South Korean media"}
  - {name: adult, zone: global, hostname: adult.example, title: "Adult site"}
  - {name: gambling, zone: global, hostname: casino.example, title: "Gambling site"}
  - {name: photos, zone: global, hostname: photos.example, title: "Photo sharing"}
  - {name: search, zone: global, hostname: search.example, title: "Search engine"}
  - {name: shop, zone: global, hostname: shop.example, title: "Online shop"}
blocklist:
  - {site: video, reason: "2016 list: video"}
  - {site: social, reason: "2016 list: social network"}
  - {site: microblog, reason: "2016 list: social network"}
  - {site: world-news, reason: "2016 list: Voice of America"}
  - {site: south-news, reason: "2016 list: South Korean media"}
  - {site: adult, reason: "2016 list: adult"}
  - {site: gambling, reason: "2016 list: gambling"}
measure:
  reachability: {connect_timeout_s: 2}
  throughput:
    seconds: 5
    flows:
      - {from: citizen-1, to: university}
      - {from: elite-1, to: photos}
      - {from: visitor-1, to: shop}
      - {from: library-1, to: news}
"""


def test_blocklist_2016_extends_the_baseline_and_keeps_its_model():
    assert "extends: baseline.yaml" in BLOCKLIST_2016.read_text()
    expanded = yaml.safe_load(BLOCKLIST_2016_EXPANDED)
    assert scenario.read_document(BLOCKLIST_2016) == expanded
    assert scenario.load(BLOCKLIST_2016) == scenario.from_dict(expanded,
                                                               source=str(BLOCKLIST_2016))


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


BASE_TEXT = """
schema: 1
name: base
seed: 4
uplink: {bw_mbps: 8, delay_ms: 20}
tiers:
  citizen: {zones: [intranet]}
  elite: {zones: [intranet, global]}
cells: [{name: cell-1}]
subscribers:
  - {name: phone-1, tier: citizen, cell: cell-1}
  - {name: phone-2, tier: elite, cell: cell-1}
sites:
  - {name: news, zone: intranet}
  - {name: video, zone: global}
measure:
  throughput: {seconds: 3, flows: [{from: phone-2, to: video}]}
"""


def test_extends_chain_merges_mappings_and_replaces_lists(tmp_path):
    _write(tmp_path, "lib/base.yaml", BASE_TEXT)
    _write(tmp_path, "lib/middle.yaml", "schema: 1\nextends: base.yaml\nname: middle\n"
                                        "uplink: {delay_ms: 50}\nblocklist: [{site: video}]\n")
    top = _write(tmp_path, "top.yaml",
                 "schema: 1\nextends: lib/middle.yaml\nname: top\n"
                 "tiers: {elite: {zones: [intranet]}}\n"
                 "sites: [{name: news, zone: intranet}, {name: video, zone: global},"
                 " {name: shop, zone: global}]\n"
                 "measure: {throughput: {seconds: 4}}\n")
    document = scenario.read_document(top)
    assert "extends" not in document
    assert document["uplink"] == {"bw_mbps": 8, "delay_ms": 50}        # mapping merged
    assert document["tiers"]["citizen"] == {"zones": ["intranet"]}     # kept from base
    assert document["tiers"]["elite"] == {"zones": ["intranet"]}       # list replaced
    assert [s["name"] for s in document["sites"]] == ["news", "video", "shop"]
    assert document["measure"]["throughput"] == {"seconds": 4,
                                                 "flows": [{"from": "phone-2", "to": "video"}]}
    loaded = scenario.load(top)
    assert (loaded.name, loaded.seed, loaded.source) == ("top", 4, str(top))
    assert loaded.uplink.delay_ms == 50 and loaded.uplink.bw_mbps == 8
    assert [b.site for b in loaded.blocklist] == ["video"]


def test_extends_loop_is_refused_naming_the_files(tmp_path):
    first = _write(tmp_path, "a.yaml", "schema: 1\nextends: b.yaml\nname: a\n")
    second = _write(tmp_path, "b.yaml", "schema: 1\nextends: a.yaml\nname: b\n")
    with pytest.raises(HermitError) as caught:
        scenario.load(first)
    assert caught.value.source == str(second) and caught.value.field == "extends"
    assert f"{first} -> {second} -> {tmp_path / 'a.yaml'}" in str(caught.value)


def test_error_from_an_extended_file_names_that_file(tmp_path):
    base = _write(tmp_path, "base.yaml", BASE_TEXT)
    child = _write(tmp_path, "child.yaml", "schema: 1\nextends: base.yaml\nname: child\n"
                                          "tiers: {elite: null}\n")
    with pytest.raises(HermitError) as caught:
        scenario.load(child)
    # tiers.elite: null fails the schema in child.yaml itself
    assert caught.value.source == str(child) and caught.value.field == "tiers.elite"

    child.write_text("schema: 1\nextends: base.yaml\nname: child\n"
                     "sites: [{name: news, zone: intranet}]\n")
    with pytest.raises(HermitError) as caught:
        scenario.load(child)
    # the flow to 'video' was written in base.yaml; the site list that lacks it in child.yaml
    assert caught.value.source == str(base)
    assert caught.value.field == "measure.throughput.flows[0].to"
    assert str(caught.value).endswith(f"unknown site 'video' (extended by {child})")


def test_schema_error_in_an_extended_file_names_that_file(tmp_path):
    base = _write(tmp_path, "base.yaml", BASE_TEXT.replace("delay_ms: 20", "delay_ms: -1"))
    child = _write(tmp_path, "child.yaml", "schema: 1\nextends: base.yaml\nname: child\n")
    with pytest.raises(HermitError) as caught:
        scenario.load(child)
    assert caught.value.source == str(base) and caught.value.field == "uplink.delay_ms"


def test_extends_must_be_a_path(tmp_path):
    child = _write(tmp_path, "child.yaml", "schema: 1\nextends: [base.yaml]\nname: child\n")
    with pytest.raises(HermitError) as caught:
        scenario.load(child)
    assert caught.value.field == "extends" and "string" in str(caught.value)


def test_a_document_with_extends_is_refused_by_from_dict(scenario_dict):
    with pytest.raises(HermitError) as caught:
        scenario.from_dict(scenario_dict(extends="baseline.yaml"), source="doc")
    assert caught.value.field == "extends"


def test_an_extending_file_may_give_part_of_a_section(tmp_path):
    border = REPO_ROOT / "scenarios" / "border.yaml"
    _write(tmp_path, "border.yaml", border.read_text())
    child = _write(tmp_path, "child.yaml", "schema: 1\nextends: border.yaml\nname: child\n"
                                          "radio: {reevaluate_s: 2}\n")
    loaded = scenario.load(child)
    assert loaded.radio.reevaluate_s == 2
    assert loaded.radio.bounds_km == scenario.load(border).radio.bounds_km   # from border.yaml
    # what it gives is still checked on its own, naming its file
    child.write_text("schema: 1\nextends: border.yaml\nname: child\nradio: {reevaluate_s: -1}\n")
    with pytest.raises(HermitError) as caught:
        scenario.load(child)
    assert caught.value.source == str(child) and caught.value.field == "radio.reevaluate_s"


def test_a_field_no_file_of_the_chain_gives_is_an_error(tmp_path):
    _write(tmp_path, "base.yaml", BASE_TEXT)
    child = _write(tmp_path, "child.yaml", "schema: 1\nextends: base.yaml\nname: child\n"
                                          "radio: {reevaluate_s: 2}\n")
    with pytest.raises(HermitError) as caught:
        scenario.load(child)
    assert caught.value.field == "radio" and "required" in str(caught.value)


def test_resolves_foreign_names_defaults_to_reaching_the_global_zone(scenario_dict):
    data = scenario_dict()
    loaded = scenario.from_dict(data, source="s.yaml")
    for tier in loaded.tiers.values():
        assert tier.resolves_foreign_names == ("global" in tier.zones)
    name = next(iter(data["tiers"]))
    data["tiers"][name]["resolves_foreign_names"] = True
    assert scenario.from_dict(data, source="s.yaml").tiers[name].resolves_foreign_names
