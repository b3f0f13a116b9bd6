"""Check a scenario file with the same loader `run` uses, and compile its policy; no root needed.

--show prints each file as `run` sees it, with the files it extends merged in, as YAML (the
check's result goes in a comment line above it). --cluster MACHINES prints which machine would
run each switch and host, and which links would be tunnels (see docs/cluster.md).
"""

from __future__ import annotations

import yaml

from hermitnet import plan, scenario, shipped
from hermitnet.cluster import placement
from hermitnet.commands import argtypes
from hermitnet.policy.compile import compile_policy
from hermitnet.policy.state import PolicyState


def add_arguments(parser) -> None:
    parser.add_argument("scenario", nargs="+",
                        help="scenario YAML file(s), or names of shipped scenarios")
    parser.add_argument("--show", action="store_true",
                        help="print the document after merging the files it extends, as YAML")
    parser.add_argument("--cluster", type=argtypes.cluster, metavar="MACHINES",
                        help="machines to spread the run over, this one first (a,b,... or a "
                             "cluster file): print where each node would run")


def run(args) -> int:
    for number, name in enumerate(args.scenario):
        path = shipped.scenario_path(name)
        loaded = scenario.load(path)
        layout = plan.build(loaded)
        compiled = compile_policy(layout, PolicyState.from_scenario(loaded))
        if args.cluster is not None:
            placement.refuse_unsupported(loaded)
        verdict = (f"{name}: ok ({len(loaded.subscribers)} subscribers, {len(loaded.sites)} sites, "
                   f"{len(layout.switches)} switches, {len(compiled.rules)} rules)")
        if not args.show:
            print(verdict)
            if args.cluster is not None:
                print("\n".join(placement.describe(layout, placement.place(layout, args.cluster))))
            continue
        print(("---\n" if number else "") + f"# {verdict}")
        print(yaml.safe_dump(scenario.read_document(path), sort_keys=False, allow_unicode=True,
                             width=100), end="")
    return 0
