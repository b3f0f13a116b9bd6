"""Sweep one scenario parameter and count the phones that still reach a foreign cell.

--set KEY=V1,V2,... overrides a dotted path of the scenario (merged with the files it extends)
for each value in turn; each overridden scenario is checked like any scenario file:
  radio.jammers.power_dbm=30,40,50        every jammer (a plain segment applies to all entries)
  radio.jammers[0].power_dbm=30,40,50     only the first jammer (also radio.jammers.0.power_dbm)
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
from pathlib import Path

from hermitnet import sweep
from hermitnet.commands.argtypes import (
    non_negative_int,
    positive_float,
    positive_int,
    writing,
)


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
        "--phones", type=positive_int, default=300_000,
        help="phones sampled per value (default 300000)"
    )
    parser.add_argument("--seed", type=non_negative_int,
                        help="seed for sampling (default: the scenario's)")
    parser.add_argument(
        "--duration-s",
        type=positive_float,
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
    assignment = sweep.parse_assignment(args.assignment)
    out_dir = Path(args.out or Path("results") / f"{scenario_path.stem}-sweep")
    rows = sweep.run(
        scenario_path,
        assignment,
        n_phones=args.phones,
        seed=args.seed,
        duration_s=args.duration_s,
        emulate_dir=out_dir if args.emulate else None,
        progress=_progress,
    )
    title = f"{scenario_path.name}: {args.phones:,} phones per value"
    with writing("--out"):
        csv_path, png_path = sweep.write(rows, assignment.key, out_dir, title=title)
    print(f"sweep of {assignment.key} over {scenario_path} ({args.phones:,} phones per value)")
    for line in table_lines(rows):
        print("  " + line)
    print(f"wrote {csv_path}, {png_path}")
    return 0


def table_lines(rows: list[dict]) -> list[str]:
    """The rows as a right-aligned table, each column as wide as its name or widest value."""
    columns = list(rows[0])
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    return ["  ".join(f"{text:>{w}}" for text, w in zip(line, widths, strict=True))
            for line in [columns, *cells]]


def _progress(message: str) -> None:
    print(f"* {message}", flush=True)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
