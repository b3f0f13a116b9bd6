"""List the scenarios shipped in scenarios/ with their descriptions.

A file that does not load is listed with its error; the exit code is then 1.
"""

from __future__ import annotations

from pathlib import Path

from hermitnet import scenario
from hermitnet.errors import HermitError

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def add_arguments(parser) -> None:
    parser.add_argument("--dir", type=Path, default=SCENARIO_DIR, help="folder to list")


def run(args) -> int:
    broken = 0
    for path in sorted(args.dir.glob("*.yaml")):
        try:
            loaded = scenario.load(path)
        except HermitError as error:
            broken += 1
            print(f"{path}\n    (invalid: {error})")
            continue
        first = loaded.description.split(". ")[0] if loaded.description else ""
        print(f"{path}\n    {first}")
    return 1 if broken else 0
