"""Draw a scenario's radio map and count who reaches which cells (no root needed).

Writes a PNG with the border, national coverage (best-server SINR), where a foreign cell is
reachable, the jammer footprint (where jamming denies foreign cells), cells, jammers and the
emulated UEs coloured by serving cell; beside it NAME.json (all numbers) and NAME.csv (per
town). Population numbers come from PHONES sampled phones (seeded); jammers are shown as
scheduled at --t-s, or all on when --t-s is not given.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from hermitnet import scenario
from hermitnet.commands.argtypes import non_negative_float, non_negative_int, positive_int, writing
from hermitnet.errors import HermitError
from hermitnet.radio.attach import evaluate
from hermitnet.radio.mapplot import all_jammers_on, draw_map
from hermitnet.radio.population import population


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="scenario YAML file with a radio section")
    parser.add_argument("--out",
                        help="PNG file, or folder for <scenario>-map.png (default results/)")
    parser.add_argument(
        "--phones",
        type=positive_int,
        default=1_000_000,
        help="phones to sample for the population numbers (default 1000000)",
    )
    parser.add_argument("--seed", type=non_negative_int,
                        help="seed for sampling (default: the scenario's)")
    parser.add_argument(
        "--t-s",
        type=non_negative_float,
        dest="t_s",
        help="scenario time in s: jammers and UEs as at that time "
        "(default: every jammer on, UEs at their start)",
    )


# The per-town CSV: column name -> TownStats field. Every share is over all the town's phones,
# except the jamming effectiveness: over the town's phones near the border (its own population).
CSV_COLUMNS = {
    "town": "town",
    "phones": "phones",
    "national_coverage_share": "national_coverage_share",
    "foreign_reach_share": "foreign_reach_share",
    "foreign_reach_share_unjammed": "foreign_reach_share_unjammed",
    "border_phones_jamming_effectiveness": "jamming_effectiveness",
}


def _ue_rows(attachments) -> list[dict]:
    return [
        {
            "ue": a.ue,
            "cell": a.cell,
            "cell_kind": a.cell_kind,
            "sinr_db": a.sinr_db,
            "ec_no_db": a.ec_no_db,
            "rate_mbps": a.rate_mbps,
            "loss_pct": a.loss_pct,
            "x_km": a.position_km[0],
            "y_km": a.position_km[1],
        }
        for a in attachments.values()
    ]


def _out_png(out: str | None, stem: str) -> Path:
    """--out as given: a folder (existing, or written with a trailing /) or a .png file."""
    if out is None:
        return Path("results") / f"{stem}-map.png"
    path = Path(out)
    if path.is_dir() or out.endswith("/"):
        return path / f"{stem}-map.png"
    if path.suffix.lower() != ".png":
        raise HermitError(f"--out {out}: expected a .png file or a folder")
    return path


def run(args: argparse.Namespace) -> int:
    scenario_path = Path(args.scenario)
    loaded = scenario.load(scenario_path)
    model = loaded.require_radio()
    seed = model.seed if args.seed is None else args.seed
    out_png = _out_png(args.out, scenario_path.stem)
    with writing("--out"):
        out_png.parent.mkdir(parents=True, exist_ok=True)
        _draw_and_write(loaded, model, args, seed, out_png)
    return 0


def _draw_and_write(loaded, model, args, seed: int, out_png: Path) -> None:
    scenario_path = Path(args.scenario)
    jammer_on = model.active_jammers(args.t_s)
    attachments = (evaluate(all_jammers_on(model), 0.0) if args.t_s is None
                   else evaluate(model, args.t_s))
    result = population(model, args.phones, seed, times_s=None if args.t_s is None else [args.t_s])
    on_foreign = sum(a.cell_kind == "foreign" for a in attachments.values())
    when = "every jammer on" if args.t_s is None else f"t = {args.t_s:g} s"
    title = (
        f"{loaded.name}: {when}; "
        f"{result.n_phones:,} phones, border phones reaching a foreign cell "
        f"{result.border_foreign_reach_share:.0%} (unjammed "
        f"{result.border_foreign_reach_share_unjammed:.0%})"
    )
    draw_map(model, attachments, jammer_on, out_png, title)
    numbers = {
        "scenario": str(scenario_path),
        "when": when,
        "jammers_on": {j.name: bool(on) for j, on in zip(model.jammers, jammer_on, strict=True)},
        "ues": _ue_rows(attachments),
        "ue_share_on_foreign_cells": round(on_foreign / len(attachments), 4)
        if attachments
        else None,
        "population": result.to_dict(),
    }
    out_png.with_suffix(".json").write_text(json.dumps(numbers, indent=2) + "\n")
    with out_png.with_suffix(".csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for town in result.towns:
            writer.writerow([getattr(town, field) for field in CSV_COLUMNS.values()])
    _print_numbers(numbers, result, out_png, model.population.border_area_km)


def _print_numbers(numbers: dict, result, out_png: Path, border_area_km: float) -> None:
    print(f"radio map of {numbers['scenario']} ({numbers['when']})")
    print(f"  {'ue':<12} {'cell':<12} {'kind':<9} {'SINR dB':>8} {'Mbit/s':>7} {'loss %':>7}")
    for row in numbers["ues"]:
        sinr = "-" if row["sinr_db"] is None else f"{row['sinr_db']:.1f}"
        print(
            f"  {row['ue']:<12} {row['cell'] or 'no service':<12} {row['cell_kind'] or '-':<9}"
            f" {sinr:>8} {row['rate_mbps']:>7.2f} {row['loss_pct']:>7.1f}"
        )
    if numbers["ue_share_on_foreign_cells"] is not None:
        print(
            f"  share of emulated UEs on foreign cells: {numbers['ue_share_on_foreign_cells']:.0%}"
        )
    print(
        f"population: {result.n_phones:,} phones in {result.elapsed_s:.1f} s (seed {result.seed})"
    )
    print(
        f"  national coverage {result.national_coverage_share:.1%}, mean peak rate "
        f"{result.mean_national_peak_rate_mbps:.2f} Mbit/s (unshared)"
    )
    print(
        f"  could reach a foreign cell: {result.foreign_reach_share:.1%} "
        f"(unjammed {result.foreign_reach_share_unjammed:.1%}); border phones "
        f"{result.border_foreign_reach_share:.1%} (unjammed "
        f"{result.border_foreign_reach_share_unjammed:.1%})"
    )
    effectiveness = result.jamming_effectiveness
    print(
        "  jamming effectiveness (border phones kept off foreign cells): "
        + ("-" if effectiveness is None else f"{effectiveness:.1%}")
    )
    print(
        f"  phones actually on a foreign cell: {result.on_foreign_cells_share:.4%} of all phones"
        f" (only foreign handsets can camp there: {result.foreign_handset_share:.3%} of phones"
        " hold one)"
    )
    print(f"  per town: shares of all the town's phones; the last column only of its phones "
          f"within {border_area_km:g} km of the border")
    header = ("town", "phones", "national coverage", "reach a foreign cell", "(unjammed)",
              "border phones: jam eff")
    widths = [12, 9, *(len(name) for name in header[2:])]
    print("  " + " ".join(f"{name:<{w}}" if i == 0 else f"{name:>{w}}"
                          for i, (name, w) in enumerate(zip(header, widths, strict=True))))
    for town in result.towns:
        eff = "-" if town.jamming_effectiveness is None else f"{town.jamming_effectiveness:.1%}"
        cells = (town.town, f"{town.phones:,}", f"{town.national_coverage_share:.1%}",
                 f"{town.foreign_reach_share:.1%}", f"{town.foreign_reach_share_unjammed:.1%}", eff)
        print("  " + " ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                              for i, (c, w) in enumerate(zip(cells, widths, strict=True))))
    print(f"wrote {out_png}, {out_png.with_suffix('.json')}, {out_png.with_suffix('.csv')}")
