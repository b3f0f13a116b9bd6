"""Spatial pruning of the population run: what it leaves out is below the floor, and it
changes (almost) nothing against every phone evaluated against every transmitter."""

import numpy as np
import pytest

from hermitnet.radio import parse, population
from hermitnet.radio.downlink import (
    SHADOW_TRUNCATION_SIGMA,
    Transmitters,
    environment_codes,
    received_power,
)
from hermitnet.radio.population import (
    FOREIGN_HANDSET_SHARE,
    TILE_KM,
    _plan,
    camp_phones,
    sample,
    shadowing_db,
)
from hermitnet.radio.propagation import mw_to_dbm


def random_layout(seed: int, n_cells: int = 240, n_jammers: int = 12) -> dict:
    """A 200 x 160 km country: towns, cells around them and in the countryside, foreign
    cells beyond a northern border, jammers near it; two national and two foreign carriers."""
    rng = np.random.default_rng(seed)
    border_y = 150.0
    towns = [
        {
            "name": f"town-{i}",
            "position_km": [float(rng.uniform(10, 190)), float(rng.uniform(10, border_y - 5))],
            "population_weight": float(rng.uniform(1, 5)),
            "spread_km": 4.0,
        }
        for i in range(8)
    ]
    cells = [
        {
            "name": f"cell-{i}",
            "position_km": [float(rng.uniform(0, 200)), float(rng.uniform(0, border_y - 1))],
            "freq_mhz": 2140.0 + 5 * (i % 2),
        }
        for i in range(n_cells)
    ]
    foreign = [
        {
            "name": f"foreign-{i}",
            "position_km": [float(rng.uniform(0, 200)), float(rng.uniform(border_y + 2, 160))],
            "power_dbm": 46,
            "height_m": 50,
            "freq_mhz": 2125.0 + 5 * (i % 2),
        }
        for i in range(8)
    ]
    jammers = [
        {
            "name": f"jam-{i}",
            "position_km": [
                float(rng.uniform(0, 200)),
                float(rng.uniform(border_y - 20, border_y)),
            ],
            "power_dbm": 47,
            "freq_mhz": 2127.5,
            "bandwidth_mhz": 15,
        }
        for i in range(n_jammers)
    ]
    return {
        "bounds_km": [0, 0, 200, 160],
        "border": {"points_km": [[0, border_y], [200, border_y]], "foreign_side": "north"},
        "towns": towns,
        "national_cells": cells,
        "foreign_cells": foreign,
        "jammers": jammers,
        "ues": [],
    }


@pytest.fixture(scope="module")
def model():
    return parse(random_layout(11), "random", seed=1)


def test_every_link_left_out_arrives_below_the_noise_floor(model):
    """All links of 6,000 phones, with their own shadowing: none out of reach of the phone's
    tile is above min(noise, Qrxlevmin - pilot) for a cell or the noise for a jammer."""
    n = 6_000
    phones = sample(model, n, 9, FOREIGN_HANDSET_SHARE)
    plan = _plan(model, phones, 9, True, TILE_KM)
    tx = Transmitters.of(model)
    ids = np.arange(n)
    links = np.arange(len(model.cells) + len(model.jammers))
    shadow = shadowing_db(9, ids, links, model.shadowing_db)
    assert np.abs(shadow).max() <= SHADOW_TRUNCATION_SIGMA * model.shadowing_db + 1e-4
    x, y = phones.x_km, phones.y_km
    power = received_power(
        tx,
        x,
        y,
        environment_codes(model, x, y),
        model.mobile_height_m,
        shadow[:, : len(model.cells)],
        shadow[:, len(model.cells) :],
    )
    noise_dbm = float(mw_to_dbm(tx.noise_mw))
    cell_floor = min(noise_dbm, model.selection.qrxlevmin_dbm + 10.0)  # pilot -10 dB
    kept_cells = np.zeros((n, len(model.cells)), dtype=bool)
    kept_jammers = np.zeros((n, len(model.jammers)), dtype=bool)
    tile_of = np.searchsorted(plan.bounds, np.argsort(plan.order), side="right") - 1
    for phone in range(n):
        kept_cells[phone, plan.tile_cells[tile_of[phone]]] = True
        kept_jammers[phone, plan.tile_jammers[tile_of[phone]]] = True
    assert kept_cells.mean() < 0.5, "the layout must be wide enough for pruning to prune"
    assert power.cell_dbm[~kept_cells].max() < cell_floor
    assert mw_to_dbm(power.jammer_mw[~kept_jammers]).max() < noise_dbm
    # and the bound is tight: some kept links do come above the floor from far away
    assert power.cell_dbm[kept_cells].max() > cell_floor


def test_pruned_and_naive_camp_the_same_phones_on_the_same_cells(model):
    jammer_on = np.ones(len(model.jammers), dtype=bool)
    pruned = camp_phones(model, 30_000, 5, jammer_on, pruning=True)
    naive = camp_phones(model, 30_000, 5, jammer_on, pruning=False)
    same = pruned["national_cell"] == naive["national_cell"]
    # the far field enters as its mean, not its draw: near ties between the two national
    # carriers can go the other way (0.4 % of phones here), and nothing else
    assert same.mean() >= 0.995
    assert (pruned["reaches_foreign"] == naive["reaches_foreign"]).mean() >= 0.998
    served = same & (naive["national_cell"] >= 0)
    difference_db = (pruned["sinr_db"] - naive["sinr_db"])[served]
    assert abs(difference_db.mean()) < 0.02  # no bias
    assert np.percentile(np.abs(difference_db), 99) < 0.3
    assert np.abs(difference_db).max() < 1.5


def test_pruned_population_figures_match_the_naive_pass(model):
    pruned = population(model, 30_000, 5, pruning=True)
    naive = population(model, 30_000, 5, pruning=False)
    assert pruned.transmitters_per_phone < naive.transmitters_per_phone / 2
    for name in (
        "national_coverage_share",
        "foreign_reach_share_unjammed",
        "border_foreign_reach_share",
        "jamming_effectiveness",
    ):
        assert getattr(pruned, name) == pytest.approx(getattr(naive, name), abs=0.003), name
    assert pruned.mean_national_peak_rate_mbps == pytest.approx(
        naive.mean_national_peak_rate_mbps, rel=0.01
    )
