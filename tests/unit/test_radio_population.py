"""Population scale: determinism, monotonicity in jammer power, and 7 million phones."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from hermitnet.radio import parse, population
from hermitnet.radio.downlink import (
    Transmitters,
    best_cell,
    downlink_quality,
    environment_codes,
    received_power,
)
from hermitnet.radio.examples import minimal_section
from hermitnet.sweep import apply_override

BORDER_YAML = Path(__file__).resolve().parents[2] / "scenarios" / "border.yaml"


@pytest.fixture(scope="module")
def border_document():
    return yaml.safe_load(BORDER_YAML.read_text())


def _model(document):
    return parse(document["radio"], "border.yaml", seed=document["seed"])


def test_same_seed_same_result_other_seed_other_sample(border_document):
    model = _model(border_document)
    first = population(model, 50_000, seed=11, chunk_size=20_000)
    again = population(model, 50_000, seed=11, chunk_size=20_000, workers=1)
    other = population(model, 50_000, seed=12, chunk_size=20_000)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "elapsed_s"}  # noqa: E731
    assert strip(first) == strip(again)
    assert strip(first) != strip(other)
    assert sum(t.phones for t in first.towns) == 50_000


def test_more_jammer_power_never_increases_foreign_reach(border_document):
    shares = []
    for power_dbm in (20, 30, 40, 50, 60):
        document = apply_override(border_document, "radio.jammers.power_dbm", power_dbm)
        result = population(_model(document), 40_000, seed=5)
        shares.append((result.foreign_reach_share, result.border_foreign_reach_share))
    for (reach, border), (next_reach, next_border) in zip(shares, shares[1:], strict=False):
        assert next_reach <= reach and next_border <= border
    assert shares[-1][0] < shares[0][0]


def test_more_jammer_power_never_adds_a_foreign_attachment_at_any_point():
    """Property: random maps and points; raising every jammer's power only removes reach."""
    rng = np.random.default_rng(2024)
    for _ in range(25):
        section = minimal_section(
            foreign_cells=[
                {
                    "name": f"far-{i}",
                    "position_km": [float(rng.uniform(0, 40)), float(rng.uniform(26, 30))],
                    "freq_mhz": float(rng.choice([2125.0, 2130.0, 2140.0])),
                }
                for i in range(3)
            ],
            jammers=[
                {
                    "name": f"jam-{i}",
                    "position_km": [float(rng.uniform(0, 40)), float(rng.uniform(0, 25))],
                    "power_dbm": float(rng.uniform(20, 50)),
                    "bandwidth_mhz": float(rng.uniform(3, 40)),
                    "freq_mhz": 2130.0,
                }
                for i in range(2)
            ],
        )
        weaker = parse(section, "x", seed=1)
        for jammer in section["jammers"]:
            jammer["power_dbm"] += float(rng.uniform(0.1, 15))
        stronger = parse(section, "x", seed=1)
        x_km, y_km = rng.uniform(0, 40, 2000), rng.uniform(0, 25, 2000)
        shadow = rng.normal(0, 6, (2000, len(weaker.cells)))
        jam_shadow = rng.normal(0, 6, (2000, len(weaker.jammers)))
        reach = []
        for model in (weaker, stronger):
            tx = Transmitters.of(model)
            power = received_power(
                tx, x_km, y_km, environment_codes(model, x_km, y_km), 1.5, shadow, jam_shadow
            )
            quality = downlink_quality(model, tx, power, np.ones(2, dtype=bool))
            reach.append(best_cell(quality, tx.cell_is_foreign)[1])
        assert not np.any(reach[1] & ~reach[0])


def test_jammers_off_means_no_jamming_effect(border_document):
    model = _model(border_document)
    result = population(model, 20_000, seed=3, times_s=[0.0], time_weights=[1.0])
    everything_on = population(model, 20_000, seed=3)
    assert result.foreign_reach_share >= everything_on.foreign_reach_share
    assert everything_on.jamming_effectiveness > 0
    no_jammers = population(parse(minimal_section(jammers=[]), "x", seed=1), 5_000, seed=3)
    assert no_jammers.jamming_effectiveness in (0.0, None)


@pytest.mark.slow
def test_seven_million_phones_complete(border_document):
    result = population(_model(border_document), 7_000_000, seed=1)
    assert result.n_phones == 7_000_000
    assert sum(t.phones for t in result.towns) == 7_000_000
    print(f"7,000,000 phones in {result.elapsed_s:.1f} s")
