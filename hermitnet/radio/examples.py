"""A minimal valid radio section and a scenario around it: starting points for new scenarios,
and the tests' fixtures."""

from __future__ import annotations

import copy

MINIMAL_SECTION = {
    "bounds_km": [0, 0, 40, 30],
    "border": {"points_km": [[0, 25], [40, 25]], "foreign_side": "north"},
    "towns": [{"name": "town", "position_km": [20, 20], "population_weight": 1}],
    "national_cells": [{"name": "cell-1", "town": "town"}],
    "foreign_cells": [{"name": "far-1", "position_km": [20, 28]}],
    "jammers": [{"name": "jam-1", "town": "town", "power_dbm": 40}],
    "ues": [
        {"name": "phone-1", "tier": "citizen", "town": "town"},
        {"name": "phone-2", "tier": "citizen", "handset": "foreign", "position_km": [2, 22]},
    ],
    "propagation": {"shadowing_db": 0},
}

MINIMAL_SCENARIO = {
    "schema": 1,
    "name": "radio-mini",
    "tiers": {"citizen": {"zones": ["intranet"]}},
    "sites": [{"name": "news", "zone": "intranet"}],
    "radio": MINIMAL_SECTION,
}
"""The phones are the radio section's UEs; no cells or subscribers of their own."""


def minimal_section(**changes) -> dict:
    """A deep copy of MINIMAL_SECTION with top-level keys replaced by `changes`."""
    section = copy.deepcopy(MINIMAL_SECTION)
    section.update(changes)
    return section


def minimal_scenario(section: dict | None = None, **changes) -> dict:
    """A deep copy of MINIMAL_SCENARIO with `section` as its radio section (default: the
    minimal one) and top-level keys replaced by `changes`."""
    document = copy.deepcopy(MINIMAL_SCENARIO)
    if section is not None:
        document["radio"] = copy.deepcopy(section)
    document.update(copy.deepcopy(changes))
    return document
