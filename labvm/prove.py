"""The lab-VM proof as stages: host packages, image, boot, network, copy, setup, baseline.

Each stage is timed; `run(until=STAGE)` stops after any of them, so the early stages can be
run and debugged before the later ones work. `run_bench()` runs the same stages up to setup,
then the stage `bench` in place of baseline: the delay-line accuracy benchmark once with netem
and once with the userspace delay line (not part of the proof: it takes long under emulation).
The VM is powered off and its files removed on every way out (see LabVM).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from labvm import LOG_PREFIX
from labvm.hostdeps import ensure_host_packages
from labvm.image import ensure_image
from labvm.vm import GUEST_REPO, LabVM, VMError

STAGES = ("image", "boot", "network", "copy", "setup", "baseline")
BENCH_STAGES = (*STAGES[:-1], "bench")
BENCH_DELAY_LINES = ("netem", "userspace")   # the benchmark's --delay-line, in this order
GUEST_OUT = "/root/labvm-results"
GUEST_BENCH_OUT = "/root/labvm-bench"
SCENARIO = "scenarios/baseline.yaml"
# A measured minimum RTT must reach this share of the configured delay to count as "visible".
RTT_TOLERANCE = 0.9

# Per-stage limits (seconds), inside the test's overall timeout.
TIMEOUTS = {"boot": 600, "network": 420, "copy": 300, "setup": 2400, "baseline": 1200,
            "bench": 1800}  # bench: for each delay line


class ProofError(RuntimeError):
    """A stage failed; the message names the stage and what was seen."""


@dataclass
class Report:
    out_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    results: dict | None = None
    problems: list[str] = field(default_factory=list)
    bench: dict[str, str] = field(default_factory=dict)   # delay line -> the benchmark's output

    def summary(self) -> str:
        lines = [f"{stage:>10}: {secs:7.1f} s" for stage, secs in self.timings.items()]
        lines.append(f"{'total':>10}: {sum(self.timings.values()):7.1f} s")
        return "\n".join(lines)


def _log(msg: str) -> None:
    print(f"{LOG_PREFIX} {msg}", file=sys.stderr, flush=True)


@contextmanager
def _stage(report: Report, name: str) -> Iterator[None]:
    _log(f"stage {name}: start")
    started = time.monotonic()
    try:
        yield
    finally:
        report.timings[name] = round(time.monotonic() - started, 1)
        _log(f"stage {name}: {report.timings[name]:.1f} s")
        (report.out_dir / "timings.json").write_text(json.dumps(report.timings, indent=1) + "\n")


def repo_files(repo: Path) -> list[str]:
    """Tracked files plus untracked, not ignored ones (the working tree as a user sees it)."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.decode()
    files = sorted({f for f in out.split("\0") if f})
    # Deleted but not yet committed files are listed by --cached; skip them.
    return [f for f in files if (repo / f).is_file() or (repo / f).is_symlink()]


def check_results(results: dict) -> list[str]:
    """What a baseline run inside the lab VM must show. Returns the problems (empty: all good).

    `configured_delay_ms` is read as the delay the scenario puts on the measured path; whether
    it counts one way or both, a working netem makes the minimum RTT at least that large.
    """
    problems: list[str] = []
    if results.get("status") != "ok":
        problems.append(f"status is {results.get('status')!r}, expected 'ok'")
    env = results.get("environment") or {}
    if env.get("datapath") != "kernel":
        problems.append(f"environment.datapath is {env.get('datapath')!r}, expected 'kernel'")
    if env.get("netem") is not True:
        problems.append(f"environment.netem is {env.get('netem')!r}, expected true")
    rtts = results.get("rtt")
    if not isinstance(rtts, list) or not rtts:
        problems.append("results has no 'rtt' list: expected [{tier, src, dst, rtt_ms_min, ...}]")
        return problems
    delayed = [r for r in rtts if isinstance(r, dict) and (r.get("configured_delay_ms") or 0) > 0]
    if not delayed:
        problems.append("no rtt entry has configured_delay_ms > 0: nothing shows a delay")
    for entry in delayed:
        measured = entry.get("rtt_ms_min")
        want = entry["configured_delay_ms"]
        where = f"{entry.get('tier')} {entry.get('src')} -> {entry.get('dst')}"
        if not isinstance(measured, (int, float)):
            problems.append(f"rtt {where}: rtt_ms_min is {measured!r}, expected a number")
        elif measured < RTT_TOLERANCE * want:
            problems.append(
                f"rtt {where}: measured minimum {measured} ms < {RTT_TOLERANCE:.0%} of the "
                f"configured {want} ms: the delay is not emulated"
            )
    return problems


