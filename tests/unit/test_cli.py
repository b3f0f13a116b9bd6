"""The `hermitnet` command, run in-process: exit codes, stdout, stderr and files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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
    header, line = out.splitlines()
    assert header.split() == ["scenario", "here", "lab", "VM", "what", "it", "models"]
    estimate = r"~[\d.]+ (?:s|min)"
    found = re.fullmatch(rf"(\S+)\s+({estimate})\s+({estimate})\s+(.*)", line)
    assert found, line
    assert found[1] == str(folder / "baseline.yaml")
    assert found[4] == "A closed national 3G network"


def test_scenarios_lists_the_shipped_baseline(run_cli):
    code, out, err = run_cli("scenarios")
    assert code == 0, err
    *rows, footer = out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == [
        p.stem for p in sorted(SCENARIO_DIR.glob("*.yaml"), key=lambda p: p.name)]
    assert footer.startswith("(shipped with hermitnet, in ") and footer.endswith("scenarios)")


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


def test_map_says_what_population_each_town_column_is_over(run_cli, tmp_path):
    code, out, err = run_cli("map", SCENARIO_DIR / "border.yaml", "--out", "m/", "--phones", 500)
    assert code == 0, err
    assert "per town: shares of all the town's phones; the last column only of its phones " \
           "within 16 km of the border" in out
    assert "border phones: jam eff" in out
    assert "phones actually on a foreign cell: " in out and " of all phones (only foreign " \
           "handsets can camp there: " in out
    header = (tmp_path / "m" / "border-map.csv").read_text().splitlines()[0]
    assert header.endswith(",border_phones_jamming_effectiveness")


def test_sweep_table_columns_are_as_wide_as_their_names():
    from hermitnet.commands.sweep import table_lines

    rows = [{"radio.jammers.power_dbm": 30, "border_foreign_reach_share": 0.5, "x": None}]
    header, line = table_lines(rows)
    assert header.split() == list(rows[0])
    assert len(header) == len(line)
    assert line.split() == ["30", "0.5000", "-"]


# -- a user's mistakes end in an error that names what to fix, never a traceback -------------

@pytest.mark.parametrize("args,words", [
    (("map", SCENARIO_DIR / "border.yaml", "--phones", "0"),
     "--phones: expected a whole number > 0"),
    (("map", SCENARIO_DIR / "border.yaml", "--seed", "-1"),
     "--seed: expected a whole number >= 0"),
    (("map", SCENARIO_DIR / "border.yaml", "--t-s", "soon"), "--t-s: expected a number >= 0"),
    (("sweep", SCENARIO_DIR / "border.yaml", "--set", "radio.jammers.power_dbm=30",
      "--duration-s", "0"), "--duration-s: expected a number > 0"),
    (("sweep", SCENARIO_DIR / "border.yaml", "--set", "radio.jammers.power_dbm=30",
      "--phones", "many"), "--phones: expected a whole number > 0, got 'many'"),
    (("map", SCENARIO_DIR / "border.yaml", "--phones", "100", "--out", "afile/x.png"),
     "--out: cannot write afile: a file is in the way of a folder"),
    (("sweep", SCENARIO_DIR / "border.yaml", "--set", "radio.jammers.power_dbm=30",
      "--phones", "100", "--out", "afile/sweep"), "--out: cannot write afile/sweep"),
    (("run", BASELINE, "--out", "afile/run"), "--out: cannot write afile/run"),
    (("policy", "--api", "notaurl", "show"), "--api: unknown url type"),
    (("policy", "--api", "http://[::1", "show"), "--api: Invalid IPv6 URL"),
    (("report", "afile"), "cannot read the run's results"),
    (("map", "."), "cannot read scenario file: Is a directory"),
])
def test_mistakes_are_errors_not_tracebacks(run_cli, tmp_path, args, words):
    (tmp_path / "afile").write_text("a file, not a folder\n")
    code, out, err = run_cli(*args)
    assert code == 2, (out, err)
    assert words in err
    assert "Traceback" not in err


def test_report_into_a_folder_it_cannot_write(run_cli, tmp_path, results_record):
    results.write(tmp_path, results_record())
    (tmp_path / "report.html").mkdir()   # in the way
    code, _, err = run_cli("report", tmp_path)
    assert code == 2 and "run_dir: cannot write" in err and "report.html" in err


# -- run --hold: the user ends a held run, and every round is kept ------------------------------

class _FakeLive:
    """What the hold loop uses of a live run, without a network."""

    controller_api = "http://127.0.0.1:1"
    controller = SimpleNamespace(token_path=None)   # the API on loopback: no token

    def __init__(self, record, interrupt_measuring=False):
        self.results = record
        self.rounds = 0
        self.interrupt_measuring = interrupt_measuring

    def check_controller(self):
        pass

    def elapsed_s(self):
        return 10.0 * (self.rounds + 1)

    def measure_reachability(self):
        if self.interrupt_measuring:
            raise KeyboardInterrupt
        self.rounds += 1
        rows = [dict(r) for r in self.results["reachability"]]
        ok = self.rounds % 2 == 1
        rows[1].update(ok=ok, blocking=False if ok else "tcp_ip", accessible=ok,
                       verdict="accessible" if ok else "tcp_ip")
        return rows


class _Keyboard:
    """stdin whose lines are given, then Ctrl-C (KeyboardInterrupt) or end of input."""

    def __init__(self, lines, then_ctrl_c):
        self.lines, self.then_ctrl_c = list(lines), then_ctrl_c

    def readline(self):
        if self.lines:
            return self.lines.pop(0)
        if self.then_ctrl_c:
            raise KeyboardInterrupt
        return ""


@pytest.mark.parametrize("ctrl_c", [True, False], ids=["ctrl-c", "end-of-input"])
def test_hold_ends_normally_at_the_prompt_and_keeps_every_round(
        monkeypatch, capsys, results_record, ctrl_c):
    from hermitnet.commands import run as run_command

    record = results_record()
    record["status"] = "failed"   # what the record says until the session ends
    live = _FakeLive(record)
    monkeypatch.setattr(sys, "stdin", _Keyboard(["\n", "\n"], then_ctrl_c=ctrl_c))
    run_command._hold(live)   # returns: the session goes on to end the run as ok
    out = capsys.readouterr().out
    assert "): failed" not in out
    assert out.count("scenario baseline (seed 1): running (network up, held)") == 3
    assert "reachability of round 2, measured 20 s after the network came up" in out
    rounds = record["remeasurements"]
    assert [(r["round"], r["t_s"]) for r in rounds] == [(1, 10.0), (2, 20.0)]
    assert [r["reachability"][1]["ok"] for r in rounds] == [True, False]
    assert record["reachability"][1]["ok"] is False   # the first measurement stays


def test_ctrl_c_during_a_re_measurement_is_an_interruption(monkeypatch, results_record):
    from hermitnet.commands import run as run_command

    live = _FakeLive(results_record(), interrupt_measuring=True)
    monkeypatch.setattr(sys, "stdin", _Keyboard(["\n"], then_ctrl_c=False))
    with pytest.raises(KeyboardInterrupt):
        run_command._hold(live)


def test_policy_health_in_words():
    from hermitnet.commands.policy import format_health

    text = format_health({"now_s": 12.34, "lease_s": 5,
                          "switches": {"core": True, "border": True, "nb-1": False},
                          "openflow_errors": [{"switch": "nb-1", "type": 5, "code": 2,
                                               "t_s": 3.0}]})
    assert text.splitlines()[0] == "controller at t=12.3 s: 2 of 3 switches connected"
    assert "  NOT connected: nb-1" in text
    assert "leased for 5 s" in text
    assert "    t=3.0 s nb-1: type 5 code 2" in text
    assert "no OpenFlow errors" in format_health({"now_s": 1, "switches": {"core": True},
                                                  "openflow_errors": []})


def test_scenarios_estimate_run_time_from_the_clock_and_the_flows(scenario_dict):
    from hermitnet import scenario
    from hermitnet.commands.scenarios import LAB_VM_FACTOR, duration_text, expected_run_s

    bare = scenario.from_dict(scenario_dict(), source="x")
    in_turn = scenario.from_dict(scenario_dict(measure={"throughput": {
        "seconds": 5, "flows": [{"from": "phone-2", "to": "video"}] * 2}}), source="x")
    timed = scenario.from_dict(scenario_dict(timeline={"duration_s": 60}, measure={"throughput": {
        "flows": [{"from": "phone-2", "to": "video", "start_s": 10, "seconds": 40}]}}),
        source="x")
    assert expected_run_s(in_turn) > expected_run_s(bare)
    assert expected_run_s(timed) - expected_run_s(bare) == pytest.approx(60)   # its clock
    assert duration_text(52) == "~50 s" and duration_text(210) == "~3.5 min"
    assert LAB_VM_FACTOR > 1
