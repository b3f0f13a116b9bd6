"""Run manifests: saved before objects exist, cleaned by exact identity, safe to clean twice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hermitnet.emulation import manifest as manifest_module
from hermitnet.emulation.manifest import Manifest, cleanup, list_manifests, process_start_time


@pytest.fixture
def system(monkeypatch):
    """No real OVS or `ip` calls: OVS reports two bridges, commands are only recorded."""
    calls = []
    monkeypatch.setattr(manifest_module, "_ovs_bridges", lambda: ["hnabs1", "somebody-else"])
    monkeypatch.setattr(manifest_module, "_quiet", calls.append)
    return calls


@pytest.fixture
def sleeper():
    """A `sleep 60` child, reaped by a thread as soon as it dies (so it does not linger as a
    zombie whose /proc entry keeps its start time)."""
    process = subprocess.Popen(["sleep", "60"])
    reaper = threading.Thread(target=process.wait, daemon=True)
    reaper.start()
    yield process
    if process.poll() is None:
        process.kill()
    reaper.join(5)


def _alive(pid: int) -> bool:
    return process_start_time(pid) is not None


def test_state_dir_from_environment(state_dir):
    assert manifest_module.state_dir() == state_dir


def test_create_save_load(state_dir):
    made = Manifest.create("hnab", "/tmp/results/x")
    assert made.path == state_dir / "hnab.json" and made.path.exists()
    assert made.owner_pid == os.getpid()
    made.add_bridges(["hnabs1", "hnabs2", "hnabs1"])
    made.add_interfaces(["hnabs1-eth1"])
    made.add_process(os.getpid(), "this test")
    loaded = Manifest.load(made.path)
    assert loaded == made
    assert loaded.bridges == ["hnabs1", "hnabs2"]
    assert loaded.processes == [{"pid": os.getpid(), "start": process_start_time(os.getpid()),
                                 "what": "this test"}]
    assert not list(state_dir.glob("*.tmp"))
    assert [m.run_id for m in list_manifests()] == ["hnab"]


def test_list_manifests_skips_unreadable_files(state_dir):
    Manifest.create("hnab", "r")
    (state_dir / "hnzz.json").write_text("{not json")
    (state_dir / "hnyy.json").write_text('{"unexpected": 1}')
    assert [m.run_id for m in list_manifests()] == ["hnab"]


def test_list_manifests_without_state_dir(state_dir):
    assert list_manifests() == []


def test_process_start_time():
    assert process_start_time(os.getpid()) == process_start_time(os.getpid())
    assert process_start_time(os.getpid()) > 0
    assert process_start_time(2**22 + 12345) is None   # above pid_max: never a process


def test_owner_alive(state_dir):
    made = Manifest.create("hnab", "r")
    assert made.owner_alive()
    made.owner_start += 1          # same PID, another process (the PID was recycled)
    assert not made.owner_alive()
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    gone = Manifest("hnac", int(done.stdout), 12345, "r")
    assert not gone.owner_alive()


def test_cleanup_kills_recorded_process(state_dir, system, sleeper):
    made = Manifest.create("hnab", "r")
    made.add_process(sleeper.pid, "sleep server")
    started = time.monotonic()
    removed = cleanup(made)
    assert time.monotonic() - started < 2.5     # SIGTERM was enough: no wait for SIGKILL
    sleeper.wait(timeout=5)
    assert sleeper.returncode == -15
    assert f"process {sleeper.pid} (sleep server)" in removed
    assert not made.path.exists()


def test_cleanup_spares_a_process_whose_start_time_differs(state_dir, system, sleeper):
    made = Manifest.create("hnab", "r")
    made.processes.append({"pid": sleeper.pid, "start": process_start_time(sleeper.pid) - 1,
                           "what": "recycled pid"})
    made.processes.append({"pid": sleeper.pid, "start": None, "what": "never started"})
    made.save()
    removed = cleanup(made)
    assert sleeper.poll() is None and _alive(sleeper.pid)
    assert not any("process" in line for line in removed)


def test_cleanup_removes_only_recorded_bridges_that_exist(state_dir, system):
    made = Manifest.create("hnab", "r")
    made.add_bridges(["hnabs1", "hnabs2"])
    made.add_interfaces(["hn-no-such-if0"])
    removed = cleanup(made)
    assert system == [["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", "hnabs1"]]
    assert removed == ["bridge hnabs1"]
    assert not any("somebody-else" in " ".join(cmd) for cmd in system)


def test_cleanup_twice_is_safe(state_dir, system, sleeper):
    made = Manifest.create("hnab", "r")
    made.add_process(sleeper.pid, "sleep")
    cleanup(made)
    sleeper.wait(timeout=5)
    assert cleanup(made) == []
    assert list_manifests() == []


def _in_own_netns():
    """`sleep 301` alone in a new network namespace, with an unrecorded `sleep 300` beside it."""
    process = subprocess.Popen(["unshare", "--net", "--", "sh", "-c",
                                "sleep 300 & echo $!; exec sleep 301"],
                               stdout=subprocess.PIPE, text=True)
    stray = int(process.stdout.readline())
    reaper = threading.Thread(target=process.wait, daemon=True)
    reaper.start()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[0] != b"sleep":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return process, stray


def _running(pid: int) -> bool:
    """Alive and not a zombie (the stray's parent, an exec'd sleep, never reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="making a network namespace (unshare --net) needs root")


@needs_root
def test_cleanup_stops_unrecorded_processes_in_a_recorded_processes_namespace(state_dir, system):
    process, stray = _in_own_netns()
    made = Manifest.create("hnab", "r")
    made.add_process(process.pid, "shell of a host")
    removed = cleanup(made)
    assert f"process {stray} (unrecorded process in a host's namespace)" in removed
    assert not _running(stray) and process.wait(timeout=5) is not None


@needs_root
def test_stop_strays_spares_the_given_processes_and_the_root_namespace(state_dir, sleeper):
    process, stray = _in_own_netns()
    try:
        removed = manifest_module.stop_strays([process.pid, sleeper.pid])
        assert removed == [f"process {stray} (unrecorded process in a host's namespace)"]
        assert not _running(stray)
        assert process.poll() is None and sleeper.poll() is None   # root namespace untouched
    finally:
        process.kill()


def test_cleanup_does_not_wait_out_a_child_that_exited_and_is_not_yet_reaped(state_dir, system):
    """A run's own children (its controller, its servers) turn into zombies on SIGTERM until
    their Popen waits for them, later: cleanup must not take the zombie for a survivor."""
    child = subprocess.Popen(["sleep", "60"])
    try:
        made = Manifest.create("hnac", "r")
        made.add_process(child.pid, "unreaped child")
        started = time.monotonic()
        cleanup(made)
        assert time.monotonic() - started < 2.5
        assert child.wait(timeout=5) == -15     # SIGTERM, not the SIGKILL after the deadline
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
