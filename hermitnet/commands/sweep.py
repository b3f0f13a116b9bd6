"""Sweep one or two scenario parameters and count the phones that still reach a foreign cell.

--set KEY=V1,V2,... overrides a dotted path of the scenario (merged with the files it extends)
for each value in turn; a second --set makes a grid (every combination). Each overridden
scenario is checked like any scenario file before the first point runs:
  radio.jammers.power_dbm=30,40,50        every jammer (a plain segment applies to all entries)
  radio.jammers[0].power_dbm=30,40,50     only the first jammer (also radio.jammers.0.power_dbm)
  radio.jammers.count=0,1,2,3             keep the first N jammers
  radio.jammers.duty_cycle.on_fraction=0.25,0.5,1
For each point the radio model evaluates PHONES sampled phones, time-averaged over the jammer
schedules in [0, DURATION_S); the results go to DIR/sweep.csv and DIR/sweep.png (no root).

With --emulate (root), each point is also run on the emulated network (hermitnet run, results
in DIR/run-N/): the emulated phones' share of time on foreign cells and the bytes that leaked
through foreign cells, counted at the global sites, are added to each row and to the plot.

Progress (points done, time left) is printed as each point finishes, and each finished point
is recorded in DIR/points.jsonl. After an interruption, `hermitnet sweep --resume DIR` runs
only the points not finished yet, with the scenario and settings the sweep started with
(DIR/sweep-spec.json); given again, they must be the same.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hermitnet import shipped, sweep
from hermitnet.commands.argtypes import (
    non_negative_int,
    positive_float,
    positive_int,
    writing,
)
from hermitnet.errors import HermitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?",
                        help="scenario YAML file with a radio section, or a shipped scenario's "
                             "name (with --resume: the sweep's own, unless given)")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        metavar="KEY=V1,V2,...",
        help="dotted scenario path and the values to sweep; twice for a grid of two",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", help="output directory (default results/<scenario>-sweep)")
    where.add_argument("--resume", metavar="DIR",
                       help="continue the interrupted sweep in DIR: only unfinished points run")
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
    if args.resume:
        _from_spec(args)
    if not args.scenario or not args.assignments:
        raise HermitError("expected a scenario and --set KEY=V1,V2,... (or --resume DIR)",
                          field="--set" if args.scenario else "scenario")
    scenario_path = shipped.scenario_path(args.scenario)
    assignments = [sweep.parse_assignment(text) for text in args.assignments]
    keys = [a.key for a in assignments]
    sweep.grid(assignments)   # one or two keys, each once: refused before anything is written
    out_dir = Path(args.resume or args.out or Path("results") / f"{scenario_path.stem}-sweep")
    with writing("--out"):
        out_dir.mkdir(parents=True, exist_ok=True)
    rows = sweep.run(
        scenario_path,
        assignments,
        n_phones=args.phones,
        seed=args.seed,
        duration_s=args.duration_s,
        out_dir=out_dir,
        emulate=args.emulate,
        resume=bool(args.resume),
        progress=_progress,
    )
    title = f"{scenario_path.name}: {args.phones:,} phones per point"
    with writing("--out"):
        csv_path, png_path = sweep.write(rows, keys, out_dir, title=title)
    print(f"sweep of {' x '.join(keys)} over {scenario_path} ({len(rows)} points, "
          f"{args.phones:,} phones per point)")
    for line in table_lines(rows):
        print("  " + line)
    print(f"wrote {csv_path}, {png_path}")
    return 0


def _from_spec(args: argparse.Namespace) -> None:
    """Fill what --resume DIR leaves out from the sweep's spec (DIR/sweep-spec.json)."""
    spec_path = Path(args.resume) / sweep.SPEC_FILE
    try:
        spec = json.loads(spec_path.read_text())
    except (OSError, ValueError) as error:
        raise HermitError(f"no sweep to resume: cannot read {spec_path} ({error})",
                          field="--resume") from error
    args.scenario = args.scenario or spec["scenario"]
    args.assignments = args.assignments or spec["set"]
    for name, default in (("phones", 300_000), ("seed", None), ("duration_s", 60.0),
                          ("emulate", False)):
        if getattr(args, name) == default:
            setattr(args, name, spec[name])


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
