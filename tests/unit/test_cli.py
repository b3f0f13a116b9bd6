"""The `hermitnet` command, run in-process: exit codes, stdout, stderr and files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hermitnet import cli, results
from hermitnet.emulation import manifest as manifest_module

HERE = Path(__file__).resolve().parent
SCENARIO_DIR = HERE.parents[1] / "scenarios"
BASELINE = SCENARIO_DIR / "baseline.yaml"
INVALID_DIR = HERE / "invalid_scenarios"


@pytest.mark.parametrize("command", [None, *cli.COMMANDS])
def test_help_of_every_command(run_cli, command):
    code, out, err = run_cli(*([command] if command else []), "--help")
    assert code == 0, err
    assert out.startswith(f"usage: hermitnet{f' {command}' if command else ''} ")
    assert err == ""


def test_top_level_help_lists_every_command(run_cli):
    _, out, _ = run_cli("--help")
    for command in cli.COMMANDS:
        assert f"    {command} " in out


def test_version(run_cli):
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("hermitnet ")


def test_no_command_is_a_usage_error(run_cli):
    code, out, err = run_cli()
    assert code == 2 and out == ""
    assert "usage: hermitnet" in err and "required" in err


def test_unknown_command(run_cli):
    code, _, err = run_cli("frobnicate")
    assert code == 2
    assert "invalid choice: 'frobnicate'" in err


def test_validate_baseline(run_cli):
    code, out, err = run_cli("validate", BASELINE)
    assert code == 0, err
    assert out.startswith(f"{BASELINE}: ok (6 subscribers, 13 sites, 8 switches, ")
    assert err == ""


@pytest.mark.parametrize("fixture,field", [
    ("unknown_tier.yaml", "subscribers[1].tier"),
    ("unknown_subscriber_key.yaml", "subscribers[0]"),
    ("blocklist_until_before_from.yaml", "blocklist[1].until_s"),
    ("bad_yaml.yaml", "not valid YAML"),
])
def test_validate_broken_file(run_cli, fixture, field):
    path = INVALID_DIR / fixture
    code, out, err = run_cli("validate", path)
    assert code == 2
    assert out == ""
    assert err.startswith(f"hermitnet validate: error: {path}: ")
    assert field in err
    assert "Traceback" not in err


def test_validate_stops_at_the_first_broken_file(run_cli):
    code, out, err = run_cli("validate", BASELINE, INVALID_DIR / "fixed_with_cell.yaml")
    assert code == 2
    assert "baseline.yaml: ok" in out
    assert "fixed_with_cell.yaml: subscribers[0].cell" in err


def test_validate_show_prints_the_merged_document_as_yaml(run_cli):
    from hermitnet import scenario

    blocklist = SCENARIO_DIR / "blocklist-2016.yaml"
    code, out, err = run_cli("validate", BASELINE, blocklist, "--show")
    assert code == 0, err
    assert out.startswith(f"# {BASELINE}: ok (6 subscribers, 13 sites, ")
    assert f"\n---\n# {blocklist}: ok (6 subscribers, 17 sites, " in out
    shown = list(yaml.safe_load_all(out))
    assert shown == [scenario.read_document(BASELINE), scenario.read_document(blocklist)]
    assert "extends" not in shown[1] and shown[1]["tiers"] == shown[0]["tiers"]


def test_validate_without_show_prints_no_document(run_cli):
    code, out, _ = run_cli("validate", SCENARIO_DIR / "blocklist-2016.yaml")
    assert code == 0 and len(out.splitlines()) == 1


def test_validate_missing_file(run_cli, tmp_path):
    code, _, err = run_cli("validate", tmp_path / "gone.yaml")
    assert code == 2
    assert "gone.yaml: cannot read scenario file" in err and "Traceback" not in err


def test_scenarios_lists_a_folder(run_cli, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(BASELINE, folder / "baseline.yaml")
    code, out, err = run_cli("scenarios", "--dir", folder)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == str(folder / "baseline.yaml")
    assert lines[1].startswith("    A closed national 3G network")


def test_scenarios_lists_the_shipped_baseline(run_cli):
    code, out, err = run_cli("scenarios")
    assert code == 0, err
    assert str(SCENARIO_DIR / "baseline.yaml") in out.splitlines()


def test_scenarios_lists_the_good_ones_when_one_is_broken(run_cli, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(BASELINE, folder / "b-baseline.yaml")
    (folder / "a-broken.yaml").write_text("schema: 1\nname: broken\n")
    code, out, err = run_cli("scenarios", "--dir", folder)
    assert str(folder / "b-baseline.yaml") in out
    assert "a-broken.yaml" in out + err
    assert code != 0


def test_report_writes_html(run_cli, tmp_path, results_record):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results.write(run_dir, results_record())
    code, out, err = run_cli("report", run_dir)
    assert code == 0, err
    assert out.startswith("scenario baseline (seed 1): ok")
    assert f"report: {run_dir / 'report.html'}" in out
    assert (run_dir / "report.html").read_text().startswith("<!doctype html>")


def test_report_into_a_closed_pipe_ends_without_a_traceback(tmp_path, results_record):
    """`hermitnet report DIR | head`: the reader is gone before the summary is written."""
    results.write(tmp_path, results_record())
    reader_gone = subprocess.Popen(
        [sys.executable, "-m", "hermitnet.cli", "report", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(HERE.parents[1])})
    reader_gone.stdout.close()   # closed long before the child has imported anything
    err = reader_gone.stderr.read().decode()
    assert reader_gone.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_report_on_a_folder_without_results(run_cli, tmp_path):
    code, _, err = run_cli("report", tmp_path / "nothing")
    assert code == 2
    assert err.startswith("hermitnet report: error: ") and "results.json" in err
    assert "Traceback" not in err


def test_report_refuses_a_bad_record(run_cli, tmp_path, results_record):
    data = results_record()
    data["status"] = "fine"
    (tmp_path / "results.json").write_text(yaml.safe_dump(data))   # YAML is not JSON either
    code, _, err = run_cli("report", tmp_path)
    assert code == 2 and "results.json" in err


def test_clean_with_nothing_recorded(run_cli):
    code, out, err = run_cli("clean")
    assert code == 0, err
    assert out == "nothing to clean\n"


def test_clean_leaves_a_live_run_alone_and_cleans_a_dead_one(run_cli, monkeypatch):
    monkeypatch.setattr(manifest_module, "_ovs_bridges", lambda: [])
    monkeypatch.setattr(manifest_module, "_quiet", lambda argv: None)
    live = manifest_module.Manifest.create("hnaa", "r")            # owned by this process
    dead = manifest_module.Manifest("hnbb", live.owner_pid, live.owner_start + 1, "r")
    dead.save()
    code, out, err = run_cli("clean")
    assert code == 0, err
    assert f"hnaa: still running (pid {live.owner_pid}); use --all" in out
    assert "hnbb: removed 0 objects" in out
    assert live.path.exists() and not dead.path.exists()
    code, out, _ = run_cli("clean", "--all")
    assert "hnaa: removed 0 objects" in out and not live.path.exists()


@pytest.mark.parametrize("out", ["maps", "maps/"])
def test_map_into_a_folder_writes_the_png_there(run_cli, tmp_path, out):
    (tmp_path / "maps").mkdir()
    code, _, err = run_cli("map", SCENARIO_DIR / "border.yaml", "--out", out, "--phones", 500)
    assert code == 0, err
    assert (tmp_path / "maps" / "border-map.png").stat().st_size > 0


def test_map_refuses_an_output_that_is_not_png(run_cli):
    code, _, err = run_cli("map", SCENARIO_DIR / "border.yaml", "--out", "map.svg")
    assert code == 2
    assert "--out map.svg: expected a .png file or a folder" in err


def test_clean_marks_a_killed_run_interrupted(run_cli, monkeypatch, tmp_path, results_record):
    from hermitnet import results

    monkeypatch.setattr(manifest_module, "_ovs_bridges", lambda: [])
    monkeypatch.setattr(manifest_module, "_quiet", lambda argv: None)
    record = results_record()
    record["status"], record["finished"] = "running", None
    results.write(tmp_path, record)
    live = manifest_module.Manifest.create("hnaa", str(tmp_path))
    live.save()
    code, out, _ = run_cli("clean", "--all")    # a live owner still reports for itself
    assert code == 0 and results.load(tmp_path)["status"] == "running"
    dead = manifest_module.Manifest("hnbb", live.owner_pid, live.owner_start + 1, str(tmp_path))
    dead.save()
    code, out, err = run_cli("clean")
    assert code == 0, err
    assert "results.json: marked interrupted" in out
    marked = results.load(tmp_path)
    assert marked["status"] == "interrupted" and "cleaned by hermitnet clean" in marked["error"]
