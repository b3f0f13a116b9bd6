"""A whole population of phones at once: coverage, foreign-cell reach and jamming effectiveness.

Phones are sampled (seeded, in blocks of `SAMPLE_BLOCK` phones): each draws its category once,
the countryside with probability `countryside_share` (uniform over the national side of the
map) or a town by population weight (a Gaussian cluster around it); a position that falls
across the border or off the map is redrawn within the same category, so the categories keep
their configured shares. Every phone is evaluated as if it held a foreign handset too, so the
foreign-reach shares say where a smuggled phone would work; `on_foreign_cells_share` samples the
actual handset mix.

Evaluation is by map tile: a tile's phones are evaluated against the transmitters within reach
of the tile (`downlink.reach_km`), in work items of at most `chunk_size` phones, so memory is
bounded by chunk_size x (transmitters in reach). `pruning=False` evaluates every phone against
every transmitter (the reference the pruning is checked and benchmarked against). Shadowing is
a function of (seed, phone, transmitter), so both give the same draws.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from hermitnet.radio.downlink import (
    SHADOW_TRUNCATION_SIGMA,
    ReceivedPower,
    Transmitters,
    best_cell,
    downlink_quality,
    environment_codes,
    reach_km,
    received_power,
    selectable_pilot_mw,
)
from hermitnet.radio.link import rate_mbps_from_sinr
from hermitnet.radio.model import RadioModel
from hermitnet.radio.propagation import ENVIRONMENTS, environment_code

DEFAULT_CHUNK_SIZE = 16_384
SAMPLE_BLOCK = 100_000
TILE_KM = 10.0
FOREIGN_HANDSET_SHARE = 1000 / 7_000_000
"""Foreign-handset users (docs/sources.md): ~1,000 (2010, uncertain) among 6.5-7 M lines."""


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
    Jamming effectiveness of a jammer state = share of the border phones that reach a foreign
    cell with every jammer off but not in that state: `jamming_effectiveness` is its weighted
    mean over `times_s`, `jamming_effectiveness_worst` its lowest value at one of `times_s`
    (first reached at `worst_time_s`), `jamming_effectiveness_every_jammer_on` its value with
    every jammer on, whatever the schedules.
    """

    n_phones: int
    seed: int
    times_s: list[float] | None
    elapsed_s: float
    pruning: bool
    transmitters_per_phone: float
    national_coverage_share: float
    mean_national_peak_rate_mbps: float
    foreign_reach_share: float
    foreign_reach_share_any: float
    foreign_reach_share_unjammed: float
    border_phones_share: float
    border_foreign_reach_share: float
    border_foreign_reach_share_unjammed: float
    jamming_effectiveness: float | None
    jamming_effectiveness_worst: float | None
    worst_time_s: float | None
    jamming_effectiveness_every_jammer_on: float | None
    foreign_handset_share: float
    on_foreign_cells_share: float
    towns: list[TownStats]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sample:
    """Sampled phones: position, category (-1 countryside, else the town index), handset."""

    x_km: np.ndarray  # float32
    y_km: np.ndarray
    category: np.ndarray  # int16
    foreign_handset: np.ndarray  # bool


MAX_REDRAWS = 1000


