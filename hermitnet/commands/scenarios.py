"""List the scenarios shipped with hermitnet (or those of a folder) with their descriptions.

A file that does not load is listed with its error; the exit code is then 1. A shipped scenario
can be named instead of given as a path: `hermitnet validate baseline`, `hermitnet run border`.
"""

from __future__ import annotations

from pathlib import Path

from hermitnet import scenario, shipped
from hermitnet.errors import HermitError


def add_arguments(parser) -> None:
    parser.add_argument("--dir", type=Path,
                        help="folder to list (default: the scenarios shipped with hermitnet)")


def run(args) -> int:
    paths = sorted(args.dir.glob("*.yaml")) if args.dir else shipped.scenario_files()
    broken = 0
    for path in paths:
        try:
            loaded = scenario.load(path)
        except HermitError as error:
            broken += 1
            print(f"{path}\n    (invalid: {error})")
            continue
        first = loaded.description.split(". ")[0] if loaded.description else ""
        print(f"{path}\n    {first}")
    return 1 if broken else 0
