"""List the scenarios shipped in scenarios/ with their descriptions."""

from __future__ import annotations

from pathlib import Path

from hermitnet import scenario

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def add_arguments(parser) -> None:
    parser.add_argument("--dir", type=Path, default=SCENARIO_DIR, help="folder to list")


def run(args) -> int:
    for path in sorted(args.dir.glob("*.yaml")):
        loaded = scenario.load(path)
        first = loaded.description.split(". ")[0] if loaded.description else ""
        print(f"{path}\n    {first}")
    return 0