NETWORK_HELP = (
    "The guest uses QEMU user networking (no proxy, no DNS settings), the host's apt sources "
    "and apt.conf.d Acquire/proxy settings, and trusts the host's CA certificates from "
    "/usr/local/share/ca-certificates/ (copied into the image). Check that the host itself "
    "reaches the same registries, and rebuild the image (python3 -m labvm image --rebuild) "
    "after the host's CA certificates or apt settings change."
)


def _check_network(vm: LabVM, out: Path) -> None:
    code, text = vm.run("apt-get update -q", TIMEOUTS["network"] / 2, log=out / "network.log")
    failed = [ln for ln in text.splitlines() if ln.startswith(("Err:", "E:", "W: Failed"))]
    if code != 0 or failed:
        raise ProofError(
            "stage network: apt-get update failed inside the VM:\n"
            + "\n".join(failed[-10:] or text.splitlines()[-10:]) + "\n" + NETWORK_HELP
        )
    # pip's default index over HTTPS, with the guest's CA store: the package the project
    # needs first (PyYAML). Naming no index URL keeps this the same check pip makes later.
    code, text = vm.run(
        "python3 -m pip --disable-pip-version-check index versions --retries 2 --timeout 30 PyYAML",
        TIMEOUTS["network"] / 2, log=out / "network.log",
    )
    if code != 0 or "PyYAML" not in text:
        hint = ""
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text:
            hint = "HTTPS is re-signed on this network and the guest does not trust the CA. "
        raise ProofError(
            "stage network: pip cannot read its HTTPS index inside the VM:\n"
            + "\n".join(text.splitlines()[-8:]) + "\n" + hint + NETWORK_HELP
        )


def _check_kernel(vm: LabVM) -> None:
    """The point of the VM: a kernel with the openvswitch module and netem."""
    vm.check(
        "modprobe openvswitch && modprobe sch_netem && uname -r",
        120, "loading the openvswitch and sch_netem kernel modules",
    )


def run(until: str = "baseline", out_dir: Path | None = None, repo: Path | None = None,
        rebuild: bool = False) -> Report:
    """Run the stages up to and including `until`. Raises ProofError/VMError on failure."""
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, not {until!r}")
    return _run_stages(STAGES[: STAGES.index(until) + 1], out_dir, repo, rebuild)


def run_bench(out_dir: Path | None = None, repo: Path | None = None, rebuild: bool = False,
              quick: bool = False) -> Report:
    """image ... setup, then the delay-line benchmark with netem and with the userspace delay
    line; each one's output is in `report.bench`, its JSON in the output folder."""
    return _run_stages(BENCH_STAGES, out_dir, repo, rebuild, quick=quick)


def bench_command(delay_line: str, quick: bool = False) -> str:
    """The guest command of the bench stage for one delay line (its JSON goes to
    GUEST_BENCH_OUT/<delay line>.json)."""
    if delay_line not in BENCH_DELAY_LINES:
        raise ValueError(f"delay_line must be one of {BENCH_DELAY_LINES}, not {delay_line!r}")
    quick_arg = " --quick" if quick else ""
    return (f"cd {GUEST_REPO} && mkdir -p {GUEST_BENCH_OUT} && "
            f"rm -f {GUEST_BENCH_OUT}/{delay_line}.json && "
            f".venv/bin/python bench/bench_delay_line.py --delay-line {delay_line}{quick_arg} "
            f"--json {GUEST_BENCH_OUT}/{delay_line}.json")


