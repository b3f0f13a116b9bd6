"""`--set KEY=V1,V2` overrides, jammer-state time weights, and the map and sweep commands."""

import argparse
import csv
import json
from pathlib import Path

import pytest

from hermitnet import scenario
from hermitnet.commands import map as map_command
from hermitnet.commands import sweep as sweep_command
from hermitnet.errors import HermitError
from hermitnet.radio.examples import minimal_scenario, minimal_section
from hermitnet.radio.sweep import jammer_state_times
from hermitnet.sweep import apply_override, parse_assignment, run

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


def test_parse_assignment_reads_yaml_scalars():
    assignment = parse_assignment("radio.jammers.power_dbm=30, 40.5,true,off-hours")
    assert assignment.path == ["radio", "jammers", "power_dbm"]
    assert assignment.values == (30, 40.5, True, "off-hours")
    assert parse_assignment("radio.jammers[0].power_dbm=1").path == [
        "radio", "jammers", "0", "power_dbm"]


@pytest.mark.parametrize("text", ["radio.jammers", "=1,2", "radio..x=1", "radio.x="])
def test_parse_assignment_rejects_malformed_text(text):
    with pytest.raises(HermitError):
        parse_assignment(text)


def test_apply_override_broadcasts_indexes_counts_and_creates():
    document = {"radio": minimal_section(jammers=[{"name": "a"}, {"name": "b"}, {"name": "c"}])}
    everyone = apply_override(document, "radio.jammers.power_dbm", 45)
    assert [j["power_dbm"] for j in everyone["radio"]["jammers"]] == [45, 45, 45]
    first = apply_override(document, "radio.jammers.0.power_dbm", 30)
    assert [j.get("power_dbm") for j in first["radio"]["jammers"]] == [30, None, None]
    assert apply_override(document, "radio.jammers[0].power_dbm", 30) == first
    two = apply_override(document, "radio.jammers.count", 2)
    assert [j["name"] for j in two["radio"]["jammers"]] == ["a", "b"]
    duty = apply_override(document, "radio.jammers.duty_cycle.on_fraction", 0.5)
    assert duty["radio"]["jammers"][2]["duty_cycle"] == {"on_fraction": 0.5}
    assert "power_dbm" not in document["radio"]["jammers"][0]  # the original is untouched


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("radio.jammers.7.power_dbm", 1, "no index 7"),
        ("radio.bounds_km.x", 1, "radio.bounds_km[0] is 0, not a mapping"),
        ("radio.jammers.count", -1, "count"),
    ],
)
def test_apply_override_errors_name_the_key(key, value, hint):
    document = {"radio": minimal_section()}
    with pytest.raises(HermitError) as caught:
        apply_override(document, key, value)
    assert caught.value.field == key and hint in str(caught.value)


def test_jammer_state_times_weight_each_interval_by_its_length():
    section = minimal_section(
        jammers=[
            {"name": "j1", "town": "town", "schedule": [{"t_s": 10, "active": False}]},
            {"name": "j2", "town": "town", "duty_cycle": {"period_s": 20, "on_fraction": 0.5}},
        ]
    )
    model = scenario.from_dict(minimal_scenario(section), source="x").radio
    times, weights = jammer_state_times(model, 40.0)
    assert times == [0.0, 10.0, 20.0, 30.0]
    assert weights == pytest.approx([0.25, 0.25, 0.25, 0.25])


def _write_scenario(tmp_path, document=None):
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(document or minimal_scenario(seed=3)))
    return path


def test_sweep_rows_have_the_key_and_radio_columns(tmp_path):
    rows = run(_write_scenario(tmp_path), [parse_assignment("radio.jammers.power_dbm=10,60")],
               n_phones=5_000)
    assert [row["radio.jammers.power_dbm"] for row in rows] == [10, 60]
    assert rows[1]["foreign_reach_share"] <= rows[0]["foreign_reach_share"]


def test_a_sweep_value_the_schema_refuses_names_the_field(tmp_path):
    with pytest.raises(HermitError) as caught:
        run(_write_scenario(tmp_path), [parse_assignment("radio.jammers.power_dbm=10,500")],
            n_phones=1_000)
    assert caught.value.field == "radio.jammers[0].power_dbm"
    assert "500" in str(caught.value)


def test_sweep_overrides_the_merged_document_of_an_extending_file(tmp_path):
    _write_scenario(tmp_path)
    child = tmp_path / "child.yaml"
    child.write_text("schema: 1\nextends: tiny.yaml\nname: child\n")
    rows = run(child, [parse_assignment("radio.jammers.count=0,1")], n_phones=2_000)
    assert [row["radio.jammers.count"] for row in rows] == [0, 1]


def test_map_command_writes_png_json_and_csv(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    out = tmp_path / "out" / "tiny.png"
    args = parser.parse_args(
        [str(_write_scenario(tmp_path)), "--out", str(out), "--phones", "5000"]
    )
    assert map_command.run(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = json.loads(out.with_suffix(".json").read_text())
    assert {ue["ue"] for ue in numbers["ues"]} == {"phone-1", "phone-2"}
    assert numbers["population"]["n_phones"] == 5000
    assert numbers["population"]["seed"] == 3
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert rows[0]["town"] == "town"
    assert "share of emulated UEs on foreign cells" in capsys.readouterr().out


def test_sweep_command_writes_csv_and_png(tmp_path):
    parser = argparse.ArgumentParser()
    sweep_command.add_arguments(parser)
    args = parser.parse_args(
        [
            str(_write_scenario(tmp_path)),
            "--set",
            "radio.jammers.count=0,1",
            "--out",
            str(tmp_path / "sweep"),
            "--phones",
            "3000",
        ]
    )
    assert sweep_command.run(args) == 0
    rows = list(csv.DictReader((tmp_path / "sweep" / "sweep.csv").open()))
    assert [row["radio.jammers.count"] for row in rows] == ["0", "1"]
    assert (tmp_path / "sweep" / "sweep.png").stat().st_size > 1000


@pytest.mark.parametrize("command", [map_command, sweep_command])
def test_map_and_sweep_of_a_scenario_without_radio_say_so(tmp_path, command):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    extra = ["--set", "seed=1,2"] if command is sweep_command else []
    with pytest.raises(HermitError) as caught:
        command.run(parser.parse_args([str(BASELINE), "--out", str(tmp_path / "m"), *extra]))
    assert caught.value.field == "radio"
    assert caught.value.source == str(BASELINE)


def test_map_refuses_a_file_that_is_not_a_whole_scenario(tmp_path):
    """map reads the file with the scenario loader: a bare radio section is not a scenario."""
    path = _write_scenario(tmp_path, {"name": "tiny", "radio": minimal_section()})
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    with pytest.raises(HermitError) as caught:
        map_command.run(parser.parse_args([str(path), "--out", str(tmp_path / "m.png")]))
    assert caught.value.field == "(top level)" and "required" in str(caught.value)
