"""Sweep grids of two parameters, progress, and resuming an interrupted sweep (no root)."""

import csv
import json

import pytest

from hermitnet import sweep
from hermitnet.errors import HermitError
from hermitnet.radio.examples import minimal_scenario
from hermitnet.sweep import finished_points, format_duration, grid, parse_assignment

POWER = "radio.jammers.power_dbm=10,35,60"
COUNT = "radio.jammers.count=0,1"   # the minimal scenario has one jammer


def _scenario(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps(minimal_scenario(seed=3)))
    return path


def test_grid_is_every_combination_the_last_key_fastest():
    points = grid([parse_assignment("a=1,2"), parse_assignment("b.c=x,y,z")])
    assert points == [{"a": 1, "b.c": "x"}, {"a": 1, "b.c": "y"}, {"a": 1, "b.c": "z"},
                      {"a": 2, "b.c": "x"}, {"a": 2, "b.c": "y"}, {"a": 2, "b.c": "z"}]
    assert grid([parse_assignment("a=1,2")]) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize("texts,words", [
    ([], "one or two"),
    (["a=1", "b=2", "c=3"], "one or two"),
    (["a=1,2", "a=3"], "names a twice"),
])
def test_grid_refuses_no_key_three_keys_or_a_key_twice(texts, words):
    with pytest.raises(HermitError) as caught:
        grid([parse_assignment(t) for t in texts])
    assert words in str(caught.value) and caught.value.field == "--set"


def test_a_two_key_sweep_has_a_row_per_point_and_reports_progress(tmp_path):
    messages = []
    rows = sweep.run(_scenario(tmp_path), [parse_assignment(POWER), parse_assignment(COUNT)],
                     n_phones=2_000, out_dir=tmp_path / "out", progress=messages.append)
    assert [(r["radio.jammers.power_dbm"], r["radio.jammers.count"]) for r in rows] == [
        (10, 0), (10, 1), (35, 0), (35, 1), (60, 0), (60, 1)]
    # no jammer: the power does not matter; with one, more power keeps more phones off
    assert rows[0]["foreign_reach_share"] == rows[4]["foreign_reach_share"]
    assert rows[5]["foreign_reach_share"] < rows[1]["foreign_reach_share"]
    progress = [m for m in messages if m.startswith("point ")]
    assert progress[0].startswith("point 1/6 done (radio.jammers.power_dbm=10, "
                                  "radio.jammers.count=0); about ")
    assert progress[-1].startswith("point 6/6 done") and progress[-1].endswith("about 0 s left")
    assert len(finished_points(tmp_path / "out" / sweep.POINTS_FILE)) == 6


def test_resume_runs_only_the_points_not_finished(tmp_path, monkeypatch):
    path, out = _scenario(tmp_path), tmp_path / "out"
    assignments = [parse_assignment(POWER), parse_assignment(COUNT)]
    calls = []
    real = sweep.radio_columns

    def interrupted_at_the_fourth(model, *args):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(len(model.jammers))
        return real(model, *args)

    monkeypatch.setattr(sweep, "radio_columns", interrupted_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(path, assignments, n_phones=2_000, out_dir=out, progress=lambda m: None)
    assert sorted(finished_points(out / sweep.POINTS_FILE)) == [0, 1, 2]
    # an interruption while the line was being written leaves a partial line: not a point
    with (out / sweep.POINTS_FILE).open("a") as handle:
        handle.write('{"point": 3, "row": {"radio.jam')

    calls.clear()
    monkeypatch.setattr(sweep, "radio_columns", lambda model, *args: (
        calls.append(len(model.jammers)) or real(model, *args)))
    messages = []
    rows = sweep.run(path, assignments, n_phones=2_000, out_dir=out, resume=True,
                     progress=messages.append)
    assert calls == [1, 0, 1]          # points 3, 4, 5 only (jammer counts 1, 0, 1)
    assert messages[0] == f"resuming: 3 of 6 points already done in {out}"
    assert messages[1].startswith("point 4/6 done")
    fresh = sweep.run(path, assignments, n_phones=2_000, progress=lambda m: None)
    assert rows == fresh               # the same rows as a sweep never interrupted


def test_resume_refuses_other_settings_and_a_new_sweep_refuses_a_used_folder(tmp_path):
    path, out = _scenario(tmp_path), tmp_path / "out"
    sweep.run(path, [parse_assignment(POWER)], n_phones=1_000, out_dir=out,
              progress=lambda m: None)
    with pytest.raises(HermitError) as caught:
        sweep.run(path, [parse_assignment(POWER)], n_phones=2_000, out_dir=out, resume=True,
                  progress=lambda m: None)
    assert "phones: 1000 then, 2000 now" in str(caught.value)
    assert caught.value.field == "--resume"
    with pytest.raises(HermitError) as caught:
        sweep.run(path, [parse_assignment(POWER)], n_phones=1_000, out_dir=out,
                  progress=lambda m: None)
    assert f"--resume {out}" in str(caught.value)
    path.write_text(json.dumps(minimal_scenario(seed=4)))   # the scenario changed meanwhile
    with pytest.raises(HermitError) as caught:
        sweep.run(path, [parse_assignment(POWER)], n_phones=1_000, out_dir=out, resume=True,
                  progress=lambda m: None)
    assert "scenario_sha256" in str(caught.value)
    with pytest.raises(HermitError) as caught:
        sweep.run(path, [parse_assignment(POWER)], n_phones=1_000, out_dir=tmp_path / "none",
                  resume=True, progress=lambda m: None)
    assert "no sweep to resume" in str(caught.value)


def test_the_command_resumes_from_the_folder_alone(run_cli, tmp_path):
    path = _scenario(tmp_path)
    code, out, err = run_cli("sweep", path, "--set", POWER, "--set", COUNT, "--phones", "1500",
                             "--out", "grid")
    assert code == 0, err
    assert "point 6/6 done" in out and "6 points" in out
    rows = list(csv.DictReader((tmp_path / "grid" / "sweep.csv").open()))
    assert len(rows) == 6 and (tmp_path / "grid" / "sweep.png").stat().st_size > 10_000
    code, out, err = run_cli("sweep", "--resume", "grid")
    assert code == 0, err
    assert "resuming: 6 of 6 points already done" in out and "point " not in out.split("\n")[1]
    assert list(csv.DictReader((tmp_path / "grid" / "sweep.csv").open())) == rows
    code, out, err = run_cli("sweep", path, "--set", "radio.jammers.power_dbm=1,2",
                             "--resume", "grid")
    assert code == 2 and "set:" in err


def test_format_duration():
    assert [format_duration(s) for s in (0, 3.4, 75, 7322)] == [
        "0 s", "3 s", "1 min 15 s", "2 h 2 min"]
