"""Sweep one scenario parameter and count the phones that still reach a foreign cell.

--set KEY=V1,V2,... overrides a dotted path of the scenario for each value in turn:
  radio.jammers.power_dbm=30,40,50        every jammer (a plain segment applies to all entries)
  radio.jammers.0.power_dbm=30,40,50      only the first jammer
  radio.jammers.count=0,1,2,3             keep the first N jammers
  radio.jammers.duty_cycle.on_fraction=0.25,0.5,1
For each value the radio model evaluates PHONES sampled phones, time-averaged over the jammer
schedules in [0, DURATION_S); the results go to DIR/sweep.csv and DIR/sweep.png (no root).

With --emulate (root), each value is also run on the emulated network (hermitnet run, results
in DIR/run-N/): the emulated phones' share of time on foreign cells and the bytes that leaked
through foreign cells, counted at the global sites, are added to each row and to the plot.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from hermitnet.errors import HermitError
from hermitnet.radio.scenario_file import read_scenario
from hermitnet.radio.sweep import parse_assignment, radio_columns, sweep
from hermitnet.radio.sweepplot import plot_sweep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="scenario YAML file with a radio section")
    parser.add_argument(
        "--set",
        dest="assignment",
        required=True,
        metavar="KEY=V1,V2,...",
        help="dotted scenario path and the values to sweep",
    )
    parser.add_argument("--out", help="output directory (default results/<scenario>-sweep)")
    parser.add_argument(
        "--phones", type=int, default=300_000, help="phones sampled per value (default 300000)"
    )
    parser.add_argument("--seed", type=int, help="seed for sampling (default: the scenario's)")
    parser.add_argument(
        "--duration-s",
        type=float,
        default=60.0,
        help="time span whose jammer schedules are averaged (default 60)",
    )
    parser.add_argument(
        "--emulate",
        action="store_true",
        help="also run each value on the emulated network (root) and measure leaked traffic",
    )


def run(args: argparse.Namespace) -> int:
    scenario_path = Path(args.scenario)
    document = read_scenario(scenario_path)
    assignment = parse_assignment(args.assignment)
    out_dir = Path(args.out or Path("results") / f"{scenario_path.stem}-sweep")
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = [radio_columns(args.phones, args.seed, args.duration_s)]
    if args.emulate:
        columns.append(emulated_columns(out_dir))
    rows = sweep(document, str(scenario_path), assignment, columns)
    csv_path, png_path = out_dir / "sweep.csv", out_dir / "sweep.png"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_sweep(
        rows,
        assignment.key,
        png_path,
        title=f"{scenario_path.name}: {args.phones:,} phones per value",
    )
    print(f"sweep of {assignment.key} over {scenario_path} ({args.phones:,} phones per value)")
    columns = list(rows[0])
    print("  " + "  ".join(f"{c:>14.14}" for c in columns))
    for row in rows:
        print("  " + "  ".join(f"{_cell(row[c]):>14}" for c in columns))
    print(f"wrote {csv_path}, {png_path}")
    return 0


def emulated_columns(out_dir: Path):
    """Run one overridden scenario on the emulated network; its leakage becomes sweep columns."""
    from hermitnet import runner, scenario

    runs = iter(range(10**6))

    def columns(document: dict, source: str) -> dict:
        loaded = scenario.from_dict(document, source=source)
        if not loaded.timeline_s or not loaded.timeline_traffic:
            raise HermitError("--emulate needs a timeline with traffic to count leakage",
                              source=source, field="measure.timeline")
        run_dir = out_dir / f"run-{next(runs)}"
        print(f"* emulating {run_dir} ...", flush=True)
        _, results = runner.run(loaded, run_dir, progress=lambda message: None)
        timeline = results["radio"]["timeline"]
        on_foreign = [row["attached"]["foreign"] / max(1, sum(row["attached"].values()))
                      for row in timeline[:-1]]
        return {
            "emulated_foreign_share": sum(on_foreign) / len(on_foreign) if on_foreign else None,
            "leaked_bytes_foreign_cell": results["leakage"]["by_path"]["foreign-cell"],
            "run_dir": str(run_dir),
        }

    return columns


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
