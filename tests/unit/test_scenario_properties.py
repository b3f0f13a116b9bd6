"""Property-based tests of the scenario loader: any document loads or fails with a HermitError.

Documents are the shipped scenarios and a minimal one, mutated (keys dropped or added, values
replaced by other types, strings, negative or huge numbers, wrong shapes), fully random YAML-able
data, and random file contents. Whatever comes in, `load`/`from_dict` returns a Scenario or raises
a HermitError that names the file and (for a mapping) the field; never another exception.

Deterministic: derandomized, no example database, so CI runs the same examples every time.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermitnet import scenario
from hermitnet.errors import HermitError
from tests.conftest import _MINIMAL_SCENARIO, SCENARIO_DIR

SOURCE = "fuzzed.yaml"
BASES = [copy.deepcopy(_MINIMAL_SCENARIO)] + [
    yaml.safe_load(path.read_text()) for path in sorted(SCENARIO_DIR.glob("*.yaml"))]

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=250,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

names = st.sampled_from(["citizen", "elite", "news", "cell-1", "phone-1", "bw_mbps", "zones",
                         "from", "to", "name", "", "Phone 1", "nb-x", "core"])
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-1, 0, 1, 10**12, -1e300, 1e300, 0.5]),
    st.sampled_from(["100 Mbps", "30 ms", "2 s", "-5", "intranet", "global", "mobile", "fixed",
                     "north", "hyesan", "citizen-1", "news"]),
    names, st.text(max_size=12),
)
# What YAML can produce: scalars, lists, and mappings with string or other scalar keys.
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(names, st.text(max_size=8), st.integers(-3, 3),
                                  st.booleans(), st.none()), inner, max_size=4)),
    max_leaves=12)


def _paths(doc, prefix=()) -> list[tuple]:
    """Every place in the document: keys of mappings and indexes of lists."""
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def _at(doc, path):
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw):
    """A valid scenario with one to four changes at places drawn from it."""
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        # A depth first, then a place at that depth: top-level sections are changed as often
        # as the leaves of a long radio section.
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        depth = draw(st.integers(1, max(len(p) for p in paths)))
        path = draw(st.sampled_from([p for p in paths if len(p) == depth] or paths))
        parent, key = _at(doc, path[:-1]), path[-1]
        old = parent[key]
        how = draw(st.sampled_from(["drop", "drop", "replace", "replace", "add-key", "negate",
                                    "huge", "wrap", "duplicate", "to-string"]))
        if how == "drop":
            del parent[key]
        elif how == "replace":
            parent[key] = draw(values)
        elif how == "add-key" and isinstance(old, dict):
            old[draw(st.one_of(names, st.text(max_size=8)))] = draw(values)
        elif how == "negate" and isinstance(old, (int, float)) and not isinstance(old, bool):
            parent[key] = -old - 1
        elif how == "huge" and isinstance(old, (int, float)):
            parent[key] = draw(st.sampled_from([10**18, 1e308, math.inf, 2**64]))
        elif how == "wrap":
            parent[key] = [old] if draw(st.booleans()) else {"value": old}
        elif how == "duplicate" and isinstance(old, list) and old:
            old.append(copy.deepcopy(old[0]))
        elif how == "to-string":
            parent[key] = f"{old} units"
    return doc


def _loads_or_names_the_field(doc) -> None:
    try:
        loaded = scenario.from_dict(doc, source=SOURCE)
    except HermitError as error:
        assert error.source == SOURCE
        assert str(error).startswith(f"{SOURCE}: ")
        if isinstance(doc, dict):
            assert error.field, f"no field named: {error}"
            assert f": {error.field}: " in str(error)
        else:
            assert "expected a mapping" in str(error)
    else:
        assert isinstance(loaded, scenario.Scenario)


@settings(PROPERTY, max_examples=400)
@given(mutated())
def test_a_mutated_scenario_loads_or_fails_naming_a_field(doc):
    _loads_or_names_the_field(doc)


@pytest.mark.parametrize("base", range(len(BASES)))
def test_a_scenario_missing_any_one_key_loads_or_fails_naming_a_field(base):
    """Every key and list item of every base, dropped in turn (exhaustive, not sampled)."""
    for path in _paths(BASES[base]):
        if not path:
            continue
        doc = copy.deepcopy(BASES[base])
        del _at(doc, path[:-1])[path[-1]]
        _loads_or_names_the_field(doc)


@PROPERTY
@given(values)
def test_random_data_loads_or_fails_naming_a_field(doc):
    _loads_or_names_the_field(doc)


@PROPERTY
@given(st.dictionaries(st.sampled_from(["schema", "name", "tiers", "cells", "subscribers",
                                        "sites", "uplink", "defaults", "blocklist", "measure",
                                        "radio", "seed", "description"]), values, max_size=8))
def test_random_sections_load_or_fail_naming_a_field(doc):
    _loads_or_names_the_field(doc)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzzed") / SOURCE


@settings(derandomize=True, database=None, deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                 mutated().map(lambda doc: yaml.safe_dump(doc).encode())))
def test_any_file_content_loads_or_fails_naming_the_file(scratch, content):
    scratch.write_bytes(content)
    try:
        loaded = scenario.load(scratch)
    except HermitError as error:
        assert error.source == str(scratch)
        assert str(error).startswith(f"{scratch}: ")
    else:
        assert isinstance(loaded, scenario.Scenario)
