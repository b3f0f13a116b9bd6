"""`--set KEY=V1,V2` overrides, jammer-state time weights, and the map and sweep commands."""

import argparse
import csv
import json

import pytest

from hermitnet.commands import map as map_command
from hermitnet.commands import sweep as sweep_command
from hermitnet.errors import HermitError
from hermitnet.radio import parse
from hermitnet.radio.examples import minimal_section
from hermitnet.radio.sweep import (
    apply_override,
    jammer_state_times,
    parse_assignment,
    radio_columns,
    sweep,
)


def test_parse_assignment_reads_yaml_scalars():
    assignment = parse_assignment("radio.jammers.power_dbm=30, 40.5,true,off-hours")
    assert assignment.path == ["radio", "jammers", "power_dbm"]
    assert assignment.values == (30, 40.5, True, "off-hours")


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
    two = apply_override(document, "radio.jammers.count", 2)
    assert [j["name"] for j in two["radio"]["jammers"]] == ["a", "b"]
    duty = apply_override(document, "radio.jammers.duty_cycle.on_fraction", 0.5)
    assert duty["radio"]["jammers"][2]["duty_cycle"] == {"on_fraction": 0.5}
    assert "power_dbm" not in document["radio"]["jammers"][0]  # the original is untouched


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("radio.jammers.7.power_dbm", 1, "no index 7"),
        ("radio.bounds_km.x", 1, "not a mapping"),
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
    times, weights = jammer_state_times(parse(section, "x"), 40.0)
    assert times == [0.0, 10.0, 20.0, 30.0]
    assert weights == pytest.approx([0.25, 0.25, 0.25, 0.25])


def test_sweep_rows_have_the_key_and_radio_columns():
    document = {"seed": 1, "radio": minimal_section()}
    rows = sweep(
        document,
        "x.yaml",
        parse_assignment("radio.jammers.power_dbm=10,60"),
        [radio_columns(5_000, None, None)],
    )
    assert [row["radio.jammers.power_dbm"] for row in rows] == [10, 60]
    assert rows[1]["foreign_reach_share"] <= rows[0]["foreign_reach_share"]


def _write_scenario(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps({"name": "tiny", "seed": 3, "radio": minimal_section()}))
    return path


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


def test_map_of_a_scenario_without_radio_says_so(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text("name: plain\n")
    parser = argparse.ArgumentParser()
    map_command.add_arguments(parser)
    with pytest.raises(HermitError) as caught:
        map_command.run(parser.parse_args([str(path), "--out", str(tmp_path / "m.png")]))
    assert caught.value.field == "radio"
