"""Check a scenario file with the same loader `run` uses, and compile its policy; no root needed."""

from __future__ import annotations

from hermitnet import plan, scenario
from hermitnet.policy.compile import compile_policy
from hermitnet.policy.state import PolicyState


def add_arguments(parser) -> None:
    parser.add_argument("scenario", nargs="+", help="scenario YAML file(s)")


def run(args) -> int:
    for path in args.scenario:
        loaded = scenario.load(path)
        layout = plan.build(loaded)
        compiled = compile_policy(layout, PolicyState.from_scenario(loaded))
        print(f"{path}: ok ({len(loaded.subscribers)} subscribers, {len(loaded.sites)} sites, "
              f"{len(layout.switches)} switches, {len(compiled.rules)} rules)")
    return 0
