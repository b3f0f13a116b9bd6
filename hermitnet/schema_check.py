"""Validate plain data against one of hermitnet's JSON Schemas, with errors a user can act on.

A schema may reference another shipped schema by file name (`{"$ref": "radio.schema.json"}`):
the reference resolves here from the package, and for an editor from the file next to it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from hermitnet.errors import HermitError


@cache
def load_schema(name: str) -> dict:
    """The schema `hermitnet/schemas/<name>.schema.json`, checked against its meta-schema."""
    text = resources.files("hermitnet.schemas").joinpath(f"{name}.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


@cache
def _registry() -> Registry:
    """Every shipped schema, under its file name (what a `$ref` between them says)."""
    names = [entry.name for entry in resources.files("hermitnet.schemas").iterdir()
             if entry.name.endswith(".schema.json")]
    return Registry().with_resources(
        (name, Resource.from_contents(load_schema(name.removesuffix(".schema.json")),
                                      default_specification=DRAFT7))
        for name in names)


def dotted(path) -> str:
    """`['subscribers', 2, 'tier']` -> `subscribers[2].tier`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(data, schema_name: str, *, source: str, prefix: str = "",
             partial: bool = False) -> None:
    """Raise HermitError for the first (most relevant) schema violation, naming file and field.

    `partial`: a layer that another file completes (a scenario that `extends` one): a field
    missing below the top level is not an error here, every other violation is.
    """
    validator = jsonschema.Draft7Validator(load_schema(schema_name), registry=_registry())
    found = [e for e in validator.iter_errors(data)
             if not (partial and e.validator == "required" and e.absolute_path)]
    # Paths mix list indexes and mapping keys (which YAML lets be any scalar): order by type
    # name first so that a key 0 and a key "a" never meet in a comparison.
    errors = sorted(found, key=lambda e: (
        len(e.absolute_path), [(type(part).__name__, part) for part in e.path]))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    field = dotted(list(error.absolute_path))
    if prefix:
        field = prefix if field == "(top level)" else f"{prefix}.{field}"
    raise HermitError(_describe(error), source=source, field=field)


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"{error.message}; expected only: {', '.join(sorted(error.schema['properties']))}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "pattern":
        description = error.schema.get("description", f"matching {error.validator_value}")
        return f"{error.instance!r} is not a valid value; expected {description}"
    if error.validator == "required" or not isinstance(error.schema, dict):
        return error.message
    expected = error.schema.get("description")
    return f"{error.message} (expected: {expected})" if expected else error.message
