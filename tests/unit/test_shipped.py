"""The shipped scenarios and the controller app are package data, found by name."""

from __future__ import annotations

import os
from pathlib import Path

from hermitnet import shipped

REPO = Path(__file__).resolve().parents[2]


def test_every_scenario_of_the_checkout_is_shipped():
    assert [p.name for p in shipped.scenario_files()] == sorted(
        p.name for p in (REPO / "scenarios").glob("*.yaml"))
    assert all(p.is_file() for p in shipped.scenario_files())


def test_a_shipped_scenario_is_found_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("baseline", "baseline.yaml"):
        found = shipped.scenario_path(name)
        assert found.name == "baseline.yaml" and found.is_file()
        assert found.read_text() == (REPO / "scenarios" / "baseline.yaml").read_text()


def test_a_file_that_exists_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline.yaml").write_text("mine")
    assert shipped.scenario_path("baseline.yaml") == Path("baseline.yaml")
    assert shipped.scenario_path("sub/baseline.yaml") == Path("sub/baseline.yaml")
    assert shipped.scenario_path("no-such-scenario") == Path("no-such-scenario")


def test_the_controller_app_is_shipped():
    app = shipped.controller_app()
    assert app.name == "tiered_routing.py" and os.path.isfile(app)
    assert app.read_text() == (REPO / "controllers" / "tiered_routing.py").read_text()


def test_validate_and_scenarios_take_shipped_names(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("validate", "baseline", "border")
    assert code == 0, err
    assert "baseline: ok" in out and "border: ok" in out
    code, out, err = run_cli("scenarios")
    assert code == 0, err
    assert {line.split()[0] for line in out.splitlines()[1:-1]} == {
        p.stem for p in (REPO / "scenarios").glob("*.yaml")}
