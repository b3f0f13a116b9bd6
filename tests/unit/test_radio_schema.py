"""The radio schema: itself valid draft-07, fixtures that pass, fixtures that fail by field."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from hermitnet.errors import HermitError
from hermitnet.radio import parse
from hermitnet.radio.examples import minimal_section as minimal
from hermitnet.radio.parse import SCHEMA_PATH

BORDER_YAML = Path(__file__).resolve().parents[2] / "scenarios" / "border.yaml"


def border_document() -> dict:
    return yaml.safe_load(BORDER_YAML.read_text())


def test_schema_is_valid_draft_07_and_describes_fields():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    for name, definition in schema["definitions"].items():
        if definition.get("type") == "object":
            assert definition["additionalProperties"] is False, name


def test_border_scenario_radio_section_parses():
    document = border_document()
    model = parse(document["radio"], "scenarios/border.yaml", seed=document["seed"])
    assert {c.kind for c in model.cells} == {"national", "foreign"}
    assert any(ue.handset == "foreign" for ue in model.ues)
    assert model.seed == document["seed"]


def test_minimal_section_parses_with_defaults():
    model = parse(minimal(), "fixture.yaml")
    assert model.cells[0].freq_mhz == 2140.0
    assert model.cells[0].x_km == 20.0
    assert model.selection.qqualmin_db == -18.0


def _error(section) -> HermitError:
    with pytest.raises(HermitError) as caught:
        parse(section, "fixture.yaml")
    return caught.value


INVALID = [
    ("unknown jammer field", lambda s: s["jammers"][0].update(watts=5), "radio.jammers.0", "watts"),
    (
        "power as text",
        lambda s: s["jammers"][0].update(power_dbm="high"),
        "radio.jammers.0.power_dbm",
        "number",
    ),
    (
        "bad handset",
        lambda s: s["ues"][1].update(handset="chinese"),
        "radio.ues.1.handset",
        "national",
    ),
    ("unknown town", lambda s: s["ues"][0].update(town="nowhere"), "radio.ues.0.town", "town"),
    ("two positions", lambda s: s["ues"][1].update(town="town"), "radio.ues.1", "exactly one"),
    (
        "duplicate name",
        lambda s: s["jammers"][0].update(name="cell-1"),
        "radio.jammers.0.name",
        "already used",
    ),
    (
        "border not west-east",
        lambda s: s["border"].update(points_km=[[10, 1], [5, 2]]),
        "radio.border.points_km",
        "increase",
    ),
    (
        "schedule and duty",
        lambda s: s["jammers"][0].update(
            schedule=[{"t_s": 1, "active": True}], duty_cycle={"on_fraction": 0.5}
        ),
        "radio.jammers.0",
        "not both",
    ),
    (
        "schedule with YAML on",
        lambda s: s["jammers"][0].update(schedule=[{"t_s": 1, True: True}]),
        "radio.jammers.0.schedule.0",
        "active",
    ),
    (
        "waypoints back in time",
        lambda s: s["ues"][1].update(
            moves=[{"t_s": 5, "position_km": [1, 1]}, {"t_s": 3, "position_km": [2, 2]}]
        ),
        "radio.ues.1.moves.1.t_s",
        "increase",
    ),
    ("missing towns", lambda s: s.pop("towns"), "radio", "towns"),
]


@pytest.mark.parametrize(("what", "mutate", "field", "hint"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_sections_fail_naming_the_field(what, mutate, field, hint):
    section = minimal()
    mutate(section)
    error = _error(section)
    assert error.source == "fixture.yaml"
    assert error.field == field, str(error)
    assert hint in str(error)
