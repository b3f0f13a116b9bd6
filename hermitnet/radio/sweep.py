"""Parameter sweeps over a scenario: `--set KEY=V1,V2,...` overrides and the radio columns.

A KEY is a dotted path into the scenario document. Over a list, an integer segment picks one
entry (`radio.jammers.0.power_dbm`), any other segment applies to every entry
(`radio.jammers.power_dbm`), and a final `count` keeps the first N entries
(`radio.jammers.count=0,1,2`). Values are read as YAML scalars (30, 0.5, true, name).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from hermitnet.errors import HermitError
from hermitnet.radio.model import RadioModel
from hermitnet.radio.population import population
from hermitnet.radio.scenario_file import radio_model


@dataclass(frozen=True)
class Assignment:
    key: str
    values: tuple

    @property
    def path(self) -> list[str]:
        return self.key.split(".")


def parse_assignment(text: str) -> Assignment:
    """`KEY=V1,V2,...` -> Assignment; each value is a YAML scalar."""
    key, sep, values_text = text.partition("=")
    key = key.strip()
    if not sep or not key or not values_text.strip():
        raise HermitError(
            f"expected KEY=V1,V2,... (e.g. radio.jammers.power_dbm=30,40), got {text!r}"
        )
    if any(not part for part in key.split(".")):
        raise HermitError(f"empty segment in dotted key {key!r}")
    values = tuple(yaml.safe_load(part) for part in values_text.split(",") if part.strip())
    return Assignment(key=key, values=values)


def apply_override(document: dict, key: str, value: object) -> dict:
    """A deep copy of `document` with `value` set at the dotted `key` (see module docstring)."""
    result = copy.deepcopy(document)
    _set(result, key.split("."), value, key, [])
    return result


def _set(node: object, path: list[str], value: object, key: str, walked: list[str]) -> None:
    head, rest = path[0], path[1:]
    where = ".".join(walked) or "(top level)"
    if isinstance(node, list):
        if head.isdigit():
            index = int(head)
            if index >= len(node):
                raise HermitError(f"{where} has {len(node)} entries, no index {index}", field=key)
            if rest:
                _set(node[index], rest, value, key, [*walked, head])
            else:
                node[index] = value
        elif head == "count" and not rest:
            if not isinstance(value, int) or value < 0:
                raise HermitError(f"count must be a whole number >= 0, got {value!r}", field=key)
            del node[value:]
        else:
            for index, item in enumerate(node):
                _set(item, path, value, key, [*walked, str(index)])
        return
    if not isinstance(node, dict):
        raise HermitError(f"{where} is a {type(node).__name__}, not a mapping", field=key)
    if not rest:
        node[head] = value
        return
    if head not in node:
        node[head] = {}
    _set(node[head], rest, value, key, [*walked, head])


def jammer_state_times(model: RadioModel, duration_s: float) -> tuple[list[float], list[float]]:
    """Start of each interval in [0, duration_s) where no jammer switches, and its weight
    (its share of the duration): time averages need one evaluation per interval."""
    edges = sorted({0.0, *(t for j in model.jammers for t in j.edges_s(duration_s))})
    bounds = [*edges, duration_s]
    weights = [(b - a) / duration_s for a, b in zip(bounds, bounds[1:], strict=False)]
    return edges, weights


def radio_columns(
    n_phones: int, seed: int | None, duration_s: float | None
) -> Callable[[dict, str], dict]:
    """The radio part of one sweep row: population shares for one overridden document."""

    def columns(document: dict, source: str) -> dict:
        model = radio_model(document, source)
        times_s, weights = (None, None)
        if duration_s is not None:
            times_s, weights = jammer_state_times(model, duration_s)
        result = population(
            model,
            n_phones,
            model.seed if seed is None else seed,
            times_s=times_s,
            time_weights=weights,
        )
        return {
            "foreign_reach_share": result.foreign_reach_share,
            "foreign_reach_share_any": result.foreign_reach_share_any,
            "border_foreign_reach_share": result.border_foreign_reach_share,
            "jamming_effectiveness": result.jamming_effectiveness,
            "national_coverage_share": result.national_coverage_share,
        }

    return columns


def sweep(
    document: dict,
    source: str,
    assignment: Assignment,
    column_functions: list[Callable[[dict, str], dict]],
) -> list[dict]:
    """One row per value: {KEY: value, **columns of each function on the overridden doc}."""
    rows = []
    for value in assignment.values:
        overridden = apply_override(document, assignment.key, value)
        row = {assignment.key: value}
        for function in column_functions:
            row.update(function(overridden, source))
        rows.append(row)
    return rows
