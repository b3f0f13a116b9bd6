"""Summarise a run folder: print the summary table and write report.html."""

from __future__ import annotations

from pathlib import Path

from hermitnet import report, results
from hermitnet.commands.argtypes import writing


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", type=Path, help="a results folder (holding results.json)")


def run(args) -> int:
    data = results.load(args.run_dir)
    print(report.summary(data))
    with writing("run_dir"):
        path = report.write_html(data, args.run_dir)
    print(f"\nreport: {path}")
    return 0
