"""Nothing is left behind: after a run that was interrupted with Ctrl-C, or that failed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hermitnet.emulation import manifest as manifest_module
from tests.integration.conftest import REPO, default_sigint, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _start_run(out) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hermitnet.cli", "run", str(REPO / "scenarios" / "baseline.yaml"),
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        preexec_fn=default_sigint)


def _wait_for(process: subprocess.Popen, text: str, timeout_s: float = 120) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    process.kill()
    raise AssertionError(f"never saw {text!r}; output:\n{''.join(seen)}")


def _manifest_of(out) -> manifest_module.Manifest:
    return next(m for m in manifest_module.list_manifests() if m.results_dir == str(out))


def _run_until_up(out) -> tuple[subprocess.Popen, manifest_module.Manifest]:
    process = _start_run(out)
    _wait_for(process, "network up")
    return process, _manifest_of(out)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_removes_everything(tmp_path, how):
    out = tmp_path / "interrupted"
    process, manifest = _run_until_up(out)
    assert leftovers(manifest.run_id), "the network should exist while the run is up"
    process.send_signal(how)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted"
    assert leftovers(manifest.run_id) == []


def test_a_second_run_is_refused_while_one_is_up(tmp_path):
    """Two runs at once: the second names the first (scenario, PID, results folder), exits 2
    and builds nothing; the first goes on."""
    first_out = tmp_path / "first"
    process, manifest = _run_until_up(first_out)
    try:
        second_out = tmp_path / "second"
        done = subprocess.run(
            [sys.executable, "-m", "hermitnet.cli", "run",
             str(REPO / "scenarios" / "border.yaml"), "--out", str(second_out)],
            capture_output=True, text=True, cwd=REPO, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "another run is in progress" in done.stderr
        assert "scenario baseline" in done.stderr and f"PID {process.pid}" in done.stderr
        assert f"results in {first_out}" in done.stderr
        assert not second_out.exists()
        assert [m.results_dir for m in manifest_module.list_manifests()
                if m.results_dir == str(second_out)] == []
        assert leftovers(manifest.run_id), "the first run is still up"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    assert process.returncode == 130
    assert leftovers(manifest.run_id) == []


def test_a_run_whose_controller_dies_fails_and_cleans_up(tmp_path):
    out = tmp_path / "failed"
    process, manifest = _run_until_up(out)
    controller = next(p for p in manifest.processes if p["what"] == "controller")
    os.kill(controller["pid"], signal.SIGKILL)
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 2, output
    assert "controller died" in output
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "failed"
    assert "controller died" in results["error"]
    assert leftovers(manifest.run_id) == []


def test_clean_removes_what_a_killed_run_left(tmp_path):
    """A run killed with SIGKILL cannot clean up; `hermitnet clean` removes exactly its objects."""
    out = tmp_path / "killed"
    process, manifest = _run_until_up(out)
    run_id = manifest.run_id
    process.kill()
    process.wait(timeout=30)
    assert leftovers(run_id), "SIGKILL leaves the network behind"
    done = subprocess.run([sys.executable, "-m", "hermitnet.cli", "clean"], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert run_id in done.stdout
    assert leftovers(run_id) == []


def test_hold_keeps_the_network_up_until_input_ends(tmp_path):
    """--hold: the network stays up after measuring, Enter measures again, EOF finishes."""
    out = tmp_path / "held"
    process = subprocess.Popen(
        [sys.executable, "-m", "hermitnet.cli", "run", str(REPO / "scenarios" / "baseline.yaml"),
         "--out", str(out), "--hold"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=REPO, preexec_fn=default_sigint)
    _wait_for(process, "press Enter to measure reachability again", timeout_s=300)
    run_id = _manifest_of(out).run_id
    assert leftovers(run_id), "the network is up while held"
    process.stdin.write("\n")
    process.stdin.flush()
    _wait_for(process, "press Enter to measure again", timeout_s=120)
    output, _ = process.communicate(input="", timeout=120)
    assert process.returncode == 0, output
    assert json.loads((out / "results.json").read_text())["status"] == "ok"
    assert leftovers(run_id) == []


def test_ctrl_c_at_the_hold_prompt_ends_the_run_normally(tmp_path):
    """The documented way to end a held run is a normal end: status ok, exit 0, every held
    re-measurement kept with its time."""
    out = tmp_path / "held"
    process = subprocess.Popen(
        [sys.executable, "-m", "hermitnet.cli", "run", str(REPO / "scenarios" / "baseline.yaml"),
         "--out", str(out), "--hold"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=REPO)
    seen = _wait_for(process, "press Enter to measure reachability again", timeout_s=300)
    assert not any("): failed" in line for line in seen), "".join(seen)
    assert any("running (network up, held)" in line for line in seen), "".join(seen)
    run_id = _manifest_of(out).run_id
    process.stdin.write("\n")
    process.stdin.flush()
    _wait_for(process, "press Enter to measure again", timeout_s=120)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "ok"
    assert [r["round"] for r in results["remeasurements"]] == [1]
    assert results["remeasurements"][0]["t_s"] > 0
    assert leftovers(run_id) == []
