"""Population scale: determinism, category shares, jamming over the timeline, 7 million phones."""

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
from hermitnet.radio.population import sample
from hermitnet.radio.sweep import jammer_state_times
from hermitnet.sweep import apply_override
from hermitnet.workload import timeline

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


def _duty_cycled(**jammer):
    """The minimal map with one 50 dBm jammer in town; shadowing 0, so every draw is exact."""
    jammer = {"name": "jam-1", "town": "town", "power_dbm": 50, **jammer}
    return parse(minimal_section(jammers=[jammer]), "x", seed=1)


def test_effectiveness_follows_the_duty_cycle_over_the_timeline():
    model = _duty_cycled(duty_cycle={"period_s": 20, "on_fraction": 0.5, "offset_s": 5})
    times_s, weights = jammer_state_times(model, 40.0)
    assert times_s == [0.0, 5.0, 15.0, 25.0, 35.0]
    result = population(model, 20_000, seed=3, times_s=times_s, time_weights=weights)
    every_on = result.jamming_effectiveness_every_jammer_on
    assert every_on > 0.2
    # on half the time, and the border phones it keeps off are the same whenever it is on
    assert result.jamming_effectiveness == pytest.approx(every_on / 2, abs=1e-4)
    assert result.jamming_effectiveness_worst == 0.0
    assert result.worst_time_s == 0.0  # off before its first edge at 5 s


def test_a_jammer_switched_on_for_the_last_quarter_counts_a_quarter():
    model = _duty_cycled(initially_on=False, schedule=[{"t_s": 30, "active": True}])
    times_s, weights = jammer_state_times(model, 40.0)
    result = population(model, 20_000, seed=3, times_s=times_s, time_weights=weights)
    every_on = result.jamming_effectiveness_every_jammer_on
    assert result.jamming_effectiveness == pytest.approx(every_on / 4, abs=1e-4)
    assert result.foreign_reach_share > population(model, 20_000, seed=3).foreign_reach_share
    never = _duty_cycled(initially_on=False)
    off = population(never, 20_000, seed=3, times_s=[0.0], time_weights=[1.0])
    assert off.jamming_effectiveness == 0.0
    assert off.jamming_effectiveness_every_jammer_on == every_on  # labelled: whatever the schedule
    no_jammers = population(parse(minimal_section(jammers=[]), "x", seed=1), 5_000, seed=3)
    assert no_jammers.jamming_effectiveness in (0.0, None)


def test_results_record_the_phones_and_the_timeline_figures():
    model = _duty_cycled(duty_cycle={"period_s": 20, "on_fraction": 0.5, "offset_s": 5})
    rows = [{"t_s": 0.0, "attached": {"national": 1}}, {"t_s": 40.0, "attached": {}}]
    radio_results = timeline.summary(model, rows, 12_345, 3)
    assert radio_results["population"]["phones"] == 12_345
    effectiveness = radio_results["jamming_effectiveness"]
    assert effectiveness["time_averaged"] == pytest.approx(
        effectiveness["every_jammer_on"] / 2, abs=1e-4
    )
    assert (effectiveness["worst_moment"], effectiveness["worst_moment_t_s"]) == (0.0, 0.0)


def test_the_draw_keeps_the_configured_shares_at_a_million_phones(border_document):
    """Border towns lose many Gaussian draws across the river; they are redrawn in the town."""
    model = _model(border_document)
    phones = sample(model, 1_000_000, seed=4, foreign_handset_share=0.0)
    share = model.population.countryside_share
    assert share == 0.25
    assert np.mean(phones.category == -1) == pytest.approx(share, abs=0.005)
    weights = np.array([t.population_weight for t in model.towns])
    for index, weight in enumerate(weights / weights.sum()):
        assert np.mean(phones.category == index) == pytest.approx((1 - share) * weight, abs=0.005)
    assert not model.border.is_foreign_side(phones.x_km, phones.y_km).any()
    x_min, y_min, x_max, y_max = model.bounds_km
    assert phones.x_km.min() >= x_min and phones.y_km.max() <= y_max


@pytest.mark.slow
def test_seven_million_phones_complete(border_document):
    result = population(_model(border_document), 7_000_000, seed=1)
    assert result.n_phones == 7_000_000
    assert sum(t.phones for t in result.towns) == 7_000_000
    print(f"7,000,000 phones in {result.elapsed_s:.1f} s")


def test_a_town_wholly_across_the_border_is_named_not_looped_on():
    section = minimal_section(
        towns=[
            {"name": "town", "position_km": [20, 20], "population_weight": 1},
            {"name": "beyond", "position_km": [20, 29], "population_weight": 1, "spread_km": 0.1},
        ]
    )
    with pytest.raises(ValueError, match="beyond"):
        sample(parse(section, "x", seed=1), 1_000, 1, 0.0)
