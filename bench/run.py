"""Run every benchmark in bench/ and print their figures together (`make bench`).

    sudo .venv/bin/python bench/run.py [--quick] [--only NAME] [--list]

A benchmark is a file bench/bench_*.py that prints one `figure:` line (bench/figure.py) per
figure: the figure, its baseline measured in the same run, and the ratio. It may declare, at
its top level:

    EMULATION = True              it builds emulated networks: run under the emulation lock
    QUICK_ARGS = ("--quick",)     arguments for a shorter run (--quick)

Benchmarks that build emulated networks run one at a time under `flock LOCK` (only one
emulation at a time on the machine); each run is bounded by --timeout-s. A benchmark fails if
it exits non-zero, runs out of time or prints no figure; the runner then exits 1.
"""

from __future__ import annotations

import argparse
import ast
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import figure as figure_module  # noqa: E402

LOCK = "/tmp/hermitnet-emulation.lock"


@dataclass(frozen=True)
class Benchmark:
    path: Path
    emulation: bool = False
    quick_args: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem.removeprefix("bench_")


def declared(path: Path) -> Benchmark:
    """A benchmark's declarations (EMULATION, QUICK_ARGS), read without importing it."""
    values = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("EMULATION", "QUICK_ARGS"):
                values[target.id] = ast.literal_eval(node.value)
    return Benchmark(path, bool(values.get("EMULATION", False)),
                     tuple(str(a) for a in values.get("QUICK_ARGS", ())))


def discover(folder: Path = HERE) -> list[Benchmark]:
    return [declared(path) for path in sorted(folder.glob("bench_*.py"))]


def command(bench: Benchmark, quick: bool, lock: str = LOCK) -> list[str]:
    argv = [sys.executable, str(bench.path), *(bench.quick_args if quick else ())]
    return ["flock", lock, *argv] if bench.emulation else argv


def run_one(argv: list[str], timeout_s: float, cwd: Path) -> tuple[int | None, str, float]:
    """Run, echoing its output as it comes; (exit code or None on timeout, output, seconds)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(cwd), os.environ.get("PYTHONPATH", "")) if p)}
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        os.killpg(process.pid, signal.SIGINT)   # a session's teardown runs on Ctrl-C
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout_s, stop)
    timer.start()
    lines = []
    try:
        for line in process.stdout:
            print(f"  {line}", end="", flush=True)
            lines.append(line)
        process.wait()
    finally:
        timer.cancel()
    code = None if timed_out.is_set() else process.returncode
    return code, "".join(lines), time.monotonic() - started


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="each benchmark's shorter run (its QUICK_ARGS)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only benchmarks whose name contains NAME (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--timeout-s", type=float, default=1800,
                        help="stop a benchmark after this many seconds (default 1800)")
    parser.add_argument("--lock", default=LOCK, help=f"the emulation lock file (default {LOCK})")
    args = parser.parse_args()
    benches = [b for b in discover()
               if not args.only or any(word in b.name for word in args.only)]
    if args.list or not benches:
        for bench in benches:
            print(f"{bench.name:20} {'emulation, under the lock' if bench.emulation else ''}")
        if not benches:
            print(f"bench/run.py: no benchmark matches {args.only}", file=sys.stderr)
            return 2
        return 0
    print(f"machine: {os.cpu_count()} CPUs, load average {load_average()}")
    outcomes = []
    for bench in benches:
        argv = command(bench, args.quick, args.lock)
        print(f"== {bench.name}: {' '.join(argv)}", flush=True)
        code, output, elapsed_s = run_one(argv, args.timeout_s, HERE.parent)
        figures = figure_module.parse(output)
        if code is None:
            status = f"stopped after {args.timeout_s:g} s"
        elif code != 0:
            status = f"failed (exit {code})"
        elif not figures:
            status = "failed (printed no figure line)"
        else:
            status = "ok"
        outcomes.append((bench, status, figures, elapsed_s, load_average()))
    print("\n== summary (figure | same-run baseline | ratio)")
    for bench, status, figures, elapsed_s, load in outcomes:
        print(f"{bench.name}: {status}, {elapsed_s:.0f} s, load average after {load}")
        for measured in figures:
            print(f"  {measured.line().removeprefix(figure_module.PREFIX)}")
    return 0 if all(status == "ok" for _, status, _, _, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
