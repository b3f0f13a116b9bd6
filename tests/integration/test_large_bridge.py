"""A bridge with many ports comes up (Mininet's one-line ovs-vsctl used to be cut at 4095 chars)."""

from __future__ import annotations

import pytest

from hermitnet import runner, scenario
from tests.integration.conftest import leftovers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TERMINALS = 90


def test_ninety_terminals_on_one_switch(tmp_path):
    doc = {
        "schema": 1,
        "name": "many-terminals",
        "tiers": {"public": {"zones": ["intranet"]}},
        "subscribers": [{"name": f"t-{i}", "tier": "public", "access": "fixed"}
                        for i in range(TERMINALS)],
        "sites": [{"name": "library", "zone": "intranet"}],
    }
    loaded = scenario.from_dict(doc, source="many-terminals")
    with runner.session(loaded, tmp_path / "run", progress=lambda message: None) as live:
        rows = live.measure_reachability()
        run_id = live.results["run_id"]
    assert len(rows) == TERMINALS
    assert all(row["ok"] for row in rows), [r for r in rows if not r["ok"]][:3]
    assert leftovers(run_id) == []
