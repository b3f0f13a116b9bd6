"""Run a scenario on the emulated network and write its results (needs root).

Builds the network, starts the controller and the servers, measures reachability (every
subscriber x every site), leakage probes, throughput and round-trip times, replays the radio
timeline if the scenario has one, writes results.json, CSV files, a pcap of the uplink, plots and
report.html, prints a summary, and removes everything it created.

--hold keeps the network up after measuring: change the policy from another terminal
(`hermitnet policy ...`), press Enter to measure reachability again, Ctrl-C or end of input to
finish: a normal end (status ok, exit 0); each round is kept in results.json `remeasurements`.
--cli opens Mininet's command line on the running network instead. --view serves a live view of
the run (topology, link load, tiers, counters, leakage, radio) on 127.0.0.1.

The controller's REST API listens on 127.0.0.1. --api-host ADDRESS makes it listen there
instead (e.g. 0.0.0.0 for every interface); then every request needs the run's token, written
to api-token in the results folder (mode 0600) and used by `hermitnet policy`.

--cluster a,b,... spreads the network over several machines on Mininet's Cluster Edition (a
NodeB and its phones on one machine, the rest on this one; `hermitnet validate --cluster`
prints the placement); see docs/cluster.md for the setup and what it does not emulate.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from hermitnet import report, runner, scenario, shipped
from hermitnet.commands import argtypes
from hermitnet.commands.argtypes import check_creatable
from hermitnet.emulation import capabilities

# What the summaries printed while a run is held say: the measurements are done, the run is not.
HOLD_STATUS = "running (network up, held)"


def add_arguments(parser) -> None:
    parser.add_argument("scenario", type=shipped.scenario_path,
                        help="scenario YAML file, or the name of a shipped scenario")
    parser.add_argument("--out", type=Path,
                        help="results folder (default: results/<name>-<time>-<id>)")
    parser.add_argument("--api-host", type=_address, default="127.0.0.1", metavar="ADDRESS",
                        help="where the controller's REST API listens (default 127.0.0.1); "
                             "any other address requires the run's token (api-token in the "
                             "results folder)")
    parser.add_argument("--delay-line", choices=capabilities.DELAY_LINES, default="auto",
                        help="what emulates delay, jitter and loss: netem, the userspace delay "
                             "line, or auto (netem where the kernel has it; default)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--hold", action="store_true",
                      help="after measuring, keep the network up; Enter re-measures reachability")
    mode.add_argument("--cli", action="store_true",
                      help="after measuring, open Mininet's CLI on the network")
    parser.add_argument("--cluster", type=argtypes.cluster, metavar="MACHINES",
                        help="spread the network over machines reachable as root by SSH, this "
                             "one first: a,b,... or a cluster file (docs/cluster.md)")
    parser.add_argument("--view", action="store_true",
                        help="serve a live view of the run at http://127.0.0.1:PORT/ (an open "
                             "port, printed at start; loopback only: no other address listens)")


def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an IP address to listen on (127.0.0.1, 0.0.0.0, ...), got {text!r}"
        ) from None


def run(args) -> int:
    loaded = scenario.load(args.scenario)
    if args.out is not None:
        check_creatable(args.out, "--out")   # made by the run itself, once it holds the lock
    after = _hold if args.hold else _cli if args.cli else None
    watch = None
    if args.view:
        from hermitnet.view.server import serving as watch
    caps = capabilities.detect(delay_line=args.delay_line)
    run_dir, results = runner.run(loaded, args.out, progress=_progress, caps=caps, after=after,
                                  api_host=args.api_host, watch=watch, cluster=args.cluster)
    print()
    print(report.summary(results))
    print(f"\nresults: {run_dir}/results.json\nreport:  {run_dir / 'report.html'}")
    return 0


def _progress(message: str) -> None:
    print(f"* {message}", flush=True)


def _hold(live) -> None:
    """Keep the network up until the user ends it (end of input, Ctrl-C or SIGTERM at the prompt).

    Ending the hold ends the run normally; an interruption during a re-measurement is an
    interruption. Every round is kept in results["remeasurements"], stamped with the seconds
    since the network came up; results["reachability"] stays the first measurement, made with
    the throughput and leakage beside it."""
    print(report.summary(live.results, status=HOLD_STATUS), flush=True)
    if live.controller.token_path is not None:
        print(f"the API needs the run's token (Authorization: Bearer), in "
              f"{live.controller.token_path}", flush=True)
    print(f"\nnetwork up; controller API {live.controller_api}\n"
          "change the policy from another terminal (hermitnet policy ...); press Enter to "
          "measure reachability again, Ctrl-C or end of input to finish", flush=True)
    rounds = live.results.setdefault("remeasurements", [])
    while _wait_for_enter():
        live.check_controller()
        started_s = live.elapsed_s()
        rows = live.measure_reachability()
        rounds.append({"round": len(rounds) + 1, "t_s": round(started_s, 3),
                       "seconds": round(live.elapsed_s() - started_s, 3), "reachability": rows})
        print(report.summary({**live.results, "reachability": rows}, status=HOLD_STATUS,
                             note=f"reachability of round {len(rounds)}, measured "
                                  f"{started_s:.0f} s after the network came up"), flush=True)
        print("\npress Enter to measure again, Ctrl-C or end of input to finish", flush=True)
    print("\nhold ended: taking the network down", flush=True)


def _wait_for_enter() -> bool:
    """True when the user pressed Enter; False at end of input or Ctrl-C (the hold ends)."""
    try:
        return bool(sys.stdin.readline())
    except KeyboardInterrupt:
        return False


def _cli(live) -> None:
    from mininet.cli import CLI

    print("hosts (Mininet name = scenario name):")
    for host in live.plan.hosts:
        print(f"  {host.node:<10} {host.name} ({host.ip})")
    CLI(live.emu.net)
