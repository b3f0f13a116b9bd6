"""The install path and the baseline on a real lab VM: kernel Open vSwitch, netem, real delay.

This machine kind lacks the openvswitch module and netem, so the proof boots a Debian 12 VM
under QEMU (software emulation), runs `make setup` and the baseline scenario in it, and checks
its results.json (harness: labvm/, also runnable by hand: `python3 -m labvm run`).

The quick tests below check the harness's pure parts without root or QEMU.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # labvm/ is a tool of the checkout, not part of the package
    sys.path.insert(0, str(REPO))

from labvm import image as labimage  # noqa: E402
from labvm import prove  # noqa: E402
from labvm.hostdeps import HostDepsError, ensure_host_packages  # noqa: E402
from labvm.vm import remove_stale_runs  # noqa: E402

GOOD = {
    "status": "ok",
    "environment": {"datapath": "kernel", "netem": True},
    "rtt": [
        {"tier": "citizen", "src": "ue1", "dst": "news", "rtt_ms_min": 42.6,
         "rtt_ms_avg": 44.0, "configured_delay_ms": 40},
        {"tier": "elite", "src": "ue2", "dst": "lan", "rtt_ms_min": 0.1,
         "rtt_ms_avg": 0.2, "configured_delay_ms": 0},
    ],
}


# --- the harness's pure parts (no root, no VM) -----------------------------------------------


def test_check_results_accepts_kernel_netem_and_visible_delay() -> None:
    assert prove.check_results(GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"environment": {"datapath": "userspace", "netem": True}}, "datapath"),
        ({"environment": {"datapath": "kernel", "netem": False}}, "netem"),
        ({"status": "failed"}, "status"),
        ({"rtt": []}, "'rtt'"),
        ({"rtt": [{"tier": "citizen", "src": "a", "dst": "b", "rtt_ms_min": 0.2,
                   "configured_delay_ms": 40}]}, "not emulated"),
        ({"rtt": [{"tier": "citizen", "src": "a", "dst": "b", "rtt_ms_min": 0.2,
                   "configured_delay_ms": 0}]}, "configured_delay_ms > 0"),
    ],
)
def test_check_results_names_each_problem(change: dict, expected: str) -> None:
    problems = prove.check_results({**GOOD, **change})
    assert problems and any(expected in p for p in problems), problems


def test_host_apt_sources_reads_debian_entries_only(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb http://mirror.example/debian bookworm main contrib\n"
        "deb-src http://mirror.example/debian bookworm main\n"
        "deb [signed-by=/usr/share/keyrings/other.gpg] http://third.example/apt stable main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://vendor.example/apt\nSuites: bookworm\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/vendor.gpg\n"
    )
    (tmp_path / "sources.list.d" / "old.list.disabled").write_text(
        "deb http://gone.example/debian bookworm main\n"
    )
    assert labimage.host_apt_sources(tmp_path) == [
        "deb http://mirror.example/debian bookworm main contrib",
        "deb http://mirror.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm-updates main",
    ]


def test_host_apt_conf_files_skip_hooks_and_keep_acquire(tmp_path: Path) -> None:
    conf = tmp_path / "apt.conf.d"
    conf.mkdir()
    (conf / "01proxy").write_text('Acquire::http::Proxy "http://127.0.0.1:3142";\n')
    (conf / "20hook").write_text('DPkg::Post-Invoke { "/usr/bin/true"; };\n')
    (conf / "30other").write_text('APT::Install-Recommends "false";\n')
    assert [p.name for p in labimage.host_apt_conf_files(tmp_path)] == ["01proxy"]


def test_recipe_key_follows_content() -> None:
    base = labimage.Recipe(suite="bookworm", mirrors=("deb http://m/debian bookworm main",),
                           apt_conf=(), ca_certs=())
    same = labimage.Recipe(suite="bookworm", mirrors=("deb http://m/debian bookworm main",),
                           apt_conf=(), ca_certs=())
    other_ca = labimage.Recipe(suite="bookworm", mirrors=base.mirrors, apt_conf=(),
                               ca_certs=(("local.crt", "-----BEGIN CERTIFICATE-----"),))
    assert base.key == same.key
    assert base.key != other_ca.key


def test_repo_files_lists_tracked_and_untracked_not_ignored(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(".venv/\n")
    (tmp_path / "tracked.txt").write_text("a")
    (tmp_path / "gone.txt").write_text("b")
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "new.txt").write_text("c")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x").write_text("d")
    assert prove.repo_files(tmp_path) == [".gitignore", "new.txt", "tracked.txt"]


def test_stale_run_folders_of_dead_harnesses_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"{dead.pid}-1").mkdir()
    (tmp_path / f"{os.getpid()}-1").mkdir()
    remove_stale_runs(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"{os.getpid()}-1"]


# --- the proof on a real VM ----------------------------------------------------------------


@pytest.mark.vm
@pytest.mark.slow
@pytest.mark.timeout(2700)
def test_baseline_in_lab_vm_uses_kernel_datapath_and_netem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip(f"the lab VM needs an x86_64 Linux host (this is {sys.platform} "
                    f"{platform.machine()})")
    if os.geteuid() != 0:
        pytest.skip("the lab VM needs root (mmdebstrap --mode=root, chroot, mkfs of the image)")
    try:
        ensure_host_packages()
    except HostDepsError as exc:
        pytest.skip(f"cannot run the lab VM: {exc}")

    out = tmp_path / "labvm"
    try:
        # The stages take about 20 minutes: their lines reach the terminal as they happen.
        with capsys.disabled():
            report = prove.run(until="baseline", out_dir=out, repo=REPO)
    finally:
        with capsys.disabled():
            timings = (out / "timings.json").read_text() if (out / "timings.json").exists() else ""
            print(f"\nlab VM stage wall times (s), logs in {out}:\n{timings}")

    results = report.results
    assert results is not None, "the baseline stage produced no results.json"
    env = results.get("environment", {})
    assert env.get("datapath") == "kernel", f"datapath {env.get('datapath')!r} in the lab VM"
    assert env.get("netem") is True, f"netem {env.get('netem')!r} in the lab VM"
    assert not report.problems, "lab VM results:\n" + "\n".join(report.problems)
