"""Benchmark: the radio model over a national population of phones.

    python bench/bench_radio_population.py [--phones 7000000] [--scenario scenarios/border.yaml]

Prints phones/s and the total time for the population, and the ratio against a 1-worker run
of a tenth of the phones measured in the same run (so a busy machine shows in both).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from hermitnet import scenario
from hermitnet.radio import population


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=7_000_000)
    parser.add_argument("--scenario", default="scenarios/border.yaml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    model = scenario.load(args.scenario).radio
    baseline_phones = max(args.phones // 10, 1)
    started = time.perf_counter()
    population(model, baseline_phones, args.seed, workers=1)
    baseline_rate = baseline_phones / (time.perf_counter() - started)
    started = time.perf_counter()
    result = population(model, args.phones, args.seed, workers=args.workers)
    elapsed_s = time.perf_counter() - started
    rate = args.phones / elapsed_s
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scenario {args.scenario}: {len(model.cells)} cells, {len(model.jammers)} jammers")
    print(f"baseline  {baseline_phones:>10,} phones, 1 worker: {baseline_rate:>12,.0f} phones/s")
    print(
        f"run       {args.phones:>10,} phones, {args.workers} workers: {rate:>12,.0f} phones/s, "
        f"total {elapsed_s:.2f} s, ratio to baseline {rate / baseline_rate:.2f}"
    )
    print(f"peak resident memory {peak_mib:.0f} MiB")
    print(
        f"foreign reach {result.foreign_reach_share:.3f} (unjammed "
        f"{result.foreign_reach_share_unjammed:.3f}), jamming effectiveness "
        f"{result.jamming_effectiveness}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
