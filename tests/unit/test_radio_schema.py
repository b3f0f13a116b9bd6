"""The radio section: its schema (draft-07, referenced by the scenario schema), the model it
parses to, and sections that fail by field, all read through the scenario loader."""

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from hermitnet import scenario
from hermitnet.errors import HermitError
from hermitnet.radio.examples import minimal_scenario, minimal_section

BORDER_YAML = Path(__file__).resolve().parents[2] / "scenarios" / "border.yaml"
SCHEMAS = resources.files("hermitnet.schemas")


def test_schema_is_valid_draft_07_and_describes_fields():
    schema = json.loads(SCHEMAS.joinpath("radio.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    for name, definition in schema["definitions"].items():
        if definition.get("type") == "object":
            assert definition["additionalProperties"] is False, name


def test_scenario_schema_references_the_radio_schema_by_its_file_name():
    """A relative $ref: the loader resolves it from the package, an editor (yaml-language-server
    `$schema=` header) from the file next to scenario.schema.json."""
    scenario_schema = json.loads(SCHEMAS.joinpath("scenario.schema.json").read_text())
    ref = scenario_schema["properties"]["radio"]["$ref"]
    assert ref == "radio.schema.json"
    assert SCHEMAS.joinpath(ref).is_file()
    assert "$id" not in scenario_schema  # an $id would move the base of the ref off the file


def test_border_scenario_radio_section_parses():
    loaded = scenario.load(BORDER_YAML)
    model = loaded.radio
    assert {c.kind for c in model.cells} == {"national", "foreign"}
    assert any(ue.handset == "foreign" for ue in model.ues)
    assert model.seed == loaded.seed


def test_minimal_section_parses_with_defaults():
    model = scenario.from_dict(minimal_scenario(), source="fixture.yaml").radio
    assert model.cells[0].freq_mhz == 2140.0
    assert model.cells[0].x_km == 20.0
    assert model.selection.qqualmin_db == -18.0


def test_radio_seed_is_the_scenario_seed_unless_the_section_sets_one():
    assert scenario.from_dict(minimal_scenario()).radio.seed == scenario.DEFAULT_SEED
    assert scenario.from_dict(minimal_scenario(seed=7)).radio.seed == 7
    own = minimal_scenario(minimal_section(seed=11), seed=7)
    assert scenario.from_dict(own).radio.seed == 11


def _error(section) -> HermitError:
    with pytest.raises(HermitError) as caught:
        scenario.from_dict(minimal_scenario(section), source="fixture.yaml")
    return caught.value


INVALID = [
    (
        "unknown jammer field",
        lambda s: s["jammers"][0].update(watts=5),
        "radio.jammers[0]",
        "watts",
    ),
    (
        "power as text",
        lambda s: s["jammers"][0].update(power_dbm="high"),
        "radio.jammers[0].power_dbm",
        "number",
    ),
    (
        "bad handset",
        lambda s: s["ues"][1].update(handset="chinese"),
        "radio.ues[1].handset",
        "national",
    ),
    ("unknown town", lambda s: s["ues"][0].update(town="nowhere"), "radio.ues[0].town", "town"),
    ("two positions", lambda s: s["ues"][1].update(town="town"), "radio.ues[1]", "exactly one"),
    (
        "duplicate name",
        lambda s: s["jammers"][0].update(name="cell-1"),
        "radio.jammers[0].name",
        "already used at radio.national_cells[0].name",
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
        "radio.jammers[0]",
        "not both",
    ),
    (
        "schedule with YAML on",
        lambda s: s["jammers"][0].update(schedule=[{"t_s": 1, True: True}]),
        "radio.jammers[0].schedule[0]",
        "active",
    ),
    (
        "waypoints back in time",
        lambda s: s["ues"][1].update(
            moves=[{"t_s": 5, "position_km": [1, 1]}, {"t_s": 3, "position_km": [2, 2]}]
        ),
        "radio.ues[1].moves[1].t_s",
        "increase",
    ),
    ("missing towns", lambda s: s.pop("towns"), "radio", "towns"),
    ("bounds reversed", lambda s: s.update(bounds_km=[40, 0, 0, 30]), "radio.bounds_km", "min"),
]


@pytest.mark.parametrize(("what", "mutate", "field", "hint"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_sections_fail_naming_the_field(what, mutate, field, hint):
    section = minimal_section()
    mutate(section)
    error = _error(section)
    assert error.source == "fixture.yaml"
    assert error.field == field, str(error)
    assert hint in str(error)


def test_the_yaml_language_server_header_checks_the_radio_section_too():
    """As an editor does: take the schema the `# yaml-language-server: $schema=...` header of
    border.yaml names, resolve its refs against that file's own location, and validate."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    header = BORDER_YAML.read_text().splitlines()[0]
    assert header.startswith("# yaml-language-server: $schema=")
    schema_path = (BORDER_YAML.parent / header.split("$schema=", 1)[1]).resolve()

    def retrieve(uri: str) -> Resource:
        path = Path(uri.removeprefix("file://"))
        return Resource.from_contents(json.loads(path.read_text()), DRAFT7)

    schema = json.loads(schema_path.read_text())
    registry = Registry(retrieve=retrieve).with_resource(
        schema_path.as_uri(), Resource.from_contents(schema, DRAFT7))
    resolver = registry.resolver(base_uri=schema_path.as_uri())
    radio_schema = resolver.lookup(schema["properties"]["radio"]["$ref"]).contents
    assert radio_schema["title"] == "hermitnet scenario: radio section"

    document = yaml.safe_load(BORDER_YAML.read_text())
    bad = yaml.safe_load(BORDER_YAML.read_text())
    bad["radio"]["jammers"][0]["power_dbm"] = "high"
    validator = jsonschema.Draft7Validator({"$ref": schema_path.as_uri()}, registry=registry)
    assert list(validator.iter_errors(document)) == []
    errors = list(validator.iter_errors(bad))
    assert [list(e.absolute_path) for e in errors] == [["radio", "jammers", 0, "power_dbm"]]
