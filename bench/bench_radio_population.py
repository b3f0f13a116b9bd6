"""Benchmark: the radio model over a national population of phones, pruned against naive.

    python bench/bench_radio_population.py [--phones 7000000] [--baseline-phones 200000]

Three figures, each beside a baseline measured in the same run (so a busy machine shows in
both) and the ratio of their phones/s:

- border: scenarios/border.yaml (8 cells, 3 jammers), every jammer on, against the naive
  pass (every phone against every transmitter, `pruning=False`) over the same phones;
- border timeline: the same over the jammer states of 60 s of its timeline (what results.json
  reports), against the every-jammer-on run;
- national: a generated layout of 1,000 national cells, 30 foreign cells and 50 jammers over
  a 360 x 340 km country, against the naive pass over `--baseline-phones` phones.

Peak resident memory is the process's peak right after each figure, before its baseline runs.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
from figure import figure

from hermitnet import scenario
from hermitnet.radio import parse, population
from hermitnet.radio.sweep import jammer_state_times

QUICK_ARGS = ("--phones", "1000000", "--baseline-phones", "50000")


def national_section(
    n_cells: int = 1000, n_foreign: int = 30, n_jammers: int = 50, seed: int = 7
) -> dict:
    """A country of 360 x 340 km with 30 towns (Zipf weights), 40 % of the cells around them
    and the rest spread over the country, foreign cells and jammers along a northern border."""
    rng = np.random.default_rng(seed)
    border_y = 325.0
    towns = [
        {
            "name": f"town-{i}",
            "position_km": [float(rng.uniform(10, 350)), float(rng.uniform(10, border_y - 5))],
            "population_weight": 10.0 / (i + 1),
            "spread_km": 4.0,
        }
        for i in range(30)
    ]
    cells = []
    for i in range(n_cells):
        if i < 0.4 * n_cells:
            x, y = towns[i % len(towns)]["position_km"]
            x, y = x + rng.normal(0, 3), y + rng.normal(0, 3)
        else:
            x, y = rng.uniform(0, 360), rng.uniform(0, border_y)
        cells.append(
            {
                "name": f"cell-{i}",
                "position_km": [float(np.clip(x, 0, 360)), float(np.clip(y, 0, border_y - 0.5))],
                "freq_mhz": 2140.0 + 5 * (i % 2),
            }
        )
    foreign = [
        {
            "name": f"foreign-{i}",
            "position_km": [float(rng.uniform(0, 360)), float(rng.uniform(border_y + 3, 340))],
            "power_dbm": 46,
            "height_m": 50,
            "freq_mhz": 2125.0 + 5 * (i % 2),
        }
        for i in range(n_foreign)
    ]
    jammers = [
        {
            "name": f"jam-{i}",
            "position_km": [
                float(rng.uniform(0, 360)),
                float(rng.uniform(border_y - 25, border_y - 1)),
            ],
            "power_dbm": 47,
            "freq_mhz": 2127.5,
            "bandwidth_mhz": 15,
        }
        for i in range(n_jammers)
    ]
    return {
        "bounds_km": [0, 0, 360, 340],
        "border": {"points_km": [[0, border_y], [360, border_y]], "foreign_side": "north"},
        "towns": towns,
        "national_cells": cells,
        "foreign_cells": foreign,
        "jammers": jammers,
        "ues": [],
    }


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(label, phones, elapsed_s, peak, baseline_label, baseline_phones, baseline_s, result):
    rate, baseline_rate = phones / elapsed_s, baseline_phones / baseline_s
    figure(f"{label} phones/s", rate, "phones/s", baseline_label, baseline_rate)
    print(
        f"{label:<17} {phones:>10,} phones {elapsed_s:7.2f} s {rate:>11,.0f}/s "
        f"(peak {peak:.0f} MiB)   {baseline_label:<20} {baseline_phones:>10,} phones "
        f"{baseline_s:7.2f} s {baseline_rate:>11,.0f}/s   ratio {rate / baseline_rate:5.2f}   "
        f"transmitters/phone {result.transmitters_per_phone:g}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=7_000_000)
    parser.add_argument("--baseline-phones", type=int, default=200_000)
    parser.add_argument("--scenario", default="scenarios/border.yaml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    border = scenario.load(args.scenario).radio
    national = parse(national_section(), "generated national layout", seed=scenario.DEFAULT_SEED)
    run = dict(seed=args.seed, workers=args.workers)
    print(f"border:   {len(border.cells)} cells, {len(border.jammers)} jammers")
    print(
        f"national: {sum(c.kind == 'national' for c in national.cells)} national cells, "
        f"{sum(c.kind == 'foreign' for c in national.cells)} foreign cells, "
        f"{len(national.jammers)} jammers"
    )

    pruned, pruned_s = timed(population, border, args.phones, **run)
    peak = peak_mib()
    naive, naive_s = timed(population, border, args.phones, pruning=False, **run)
    report(
        "border", args.phones, pruned_s, peak, "naive, same phones", args.phones, naive_s, pruned
    )

    times_s, weights = jammer_state_times(border, 60.0)
    over, over_s = timed(
        population, border, args.phones, times_s=times_s, time_weights=weights, **run
    )
    report(
        "border timeline",
        args.phones,
        over_s,
        peak_mib(),
        "every jammer on",
        args.phones,
        pruned_s,
        over,
    )
    print(
        f"  jamming effectiveness over 60 s {over.jamming_effectiveness} (worst "
        f"{over.jamming_effectiveness_worst} at {over.worst_time_s} s), every jammer on "
        f"{over.jamming_effectiveness_every_jammer_on}"
    )

    nat, nat_s = timed(population, national, args.phones, **run)
    peak = peak_mib()
    nat_naive, nat_naive_s = timed(population, national, args.baseline_phones, pruning=False, **run)
    report("national", args.phones, nat_s, peak, "naive", args.baseline_phones, nat_naive_s, nat)
    check, _ = timed(population, national, args.baseline_phones, **run)
    print(
        f"  pruned vs naive over the same {args.baseline_phones:,} phones: national coverage "
        f"{check.national_coverage_share} / {nat_naive.national_coverage_share}, border reach "
        f"unjammed {check.border_foreign_reach_share_unjammed} / "
        f"{nat_naive.border_foreign_reach_share_unjammed}, jamming effectiveness "
        f"{check.jamming_effectiveness} / {nat_naive.jamming_effectiveness}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
