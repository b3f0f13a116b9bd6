"""The run lock: one emulation at a time, the second refused naming the first, freed on SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from hermitnet.emulation import runlock
from hermitnet.errors import HermitError

# A separate process takes the lock (flock locks belong to open files, so a second open in this
# process would be refused too, but a real second run is another process) and says when it has.
HOLDER = textwrap.dedent("""
    import sys, time
    from hermitnet.emulation import runlock
    lock = runlock.acquire("baseline", "scenarios/baseline.yaml")
    lock.note(results_dir="results/baseline-x-hnab")
    print("held", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def holder(state_dir):
    process = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait(timeout=10)


def test_a_second_run_is_refused_naming_the_first(holder):
    with pytest.raises(HermitError) as caught:
        runlock.acquire("border", "scenarios/border.yaml")
    text = str(caught.value)
    assert "another run is in progress" in text
    assert "scenario baseline (scenarios/baseline.yaml)" in text
    assert f"PID {holder.pid}" in text
    assert "results in results/baseline-x-hnab" in text
    assert caught.value.source.endswith("run.lock")


def test_the_lock_of_a_killed_run_is_free(holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    lock = runlock.acquire("border", "scenarios/border.yaml")
    lock.release()


def test_the_lock_file_names_its_holder_and_is_emptied_on_release(state_dir):
    lock = runlock.acquire("baseline", "scenarios/baseline.yaml")
    lock.note(results_dir="out")
    written = json.loads((state_dir / runlock.LOCK_NAME).read_text())
    assert written["scenario"] == "baseline" and written["pid"] == os.getpid()
    assert written["results_dir"] == "out"
    lock.release()
    lock.release()  # twice is safe
    assert (state_dir / runlock.LOCK_NAME).read_text() == ""
    with runlock.acquire("again", "again.yaml"):
        pass


def test_the_holder_is_described_even_before_it_wrote_its_details():
    assert "not yet said" in runlock.describe({})
    assert "(not yet chosen)" in runlock.describe({"scenario": "s", "pid": 1})


def test_a_run_command_is_refused_while_another_run_holds_the_lock(holder, run_cli, tmp_path):
    """`hermitnet run` fails before building anything; validate is not blocked."""
    from tests.conftest import BASELINE

    code, _, err = run_cli("run", BASELINE, "--out", tmp_path / "second")
    assert code == 2, err
    assert f"PID {holder.pid}" in err and "scenario baseline" in err
    assert not (tmp_path / "second").exists()
    code, _, err = run_cli("validate", BASELINE)
    assert code == 0, err
