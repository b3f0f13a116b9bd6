"""List the scenarios shipped with hermitnet (or those of a folder), one line each.

Each line gives the scenario's name (a path with --dir), about how long `hermitnet run` takes
on a machine like this project's CI and on the lab VM, and the first sentence of its
description; the shipped ones end with the folder they are read from. A file that does not
load is listed with its error; the exit code is then 1. A shipped scenario can be named
instead of given as a path: `hermitnet validate baseline`, `hermitnet run border`.
"""

from __future__ import annotations

import re
from pathlib import Path

from hermitnet import scenario, shipped
from hermitnet.errors import HermitError

# What a run costs besides its clock, measured on this project's CI machine (2 cores, Open
# vSwitch userspace datapath): building the network, starting the controller and servers, the
# leakage probes, tearing down and writing the report; and what a radio section adds (the
# jamming effectiveness at population scale, attachments each step).
SETUP_S = 35.0
RADIO_S = 15.0
SWEEP_S = 4.0          # one reachability sweep not placed on the clock
PING_S = 2.0           # the RTT measured after each flow run in turn
# docs/lab-vm.md: the baseline took 164-227 s in the lab VM (QEMU) against about 52 s here.
LAB_VM_FACTOR = 4.0


def add_arguments(parser) -> None:
    parser.add_argument("--dir", type=Path,
                        help="folder to list (default: the scenarios shipped with hermitnet)")


def expected_run_s(loaded: scenario.Scenario) -> float:
    """About how long `hermitnet run` takes here: setup and teardown, the clock (the timeline,
    or the last flow placed on it), the flows run in turn after it."""
    clock_s = max([loaded.duration_s, *((f.start_s or 0) + (f.seconds or loaded.throughput_seconds)
                                       for f in loaded.flows if f.start_s is not None)])
    in_turn_s = sum((f.seconds or loaded.throughput_seconds) + PING_S
                    for f in loaded.flows if f.start_s is None)
    sweeps_s = 0.0 if loaded.reachability_at_s else SWEEP_S
    radio_s = RADIO_S if loaded.radio is not None else 0.0
    return SETUP_S + radio_s + clock_s + in_turn_s + sweeps_s


def duration_text(seconds: float) -> str:
    """`52` -> `~50 s`, `210` -> `~3.5 min`: an estimate, rounded as one."""
    if seconds < 90:
        return f"~{round(seconds / 10) * 10:.0f} s"
    return f"~{round(seconds / 30) / 2:g} min"


def _first_clause(description: str, width: int = 90) -> str:
    """The description up to its first colon, semicolon or full stop, at most `width` long."""
    clause = re.split(r"[:;]\s|\.\s|\.$", description, maxsplit=1)[0]
    return clause if len(clause) <= width else clause[:width - 3].rstrip() + "..."


def run(args) -> int:
    paths = sorted(args.dir.glob("*.yaml")) if args.dir else shipped.scenario_files()
    broken = 0
    rows = []
    for path in paths:
        name = str(path) if args.dir else path.stem
        try:
            loaded = scenario.load(path)
        except HermitError as error:
            broken += 1
            rows.append((name, "", "", f"(invalid: {error})"))
            continue
        first = _first_clause(loaded.description)
        here_s = expected_run_s(loaded)
        rows.append((name, duration_text(here_s), duration_text(here_s * LAB_VM_FACTOR), first))
    width = max([len("scenario"), *(len(row[0]) for row in rows)])
    print(f"{'scenario':<{width}}  {'here':>8}  {'lab VM':>8}  what it models")
    for name, here, lab_vm, first in rows:
        print(f"{name:<{width}}  {here:>8}  {lab_vm:>8}  {first}")
    if not args.dir and paths:
        print(f"(shipped with hermitnet, in {paths[0].parent})")
    return 1 if broken else 0
