"""A minimal valid radio section: a starting point for new scenarios, and the tests' fixture."""

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


def minimal_section(**changes) -> dict:
    """A deep copy of MINIMAL_SECTION with top-level keys replaced by `changes`."""
    section = copy.deepcopy(MINIMAL_SECTION)
    section.update(changes)
    return section