def _run_stages(wanted: tuple[str, ...], out_dir: Path | None, repo: Path | None,
                rebuild: bool, quick: bool = False) -> Report:
    repo = (repo or Path(__file__).resolve().parent.parent).resolve()
    out = (out_dir or repo / "results" / time.strftime("labvm-%Y%m%d-%H%M%S")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out_dir=out)
    _log(f"stages: {', '.join(wanted)}; logs and results in {out}")

    with _stage(report, "host-deps"):
        ensure_host_packages()
    with _stage(report, "image"):
        image = ensure_image(rebuild=rebuild)
    if "boot" not in wanted:
        return report

    vm = LabVM(image, boot_timeout=TIMEOUTS["boot"], log_dir=out)
    try:
        with _stage(report, "boot"):
            vm.start()
            _check_kernel(vm)
        if "network" in wanted:
            with _stage(report, "network"):
                _check_network(vm, out)
        if "copy" in wanted:
            with _stage(report, "copy"):
                files = repo_files(repo)
                vm.copy_in(repo, files, GUEST_REPO, timeout=TIMEOUTS["copy"])
                _log(f"copied {len(files)} files to {GUEST_REPO}")
        if "setup" in wanted:
            with _stage(report, "setup"):
                vm.check(f"cd {GUEST_REPO} && make setup", TIMEOUTS["setup"], "make setup",
                         log=out / "setup.log")
        if "baseline" in wanted:
            with _stage(report, "baseline"):
                _run_baseline(vm, out, report)
        if "bench" in wanted:
            for delay_line in BENCH_DELAY_LINES:
                with _stage(report, f"bench-{delay_line}"):
                    _run_bench(vm, out, report, delay_line, quick)
    finally:
        with _stage(report, "poweroff"):
            vm.stop()
    _log("timings:\n" + report.summary())
    return report


def _run_bench(vm: LabVM, out: Path, report: Report, delay_line: str, quick: bool) -> None:
    """One benchmark run in the guest; a failure is a problem of the report, and the other
    delay line still runs."""
    code, text = vm.run(bench_command(delay_line, quick), TIMEOUTS["bench"],
                        log=out / f"bench-{delay_line}.log")
    report.bench[delay_line] = text
    if code != 0:
        report.problems.append(f"bench --delay-line {delay_line} exited {code} "
                               f"(see {out / f'bench-{delay_line}.log'})")
        return
    (out / f"bench-{delay_line}.json").write_bytes(
        vm.fetch(f"{GUEST_BENCH_OUT}/{delay_line}.json"))


def _run_baseline(vm: LabVM, out: Path, report: Report) -> None:
    # Diagnostics first; a doctor failure is reported but does not stop the run.
    code, doctor = vm.run(f"cd {GUEST_REPO} && .venv/bin/hermitnet doctor --json", 300,
                          echo=False)
    (out / "doctor.json").write_text(doctor)
    if code != 0:
        _log(f"hermitnet doctor exited {code} (see {out / 'doctor.json'})")
    vm.check(
        f"cd {GUEST_REPO} && rm -rf {GUEST_OUT} && "
        f".venv/bin/hermitnet run {SCENARIO} --out {GUEST_OUT}",
        TIMEOUTS["baseline"], "hermitnet run (baseline)", log=out / "baseline.log",
    )
    raw = vm.fetch(f"{GUEST_OUT}/results.json")
    (out / "results.json").write_bytes(raw)
    try:
        report.results = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProofError(f"stage baseline: results.json from the VM is not JSON: {exc}") from exc
    report.problems = check_results(report.results)


__all__ = ["BENCH_STAGES", "STAGES", "ProofError", "Report", "VMError", "bench_command",
           "check_results", "repo_files", "run", "run_bench"]
