"""Run a scenario on the emulated network and write its results (needs root).

Builds the network, starts the controller and the servers, measures reachability (every
subscriber x every site), leakage probes, throughput and round-trip times, replays the radio
timeline if the scenario has one, writes results.json, CSV files, a pcap of the uplink, plots and
report.html, prints a summary, and removes everything it created.

--hold keeps the network up after measuring: change the policy from another terminal
(`hermitnet policy ...`), press Enter to measure reachability again, Ctrl-C or end of input to
finish. --cli opens Mininet's command line on the running network instead. --view serves a live
view of the run (topology, link load, tiers, counters, leakage, radio) on 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hermitnet import report, runner, scenario, shipped


def add_arguments(parser) -> None:
    parser.add_argument("scenario", type=shipped.scenario_path,
                        help="scenario YAML file, or the name of a shipped scenario")
    parser.add_argument("--out", type=Path,
                        help="results folder (default: results/<name>-<time>-<id>)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--hold", action="store_true",
                      help="after measuring, keep the network up; Enter re-measures reachability")
    mode.add_argument("--cli", action="store_true",
                      help="after measuring, open Mininet's CLI on the network")
    parser.add_argument("--view", action="store_true",
                        help="serve a live view of the run at http://127.0.0.1:PORT/ (an open "
                             "port, printed at start; loopback only: no other address listens)")


def run(args) -> int:
    loaded = scenario.load(args.scenario)
    after = _hold if args.hold else _cli if args.cli else None
    watch = None
    if args.view:
        from hermitnet.view.server import serving as watch
    run_dir, results = runner.run(loaded, args.out, progress=_progress, after=after, watch=watch)
    print()
    print(report.summary(results))
    print(f"\nresults: {run_dir}/results.json\nreport:  {run_dir / 'report.html'}")
    return 0


def _progress(message: str) -> None:
    print(f"* {message}", flush=True)


def _hold(live) -> None:
    print(report.summary(live.results), flush=True)
    print(f"\nnetwork up; controller API {live.controller_api}\n"
          "change the policy from another terminal (hermitnet policy ...); press Enter to "
          "measure reachability again, Ctrl-C or end of input to finish", flush=True)
    while sys.stdin.readline():
        live.check_controller()
        live.results["reachability"] = live.measure_reachability()
        print(report.summary(live.results), flush=True)
        print("\npress Enter to measure again, Ctrl-C or end of input to finish", flush=True)


def _cli(live) -> None:
    from mininet.cli import CLI

    print("hosts (Mininet name = scenario name):")
    for host in live.plan.hosts:
        print(f"  {host.node:<10} {host.name} ({host.ip})")
    CLI(live.emu.net)