def _sample_positions(
    model: RadioModel, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, category) of n phones; off-map or foreign-side draws are redrawn in their category."""
    x_min, y_min, x_max, y_max = model.bounds_km
    weights = np.array([t.population_weight for t in model.towns])
    centres = np.array([(t.x_km, t.y_km) for t in model.towns])
    spreads = np.array([t.spread_km for t in model.towns])
    countryside = rng.random(n) < model.population.countryside_share
    category = np.where(
        countryside, -1, rng.choice(len(weights), size=n, p=weights / weights.sum())
    )
    xy = np.empty((n, 2))
    todo = np.arange(n)
    for _ in range(MAX_REDRAWS):
        if not len(todo):
            return xy[:, 0], xy[:, 1], category.astype(np.int16)
        town = np.maximum(category[todo], 0)
        gauss = rng.standard_normal((len(todo), 2)) * spreads[town, None] + centres[town]
        uniform = rng.random((len(todo), 2)) * [x_max - x_min, y_max - y_min] + [x_min, y_min]
        draw = np.where((category[todo] < 0)[:, None], uniform, gauss)
        ok = ~model.border.is_foreign_side(draw[:, 0], draw[:, 1])
        ok &= (draw[:, 0] >= x_min) & (draw[:, 0] <= x_max)
        ok &= (draw[:, 1] >= y_min) & (draw[:, 1] <= y_max)
        xy[todo[ok]] = draw[ok]
        todo = todo[~ok]
    names = sorted({model.towns[c].name if c >= 0 else "countryside" for c in category[todo]})
    raise ValueError(
        f"{model.source}: no position on the national side of the map after {MAX_REDRAWS} draws "
        f"for {', '.join(names)}: move the town or shrink its spread_km"
    )


def sample(
    model: RadioModel, n_phones: int, seed: int, foreign_handset_share: float, map_function=map
) -> Sample:
    """The population's phones; block b of SAMPLE_BLOCK phones uses generator [seed, b]
    (`map_function`, e.g. a thread pool's map, draws the blocks)."""

    def block(start: int):
        rng = np.random.default_rng([seed, start // SAMPLE_BLOCK])
        n = min(SAMPLE_BLOCK, n_phones - start)
        x_km, y_km, category = _sample_positions(model, rng, n)
        handset = rng.random(n) < foreign_handset_share
        return x_km.astype(np.float32), y_km.astype(np.float32), category, handset

    parts = list(map_function(block, range(0, n_phones, SAMPLE_BLOCK)))
    columns = list(zip(*parts, strict=True)) if parts else [[np.empty(0)]] * 4
    return Sample(
        x_km=np.concatenate(columns[0]).astype(np.float32),
        y_km=np.concatenate(columns[1]).astype(np.float32),
        category=np.concatenate(columns[2]).astype(np.int16),
        foreign_handset=np.concatenate(columns[3]).astype(bool),
    )


@lru_cache(maxsize=1)
def _normal_table() -> np.ndarray:
    """Quantiles of the standard normal at (i + 1/2) / 2**16, clipped to the truncation."""
    quantiles = np.array([NormalDist().inv_cdf((i + 0.5) / 65536) for i in range(65536)])
    limit = SHADOW_TRUNCATION_SIGMA
    return np.clip(quantiles, -limit, limit).astype(np.float32)


def _mix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, in place on a uint32 array."""
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def shadowing_db(
    seed: int, phone_ids: np.ndarray, link_ids: np.ndarray, sigma_db: float
) -> np.ndarray | None:
    """(N, K) float32 log-normal shadowing of each phone towards each transmitter (ids: cells
    0..C-1, then jammers), a function of (seed, phone, transmitter) only, truncated at
    SHADOW_TRUNCATION_SIGMA; None when `sigma_db` is 0.

    Phone and transmitter ids are hashed apart (MurmurHash3 finaliser), combined by XOR and a
    multiplicative hash whose top 16 bits pick one of 2**16 equiprobable normal quantiles.
    """
    if not sigma_db:
        return None
    seed_word = _mix32(np.array([seed & 0xFFFFFFFF], dtype=np.uint32))[0]
    phone_hash = _mix32(phone_ids.astype(np.uint32) ^ seed_word)
    link_hash = _mix32((link_ids.astype(np.uint32) + np.uint32(1)) * np.uint32(0x9E3779B9))
    h = phone_hash[:, None] ^ link_hash[None, :]
    h *= np.uint32(0x2C1B3C6D)
    return (_normal_table() * np.float32(sigma_db))[h >> np.uint32(16)]


@lru_cache(maxsize=8)
def mean_shadowing_gain(sigma_db: float) -> float:
    """E[10**(X/10)] of the shadowing draws: the mean linear gain of a link."""
    return float(np.mean(10.0 ** (_normal_table().astype(float) * sigma_db / 10.0)))


def _nearest_town(model: RadioModel, x_km: np.ndarray, y_km: np.ndarray) -> np.ndarray:
    centres = np.array([(t.x_km, t.y_km) for t in model.towns])
    distance = np.hypot(x_km[:, None] - centres[:, 0], y_km[:, None] - centres[:, 1])
    return np.argmin(distance, axis=1)


def _share(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


PER_STATE = ("national", "rate", "reach", "border_reach", "on_foreign")
ONCE = ("phones", "reach_any", "border", "links")


@dataclass(frozen=True)
class _Plan:
    """What every work item shares: the phones sorted by tile, the transmitters in reach of
    each tile and the far-field power of the others, and the jammer states."""

    model: RadioModel
    tx: Transmitters
    sample: Sample
    order: np.ndarray  # phone indices sorted by tile
    bounds: np.ndarray  # tile t holds order[bounds[t]:bounds[t + 1]]
    tile_cells: list[np.ndarray]
    tile_jammers: list[np.ndarray]
    far_cells_mw: np.ndarray | None  # (T, E, F) power of the cells out of reach
    far_jammers_mw: np.ndarray | None  # (T, E, J, F) per jammer out of reach, else 0
    seed: int

    def items(self, chunk_size: int) -> list[tuple[int, int, int]]:
        """(tile, start, stop) work items of at most chunk_size phones, in a fixed order."""
        return [
            (t, start, min(start + chunk_size, int(self.bounds[t + 1])))
            for t in range(len(self.tile_cells))
            for start in range(int(self.bounds[t]), int(self.bounds[t + 1]), chunk_size)
        ]


def _tiles(model: RadioModel, x_km: np.ndarray, y_km: np.ndarray, tile_km: float):
    x_min, y_min, x_max, y_max = model.bounds_km
    nx = max(1, int(np.ceil((x_max - x_min) / tile_km)))
    ny = max(1, int(np.ceil((y_max - y_min) / tile_km)))
    ix = np.clip(((x_km - x_min) / tile_km).astype(np.int64), 0, nx - 1)
    iy = np.clip(((y_km - y_min) / tile_km).astype(np.int64), 0, ny - 1)
    rects = [
        (
            x_min + i * tile_km,
            y_min + j * tile_km,
            x_min + (i + 1) * tile_km,
            y_min + (j + 1) * tile_km,
        )
        for i in range(nx)
        for j in range(ny)
    ]
    return (ix * ny + iy).astype(np.int32), rects


def _in_reach(xy_km: np.ndarray, reach: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """(T, K) bool: transmitter k's reach touches tile t (rects: (T, 4) x0, y0, x1, y1)."""
    x, y = xy_km[None, :, 0], xy_km[None, :, 1]
    dx = np.maximum(np.maximum(rects[:, :1] - x, x - rects[:, 2:3]), 0.0)
    dy = np.maximum(np.maximum(rects[:, 1:2] - y, y - rects[:, 3:4]), 0.0)
    return np.hypot(dx, dy) <= reach[None, :]


FAR_FIELD_POINTS = 3
"""The far field of a tile is averaged over a 3 x 3 grid of points in it."""
FAR_FIELD_TILES = 128
"""Tiles per block of the far-field computation (bounds its memory)."""


def _far_field_mw(model: RadioModel, tx: Transmitters, rects: np.ndarray, cells_in, jammers_in):
    """Mean power on each carrier, per tile and environment code, of the transmitters out of
    the tile's reach: (T, E, F) for the cells and (T, E, J, F) per jammer (zero when in
    reach), to be summed over the jammers on. Median path loss over a grid of points in the
    tile times the mean shadowing gain."""
    step = (np.arange(FAR_FIELD_POINTS) + 0.5) / FAR_FIELD_POINTS
    fx, fy = (v.ravel() for v in np.meshgrid(step, step))
    gx = (rects[:, None, 0] + fx[None, :] * (rects[:, None, 2] - rects[:, None, 0])).ravel()
    gy = (rects[:, None, 1] + fy[None, :] * (rects[:, None, 3] - rects[:, None, 1])).ravel()
    gx, gy = gx.astype(np.float32), gy.astype(np.float32)
    gain = mean_shadowing_gain(model.shadowing_db)
    n_tiles, n_env, n_carriers = len(rects), len(ENVIRONMENTS), len(tx.carrier_mhz)
    cells_mw = np.zeros((n_tiles, n_env, n_carriers))
    jammers_mw = np.zeros((n_tiles, n_env, len(tx.jammer_id), n_carriers))
    codes = {environment_code(model.countryside_environment)}
    codes |= {environment_code(t.environment) for t in model.towns}
    points = FAR_FIELD_POINTS**2
    for code in codes:
        for first in range(0, n_tiles, FAR_FIELD_TILES):
            tiles = slice(first, min(first + FAR_FIELD_TILES, n_tiles))
            at = slice(tiles.start * points, tiles.stop * points)
            power = received_power(
                tx, gx[at], gy[at], np.full(at.stop - at.start, code), model.mobile_height_m
            )
            shape = (tiles.stop - tiles.start, points)
            cell_mw = gain * power.cell_mw.reshape(*shape, len(tx.cell_id)).mean(axis=1)
            jammer_mw = gain * power.jammer_mw.reshape(*shape, len(tx.jammer_id)).mean(axis=1)
            cells_mw[tiles, code] = np.where(cells_in[tiles], 0.0, cell_mw) @ tx.cell_to_carrier
            jammers_mw[tiles, code] = (
                np.where(jammers_in[tiles], 0.0, jammer_mw)[:, :, None] * tx.jammer_to_carrier
            )
    return cells_mw, jammers_mw


def _plan(
    model: RadioModel,
    phones: Sample,
    seed: int,
    pruning: bool,
    tile_km: float,
) -> _Plan:
    tx = Transmitters.of(model)
    tile, rects = _tiles(model, phones.x_km, phones.y_km, tile_km)
    order = np.argsort(tile, kind="stable")
    bounds = np.searchsorted(tile[order], np.arange(len(rects) + 1))
    all_cells, all_jammers = np.arange(len(model.cells)), np.arange(len(model.jammers))
    if not pruning:
        return _Plan(
            model,
            tx,
            phones,
            order,
            bounds,
            [all_cells] * len(rects),
            [all_jammers] * len(rects),
            None,
            None,
            seed,
        )
    rects = np.array(rects, dtype=float).reshape(-1, 4)
    cell_reach, jammer_reach = reach_km(model, tx, model.mobile_height_m)
    cells_in = _in_reach(tx.cell_xy_km, cell_reach, rects)
    jammers_in = _in_reach(tx.jammer_xy_km, jammer_reach, rects)
    far_cells_mw, far_jammers_mw = _far_field_mw(model, tx, rects, cells_in, jammers_in)
    return _Plan(
        model,
        tx,
        phones,
        order,
        bounds,
        [np.flatnonzero(row) for row in cells_in],
        [np.flatnonzero(row) for row in jammers_in],
        far_cells_mw,
        far_jammers_mw,
        seed,
    )


@dataclass(frozen=True)
class _Item:
    """One work item's phones, their received power and what every jammer state reuses."""

    ids: np.ndarray
    tx: Transmitters
    power: ReceivedPower
    selectable_mw: np.ndarray
    env: np.ndarray
    jammers: np.ndarray


def _item(plan: _Plan, tile: int, start: int, stop: int) -> _Item:
    model = plan.model
    ids = plan.order[start:stop]
    x_km, y_km = plan.sample.x_km[ids], plan.sample.y_km[ids]
    cells, jammers = plan.tile_cells[tile], plan.tile_jammers[tile]
    tx = plan.tx.subset(cells, jammers)
    shadow = shadowing_db(
        plan.seed, ids, np.concatenate([cells, len(model.cells) + jammers]), model.shadowing_db
    )
    env = environment_codes(model, x_km, y_km)
    power = received_power(
        tx,
        x_km,
        y_km,
        env,
        model.mobile_height_m,
        None if shadow is None else shadow[:, : len(cells)],
        None if shadow is None else shadow[:, len(cells) :],
    )
    return _Item(ids, tx, power, selectable_pilot_mw(model, tx, power), env, jammers)


def _camp(plan: _Plan, tile: int, item: _Item, jammer_on: np.ndarray):
    """(national cell, has one, its SINR ratio, reaches a foreign cell) per phone of the item,
    cells as indices into item.tx; with the given jammers (all of the model's) on."""
    background = None
    if plan.far_cells_mw is not None:
        per_env = plan.far_cells_mw[tile] + np.einsum(
            "ejf,j->ef", plan.far_jammers_mw[tile], jammer_on.astype(float)
        )
        background = per_env[item.env]
    quality = downlink_quality(
        plan.model,
        item.tx,
        item.power,
        jammer_on[item.jammers],
        background_mw=background,
        selectable_mw=item.selectable_mw,
    )
    national_cell, national = best_cell(quality, ~item.tx.cell_is_foreign)
    _, reach = best_cell(quality, item.tx.cell_is_foreign)
    if len(item.tx.cell_id):
        sinr = quality.sinr_ratio_at(national_cell)
    else:
        sinr = np.zeros(len(item.ids), dtype=np.float32)
    return national_cell, national, sinr, reach


def _item_totals(
    plan: _Plan, states: np.ndarray, timed: np.ndarray, tile: int, start: int, stop: int
) -> dict[str, np.ndarray]:
    """Per-town sums (per jammer state) over the phones order[start:stop] of one tile."""
    model = plan.model
    n_towns = len(model.towns)
    item = _item(plan, tile, start, stop)
    x_km, y_km = plan.sample.x_km[item.ids], plan.sample.y_km[item.ids]
    town = _nearest_town(model, x_km, y_km)
    border = model.border.distance_km(x_km, y_km) <= model.population.border_area_km
    foreign_handset = plan.sample.foreign_handset[item.ids]
    per_state = {name: np.zeros((len(states), n_towns)) for name in PER_STATE}
    reach_any = np.zeros(len(item.ids), dtype=bool)

    def count(values: np.ndarray) -> np.ndarray:
        return np.bincount(town, weights=values, minlength=n_towns)

    for index, state in enumerate(states):
        national_cell, national, sinr, reach = _camp(plan, tile, item, state)
        with np.errstate(divide="ignore"):
            rate = (
                rate_mbps_from_sinr(
                    10.0 * np.log10(sinr), item.tx.cell_peak_mbps[national_cell], model.link
                )
                if len(item.tx.cell_id)
                else np.zeros(len(item.ids))
            )
        if timed[index]:
            reach_any |= reach
        per_state["national"][index] = count(national)
        per_state["rate"][index] = count(np.where(national, rate, 0.0))
        per_state["reach"][index] = count(reach)
        per_state["border_reach"][index] = count(reach & border)
        per_state["on_foreign"][index] = count(reach & foreign_handset)
    once = {
        "phones": count(np.ones(len(item.ids))),
        "reach_any": count(reach_any),
        "border": count(border),
        "links": np.array([len(item.ids) * (len(item.tx.cell_id) + len(item.jammers))], float),
    }
    return {**per_state, **once}


def camp_phones(
    model: RadioModel,
    n_phones: int,
    seed: int,
    jammer_on: np.ndarray,
    *,
    pruning: bool = True,
    tile_km: float = TILE_KM,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict[str, np.ndarray]:
    """Per sampled phone (the phones `population` draws for `seed`): `national_cell` (index
    into model.cells, -1 for none), `sinr_db` on it, `reaches_foreign`. For checks and maps."""
    phones = sample(model, n_phones, seed, FOREIGN_HANDSET_SHARE)
    plan = _plan(model, phones, seed, pruning, tile_km)
    national_cell = np.full(n_phones, -1)
    sinr_db = np.full(n_phones, np.nan)
    reaches = np.zeros(n_phones, dtype=bool)
    for tile, start, stop in plan.items(chunk_size):
        item = _item(plan, tile, start, stop)
        cell, national, sinr, reach = _camp(plan, tile, item, np.asarray(jammer_on, bool))
        national_cell[item.ids] = np.where(national, item.tx.cell_id[cell], -1)
        with np.errstate(divide="ignore"):
            sinr_db[item.ids] = np.where(national, 10.0 * np.log10(sinr), np.nan)
        reaches[item.ids] = reach
    return {"national_cell": national_cell, "sinr_db": sinr_db, "reaches_foreign": reaches}


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
    pruning: bool = True,
    tile_km: float = TILE_KM,
) -> PopulationResult:
    """Evaluate `n_phones` sampled phones with the jammers active at each of `times_s`
    (every jammer on when None), averaged with `time_weights` (equal when None).

    Each distinct jammer state is evaluated once, plus every jammer off and every jammer on.
    Work items run on `workers` threads (NumPy releases the GIL) and their sums are added in
    a fixed order, so the result depends only on `seed`, `pruning` and `tile_km`.
    """
    started = time.perf_counter()
    n_jammers = len(model.jammers)
    timed_states = (
        [np.ones(n_jammers, dtype=bool)]
        if times_s is None
        else [model.active_jammers(t) for t in times_s]
    )
    if time_weights is None:
        time_weights = [1.0 / len(timed_states)] * len(timed_states)
    if len(time_weights) != len(timed_states):
        raise ValueError("time_weights needs one weight per entry of times_s")
    keys: list[tuple[bool, ...]] = []
    for state in [np.zeros(n_jammers, bool), np.ones(n_jammers, bool), *timed_states]:
        if tuple(state) not in keys:
            keys.append(tuple(state))
    weights = np.zeros(len(keys))
    first_time_s: list[float | None] = [None] * len(keys)
    for position, (state, weight) in enumerate(zip(timed_states, time_weights, strict=True)):
        index = keys.index(tuple(state))
        weights[index] += weight
        if first_time_s[index] is None and times_s is not None:
            first_time_s[index] = float(times_s[position])
    timed = np.array([tuple(s) in {tuple(t) for t in timed_states} for s in keys])
    states = np.array(keys, dtype=bool).reshape(len(keys), n_jammers)

    names = PER_STATE + ONCE
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        phones = sample(model, n_phones, seed, foreign_handset_share, pool.map)
        plan = _plan(model, phones, seed, pruning, tile_km)
        totals = {
            name: np.zeros((len(keys), len(model.towns))) if name in PER_STATE else 0.0
            for name in names
        }
        totals["links"] = np.zeros(1)
        for item_totals in pool.map(
            lambda item: _item_totals(plan, states, timed, *item), plan.items(chunk_size)
        ):
            for name in names:
                totals[name] = totals[name] + item_totals[name]
    return _summarise(model, n_phones, seed, times_s, foreign_handset_share, totals, weights,
                      first_time_s, pruning, started)


def _summarise(model, n_phones, seed, times_s, foreign_handset_share, totals, weights,
               first_time_s, pruning, started):
    """Shares from the sums; state 0 is every jammer off, state 1 (if any) every jammer on."""
    weighted = {name: weights @ totals[name] for name in PER_STATE}  # (towns,)
    off, all_on = 0, min(1, len(weights) - 1)  # the same state when there is no jammer
    total = {name: float(np.sum(values)) for name, values in weighted.items()}
    phones, border = totals["phones"], totals["border"]
    border_reach_off = totals["border_reach"][off]

    def effectiveness(reach: float, reach_off: float) -> float | None:
        return round(1.0 - reach / reach_off, 4) if reach_off else None

    by_state = [
        effectiveness(float(totals["border_reach"][s].sum()), float(border_reach_off.sum()))
        for s in range(len(weights))
    ]
    timed = [s for s in range(len(weights)) if first_time_s[s] is not None]
    worst = min(timed, key=lambda s: by_state[s] or 0.0) if timed else all_on
    towns = [
        TownStats(
            town=t.name,
            phones=int(phones[i]),
            national_coverage_share=round(_share(weighted["national"][i], phones[i]), 4),
            foreign_reach_share=round(_share(weighted["reach"][i], phones[i]), 4),
            foreign_reach_share_unjammed=round(_share(totals["reach"][off][i], phones[i]), 4),
            jamming_effectiveness=effectiveness(weighted["border_reach"][i], border_reach_off[i]),
        )
        for i, t in enumerate(model.towns)
    ]
    return PopulationResult(
        n_phones=n_phones,
        seed=seed,
        times_s=None if times_s is None else [float(t) for t in times_s],
        elapsed_s=round(time.perf_counter() - started, 3),
        pruning=pruning,
        transmitters_per_phone=round(_share(float(totals["links"][0]), n_phones), 2),
        national_coverage_share=round(_share(total["national"], n_phones), 4),
        mean_national_peak_rate_mbps=round(_share(total["rate"], total["national"]), 3),
        foreign_reach_share=round(_share(total["reach"], n_phones), 4),
        foreign_reach_share_any=round(_share(float(totals["reach_any"].sum()), n_phones), 4),
        foreign_reach_share_unjammed=round(_share(float(totals["reach"][off].sum()), n_phones), 4),
        border_phones_share=round(_share(float(border.sum()), n_phones), 4),
        border_foreign_reach_share=round(_share(total["border_reach"], float(border.sum())), 4),
        border_foreign_reach_share_unjammed=round(
            _share(float(border_reach_off.sum()), float(border.sum())), 4
        ),
        jamming_effectiveness=effectiveness(total["border_reach"], float(border_reach_off.sum())),
        jamming_effectiveness_worst=by_state[worst],
        worst_time_s=first_time_s[worst],
        jamming_effectiveness_every_jammer_on=by_state[all_on],
        foreign_handset_share=foreign_handset_share,
        on_foreign_cells_share=round(_share(total["on_foreign"], n_phones), 6),
        towns=towns,
    )
