"""Every JSON Schema hermitnet ships is valid draft-07, closed, and used by its validator."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from hermitnet import schema_check
from hermitnet.errors import HermitError

SCHEMA_FILES = sorted(p.name for p in resources.files("hermitnet.schemas").iterdir()
                      if p.name.endswith(".schema.json"))


def test_the_known_schemas_ship():
    assert {"scenario.schema.json", "results.schema.json", "radio.schema.json"} <= set(
        SCHEMA_FILES)


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_valid_draft_07(name):
    schema = json.loads(resources.files("hermitnet.schemas").joinpath(name).read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema_check.load_schema(name.removesuffix(".schema.json")) == schema


def _objects(node, where="#"):
    """Every sub-schema with properties, and where it is."""
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{where}/{i}")


def test_scenario_schema_rejects_unknown_keys_everywhere():
    schema = schema_check.load_schema("scenario")
    open_objects = [where for where, node in _objects(schema)
                    if node.get("additionalProperties") is not False]
    assert open_objects == []


def test_scenario_schema_uses_no_keywords_draft_07_ignores():
    text = json.dumps(schema_check.load_schema("scenario"))
    for keyword in ("prefixItems", "$defs", "dependentRequired", "unevaluatedProperties"):
        assert f'"{keyword}"' not in text


@pytest.mark.parametrize("path,expected", [
    (["subscribers", 2, "tier"], "subscribers[2].tier"),
    (["tiers", "citizen", "zones", 0], "tiers.citizen.zones[0]"),
    ([0, "a"], "[0].a"),
    ([], "(top level)"),
])
def test_dotted(path, expected):
    assert schema_check.dotted(path) == expected


def test_validate_names_the_field_and_what_was_expected():
    with pytest.raises(HermitError) as caught:
        schema_check.validate({"schema": 1, "name": "x", "tiers": {"a": {"zones": ["moon"]}},
                               "subscribers": [{"name": "p", "tier": "a"}],
                               "sites": [{"name": "s", "zone": "global"}]},
                              "scenario", source="f.yaml")
    assert caught.value.field == "tiers.a.zones[0]"
    assert str(caught.value) == (
        "f.yaml: tiers.a.zones[0]: 'moon' is not one of 'intranet', 'national', 'global'")


def test_validate_with_prefix():
    with pytest.raises(HermitError) as caught:
        schema_check.validate({"status": "ok"}, "results", source="r.json", prefix="runs[3]")
    assert caught.value.field == "runs[3]"
