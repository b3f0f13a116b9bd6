"""A whole population of phones at once: coverage, foreign-cell reach and jamming effectiveness.

Phones are sampled (seeded) in chunks of `chunk_size` so memory stays bounded: a share
`countryside_share` uniformly over the national side of the map, the rest in Gaussian clusters
around the towns by population weight (positions that fall across the border are redrawn).
Every phone is evaluated as if it held a foreign handset too, so the foreign-reach shares say
where a smuggled phone would work; `on_foreign_cells_share` samples the actual handset mix.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from hermitnet.radio.downlink import (
    Transmitters,
    best_cell,
    downlink_quality,
    environment_codes,
    received_power,
)
from hermitnet.radio.link import rate_mbps_from_sinr
from hermitnet.radio.model import RadioModel

DEFAULT_CHUNK_SIZE = 100_000
FOREIGN_HANDSET_SHARE = 1000 / 7_000_000
"""network-facts: ~1,000 users of foreign handsets (2010, uncertain) among 6.5-7 M lines (2022)."""


@dataclass(frozen=True)
class TownStats:
    town: str
    phones: int
    national_coverage_share: float
    foreign_reach_share: float
    foreign_reach_share_unjammed: float
    jamming_effectiveness: float | None


@dataclass(frozen=True)
class PopulationResult:
    """Shares of phones; "reach" = could camp on a foreign cell holding a foreign handset.

    Shares over jammer states are weighted means over `times_s` (every jammer on when None);
    `*_any` is the share that reach a foreign cell at one or more of those times.
    `jamming_effectiveness` = share of border phones that reach a foreign cell with every
    jammer off but not with the jammers of the evaluated state(s) (mean over states).
    """

    n_phones: int
    seed: int
    times_s: list[float] | None
    elapsed_s: float
    national_coverage_share: float
    mean_national_peak_rate_mbps: float
    foreign_reach_share: float
    foreign_reach_share_any: float
    foreign_reach_share_unjammed: float
    border_phones_share: float
    border_foreign_reach_share: float
    border_foreign_reach_share_unjammed: float
    jamming_effectiveness: float | None
    foreign_handset_share: float
    on_foreign_cells_share: float
    towns: list[TownStats]

    def to_dict(self) -> dict:
        return asdict(self)


def _sample_positions(
    model: RadioModel, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray]:
    x_min, y_min, x_max, y_max = model.bounds_km
    weights = np.array([t.population_weight for t in model.towns])
    centres = np.array([(t.x_km, t.y_km) for t in model.towns])
    spreads = np.array([t.spread_km for t in model.towns])
    xs, ys, filled = [], [], 0
    while filled < n:
        draw = int((n - filled) * 1.25) + 64
        countryside = rng.random(draw) < model.population.countryside_share
        town = rng.choice(len(weights), size=draw, p=weights / weights.sum())
        gauss = rng.standard_normal((draw, 2)) * spreads[town, None]
        uniform = rng.random((draw, 2)) * [x_max - x_min, y_max - y_min] + [x_min, y_min]
        xy = np.where(countryside[:, None], uniform, centres[town] + gauss)
        keep = ~model.border.is_foreign_side(xy[:, 0], xy[:, 1])
        keep &= (
            (xy[:, 0] >= x_min) & (xy[:, 0] <= x_max) & (xy[:, 1] >= y_min) & (xy[:, 1] <= y_max)
        )
        xy = xy[keep][: n - filled]
        xs.append(xy[:, 0])
        ys.append(xy[:, 1])
        filled += len(xy)
    return np.concatenate(xs), np.concatenate(ys)


def _shadowing_db(rng: np.random.Generator, sigma_db: float, n: int, links: int):
    """Independent log-normal shadowing per phone and transmitter, float32, or None."""
    if not sigma_db:
        return None
    return rng.standard_normal((n, links), dtype=np.float32) * np.float32(sigma_db)


def _nearest_town(model: RadioModel, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
    centres = np.array([(t.x_km, t.y_km) for t in model.towns])
    distance = np.hypot(x_km[:, None] - centres[:, 0], y_km[:, None] - centres[:, 1])
    return np.argmin(distance, axis=1)


def _share(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


TOTALS = (
    "phones",
    "national",
    "rate",
    "reach",
    "reach_any",
    "reach_off",
    "border",
    "border_reach",
    "border_reach_off",
    "on_foreign",
)


def _chunk_totals(
    model: RadioModel,
    tx: Transmitters,
    states: list[np.ndarray],
    weights: list[float],
    seed: int,
    chunk_index: int,
    n: int,
    foreign_handset_share: float,
) -> dict[str, np.ndarray]:
    """Sample and evaluate one chunk of phones; per-town sums of each quantity in TOTALS."""
    n_towns = len(model.towns)
    totals = {name: np.zeros(n_towns) for name in TOTALS}
    rng = np.random.default_rng([seed, chunk_index])
    x_km, y_km = (v.astype(np.float32) for v in _sample_positions(model, rng, n))
    cell_shadow = _shadowing_db(rng, model.shadowing_db, n, len(model.cells))
    jammer_shadow = _shadowing_db(rng, model.shadowing_db, n, len(model.jammers))
    foreign_handset = rng.random(n) < foreign_handset_share
    town = _nearest_town(model, x_km, y_km)
    border = model.border.distance_km(x_km, y_km) <= model.population.border_area_km
    power = received_power(
        tx,
        x_km,
        y_km,
        environment_codes(model, x_km, y_km),
        model.mobile_height_m,
        cell_shadow,
        jammer_shadow,
    )
    is_foreign_cell = tx.cell_is_foreign
    off = downlink_quality(model, tx, power, np.zeros(len(model.jammers), dtype=bool))
    _, reach_off = best_cell(off, is_foreign_cell)
    reach_any = np.zeros(n, dtype=bool)

    def add(name: str, values: np.ndarray, weight: float = 1.0) -> None:
        totals[name] += weight * np.bincount(town, weights=values, minlength=n_towns)

    for jammer_on, weight in zip(states, weights, strict=True):
        quality = off if not jammer_on.any() else downlink_quality(model, tx, power, jammer_on)
        national_cell, national = best_cell(quality, ~is_foreign_cell)
        _, reach = best_cell(quality, is_foreign_cell)
        sinr_ratio = np.take_along_axis(quality.sinr_ratio, national_cell[:, None], 1)[:, 0]
        rate = rate_mbps_from_sinr(
            10.0 * np.log10(sinr_ratio), tx.cell_peak_mbps[national_cell], model.link
        )
        reach_any |= reach
        add("national", national, weight)
        add("rate", np.where(national, rate, 0.0), weight)
        add("reach", reach, weight)
        add("border_reach", reach & border, weight)
        add("on_foreign", reach & foreign_handset, weight)
    add("phones", np.ones(n))
    add("reach_any", reach_any)
    add("reach_off", reach_off)
    add("border", border)
    add("border_reach_off", reach_off & border)
    return totals


def population(
    model: RadioModel,
    n_phones: int,
    seed: int,
    *,
    times_s: Sequence[float] | None = None,
    time_weights: Sequence[float] | None = None,
    foreign_handset_share: float = FOREIGN_HANDSET_SHARE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 2,
) -> PopulationResult:
    """Evaluate `n_phones` sampled phones with the jammers active at each of `times_s`
    (every jammer on when None), averaged with `time_weights` (equal when None).

    Chunks run on `workers` threads (NumPy releases the GIL); each chunk has its own seeded
    generator and the sums are added in chunk order, so the result depends only on `seed`
    and `chunk_size`.
    """
    started = time.perf_counter()
    tx = Transmitters.of(model)
    states = (
        [np.ones(len(model.jammers), dtype=bool)]
        if times_s is None
        else [model.active_jammers(t) for t in times_s]
    )
    if time_weights is None:
        time_weights = [1.0 / len(states)] * len(states)
    if len(time_weights) != len(states):
        raise ValueError("time_weights needs one weight per entry of times_s")
    chunks = [
        (index, min(chunk_size, n_phones - start))
        for index, start in enumerate(range(0, n_phones, chunk_size))
    ]

    def run(chunk: tuple[int, int]) -> dict[str, np.ndarray]:
        return _chunk_totals(
            model, tx, states, list(time_weights), seed, chunk[0], chunk[1], foreign_handset_share
        )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        totals = {name: np.zeros(len(model.towns)) for name in TOTALS}
        for chunk_totals in pool.map(run, chunks):
            for name in TOTALS:
                totals[name] += chunk_totals[name]
    return _summarise(model, n_phones, seed, times_s, foreign_handset_share, totals, started)


def _summarise(model, n_phones, seed, times_s, foreign_handset_share, totals, started):
    total = {name: float(values.sum()) for name, values in totals.items()}

    def effectiveness(reach: float, reach_off: float) -> float | None:
        return round(1.0 - reach / reach_off, 4) if reach_off else None

    towns = [
        TownStats(
            town=t.name,
            phones=int(totals["phones"][i]),
            national_coverage_share=round(_share(totals["national"][i], totals["phones"][i]), 4),
            foreign_reach_share=round(_share(totals["reach"][i], totals["phones"][i]), 4),
            foreign_reach_share_unjammed=round(
                _share(totals["reach_off"][i], totals["phones"][i]), 4
            ),
            jamming_effectiveness=effectiveness(
                totals["border_reach"][i], totals["border_reach_off"][i]
            ),
        )
        for i, t in enumerate(model.towns)
    ]
    return PopulationResult(
        n_phones=n_phones,
        seed=seed,
        times_s=None if times_s is None else [float(t) for t in times_s],
        elapsed_s=round(time.perf_counter() - started, 3),
        national_coverage_share=round(_share(total["national"], n_phones), 4),
        mean_national_peak_rate_mbps=round(_share(total["rate"], total["national"]), 3),
        foreign_reach_share=round(_share(total["reach"], n_phones), 4),
        foreign_reach_share_any=round(_share(total["reach_any"], n_phones), 4),
        foreign_reach_share_unjammed=round(_share(total["reach_off"], n_phones), 4),
        border_phones_share=round(_share(total["border"], n_phones), 4),
        border_foreign_reach_share=round(_share(total["border_reach"], total["border"]), 4),
        border_foreign_reach_share_unjammed=round(
            _share(total["border_reach_off"], total["border"]), 4
        ),
        jamming_effectiveness=effectiveness(total["border_reach"], total["border_reach_off"]),
        foreign_handset_share=foreign_handset_share,
        on_foreign_cells_share=round(_share(total["on_foreign"], n_phones), 6),
        towns=towns,
    )
