"""Run a scenario on the emulated network and write its results (needs root).

Builds the network, starts the controller and the servers, measures reachability (every
subscriber x every site), throughput and round-trip times, counts leakage, writes
results.json, CSV files and report.html, prints a summary, and removes everything it created.
"""

from __future__ import annotations

from pathlib import Path

from hermitnet import report, runner, scenario


def add_arguments(parser) -> None:
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--out", type=Path,
                        help="results folder (default: results/<name>-<time>-<id>)")


def run(args) -> int:
    loaded = scenario.load(args.scenario)
    run_dir, results = runner.run(loaded, args.out, progress=lambda m: print(f"* {m}", flush=True))
    print()
    print(report.summary(results))
    print(f"\nresults: {run_dir}/results.json\nreport:  {run_dir / 'report.html'}")
    return 0
