"""bench/bench_delay_line.py's choice of delay line: netem is refused at once where the kernel
has none (nothing is built), and the lab VM's bench stage runs it with the options it has."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "bench_delay_line.py"
if str(REPO) not in sys.path:  # labvm/ is a tool of the checkout, not part of the package
    sys.path.insert(0, str(REPO))

from labvm import prove  # noqa: E402


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO)


def _kernel_has_netem() -> bool:
    return subprocess.run(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root",
                           "netem", "delay", "1ms"], capture_output=True).returncode == 0


def test_bench_offers_each_delay_line_the_lab_vm_asks_for() -> None:
    done = _bench("--help")
    assert done.returncode == 0, done.stderr
    assert "--delay-line {userspace,netem}" in done.stdout
    assert set(prove.BENCH_DELAY_LINES) == {"userspace", "netem"}


@pytest.mark.skipif(os.geteuid() != 0, reason="the netem probe needs root")
def test_bench_refuses_netem_on_a_kernel_without_it() -> None:
    if _kernel_has_netem():
        pytest.skip("this kernel has netem")
    done = _bench("--delay-line", "netem")
    assert done.returncode == 2
    assert "--delay-line netem: the kernel has no netem qdisc" in done.stderr
    assert "python3 -m labvm bench" in done.stderr
    assert not os.path.exists("/run/netns/dlxa"), "the refusal built a namespace"


def test_bench_stage_runs_after_setup_and_is_not_part_of_the_proof() -> None:
    assert prove.BENCH_STAGES == ("image", "boot", "network", "copy", "setup", "bench")
    assert "bench" not in prove.STAGES
    assert prove.STAGES[-1] == "baseline"


@pytest.mark.parametrize("delay_line", ["netem", "userspace"])
def test_bench_command_runs_the_benchmark_with_one_delay_line(delay_line: str) -> None:
    cmd = prove.bench_command(delay_line)
    json_path = f"{prove.GUEST_BENCH_OUT}/{delay_line}.json"
    assert cmd.startswith(f"cd {prove.GUEST_REPO} && ")
    assert (f".venv/bin/python bench/bench_delay_line.py --delay-line {delay_line} "
            f"--json {json_path}") in cmd
    assert f"rm -f {json_path}" in cmd  # a stale file from an earlier run is never fetched
    assert "--quick" not in cmd
    assert "--quick" in prove.bench_command(delay_line, quick=True)


def test_bench_command_refuses_an_unknown_delay_line() -> None:
    with pytest.raises(ValueError, match="delay_line"):
        prove.bench_command("auto")


def test_labvm_has_a_bench_command() -> None:
    done = subprocess.run([sys.executable, "-m", "labvm", "bench", "--help"], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout and "--out" in done.stdout
