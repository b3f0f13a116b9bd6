"""Remove what hermitnet runs left behind (namespaces, links, bridges, processes).

Only objects named in a run's manifest are touched: never other users' bridges. By default only
runs whose `hermitnet run` process is gone are cleaned; --all also stops runs still in progress.
A cleaned run that was killed while its results.json still said "running" is marked
"interrupted", with the reason.
"""

from __future__ import annotations

from hermitnet import results
from hermitnet.emulation import manifest


def add_arguments(parser) -> None:
    parser.add_argument("--all", action="store_true", help="also clean runs still in progress")


def run(args) -> int:
    manifests = manifest.list_manifests()
    cleaned = 0
    for item in manifests:
        owner_alive = item.owner_alive()
        if owner_alive and not args.all:
            print(f"{item.run_id}: still running (pid {item.owner_pid}); use --all to stop it")
            continue
        removed = manifest.cleanup(item)
        cleaned += 1
        print(f"{item.run_id}: removed {len(removed)} objects")
        for line in removed:
            print(f"  {line}")
        if not owner_alive and results.mark_killed(item.results_dir):
            print(f"  {item.results_dir}/results.json: marked interrupted "
                  f"({results.KILLED_REASON})")
    if not manifests:
        print("nothing to clean")
    return 0
