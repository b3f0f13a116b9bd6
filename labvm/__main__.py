"""python3 -m labvm: build, boot and prove the lab VM (run as root).

  python3 -m labvm run                  all stages: image, boot, network, copy, setup, baseline
  python3 -m labvm run --until setup    stop after a stage (image|boot|network|copy|setup)
  python3 -m labvm bench [--quick]      image ... setup, then bench/bench_delay_line.py in the VM
                                        with netem and with the userspace delay line
  python3 -m labvm image [--rebuild]    build or reuse the cached image, print its folder
  python3 -m labvm shell                boot a throwaway VM, print the ssh command, Ctrl-C ends it
  python3 -m labvm deps                 install the host packages the harness needs
  python3 -m labvm clean                remove the cached images
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from pathlib import Path

from labvm import LOG_PREFIX
from labvm.hostdeps import HostDepsError, ensure_host_packages
from labvm.image import ImageError, cache_root, clean_cache, ensure_image
from labvm.prove import BENCH_DELAY_LINES, STAGES, ProofError, Report, run, run_bench
from labvm.vm import LabVM, VMError


def _on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
    # Turn SIGTERM (and SIGHUP) into the same orderly path as Ctrl-C: the VM is powered off.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m labvm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_run = sub.add_parser("run", help="run the stages of the proof")
    p_run.add_argument("--until", choices=STAGES, default="baseline")
    p_run.add_argument("--out", type=Path, help="folder for logs and results.json")
    p_run.add_argument("--rebuild", action="store_true", help="rebuild the image first")
    p_bench = sub.add_parser("bench", help="the delay-line benchmark in the VM: netem, userspace")
    p_bench.add_argument("--quick", action="store_true", help="the benchmark's --quick")
    p_bench.add_argument("--out", type=Path, help="folder for logs and the benchmark's JSON")
    p_bench.add_argument("--rebuild", action="store_true", help="rebuild the image first")
    p_image = sub.add_parser("image", help="build or reuse the cached image")
    p_image.add_argument("--rebuild", action="store_true")
    sub.add_parser("shell", help="boot a VM for a look around; Ctrl-C powers it off")
    sub.add_parser("deps", help="install missing host packages")
    sub.add_parser("clean", help="remove cached images")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)
    try:
        if args.cmd == "deps":
            ensure_host_packages()
        elif args.cmd == "image":
            ensure_host_packages()
            print(ensure_image(rebuild=args.rebuild).root)
        elif args.cmd == "clean":
            for path in clean_cache():
                print(f"removed {path}")
        elif args.cmd == "shell":
            ensure_host_packages()
            with LabVM(ensure_image()) as vm:
                print(shlex.join(vm.ssh_base()), flush=True)
                print(f"{LOG_PREFIX} VM is up; Ctrl-C powers it off", file=sys.stderr, flush=True)
                while vm.proc is not None and vm.proc.poll() is None:
                    time.sleep(1)
        elif args.cmd == "bench":
            return _print_bench(run_bench(out_dir=args.out, rebuild=args.rebuild,
                                          quick=args.quick))
        else:
            report = run(until=args.until, out_dir=args.out, rebuild=args.rebuild)
            if report.results is not None:
                env = report.results.get("environment", {})
                print(json.dumps({"environment": env, "rtt": report.results.get("rtt")},
                                 indent=1))
            if report.problems:
                print(f"{LOG_PREFIX} FAILED checks:", *report.problems, sep="\n  ",
                      file=sys.stderr)
                return 1
            print(f"{LOG_PREFIX} OK ({args.until}); output in {report.out_dir}", file=sys.stderr)
    except (HostDepsError, ImageError, VMError, ProofError) as exc:
        print(f"{LOG_PREFIX} error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{LOG_PREFIX} interrupted; VM powered off, run files removed "
              f"(cache: {cache_root()})", file=sys.stderr)
        return 130
    return 0


def _print_bench(report: Report) -> int:
    """Each delay line's benchmark output (its tables), then the problems, if any."""
    for delay_line in BENCH_DELAY_LINES:
        text = report.bench.get(delay_line)
        print(f"## --delay-line {delay_line} in the lab VM\n")
        print(text if text is not None else "(not run)\n")
    if report.problems:
        print(f"{LOG_PREFIX} FAILED:", *report.problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"{LOG_PREFIX} OK (bench); output in {report.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
