"""Emulated UEs: timeline, schedules, walking, cell kinds, shared rate, loss, determinism."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from hermitnet.radio import evaluate, parse
from hermitnet.radio.examples import minimal_section
from hermitnet.radio.link import loss_pct_from_sinr, rate_mbps_from_sinr
from hermitnet.radio.model import DutyCycle

BORDER_YAML = Path(__file__).resolve().parents[2] / "scenarios" / "border.yaml"


@pytest.fixture(scope="module")
def border_model():
    document = yaml.safe_load(BORDER_YAML.read_text())
    return parse(document["radio"], str(BORDER_YAML), seed=document["seed"])


def test_timeline_has_jammer_edges_and_walking_steps(border_model):
    steps = border_model.timeline_steps(60.0)
    assert steps[0] == 0.0
    assert {10.0, 40.0, 20.0, 30.0} <= set(steps)  # schedule edges, duty-cycle edges
    assert all(b > a for a, b in zip(steps, steps[1:], strict=False))
    walking = [t for t in steps if 5.0 <= t <= 55.0]
    assert all(
        b - a <= border_model.reevaluate_s for a, b in zip(walking, walking[1:], strict=False)
    )


def test_duty_cycle_edges_and_state():
    duty = DutyCycle(period_s=20.0, on_fraction=0.25, offset_s=5.0)
    assert duty.edges_s(50.0) == [5.0, 10.0, 25.0, 30.0, 45.0]
    assert [duty.is_on(t) for t in (0.0, 5.0, 9.9, 10.0, 25.0)] == [False, True, True, False, True]


def test_switching_the_east_jammer_on_drops_the_smuggler_and_off_restores_it(border_model):
    before, during, after = (evaluate(border_model, t)["smuggler-1"] for t in (9.0, 10.0, 40.0))
    assert before.cell_kind == "foreign" and before.rate_mbps > 0
    assert during.cell is None and during.rate_mbps == 0 and during.loss_pct == 100
    assert after.cell == before.cell


def test_walker_finds_a_foreign_cell_away_from_town(border_model):
    start, end = evaluate(border_model, 0.0)["walker-1"], evaluate(border_model, 55.0)["walker-1"]
    assert start.cell is None
    assert end.cell_kind == "foreign"
    assert end.position_km == (8.0, 27.0)


def test_national_sims_and_visitors_stay_on_national_cells(border_model):
    for t_s in border_model.timeline_steps(60.0)[::7]:
        attachments = evaluate(border_model, t_s)
        for ue in border_model.ues:
            if ue.handset == "national":
                assert attachments[ue.name].cell_kind in ("national", None)
            else:
                assert attachments[ue.name].cell_kind in ("foreign", None)


def test_ues_on_one_cell_share_its_rate():
    section = minimal_section(ues=[{"name": "alone", "tier": "citizen", "town": "town"}])
    alone = evaluate(parse(section, "x", seed=1), 0.0)["alone"]
    section["ues"].append({"name": "twin", "tier": "citizen", "town": "town"})
    shared = evaluate(parse(section, "x", seed=1), 0.0)
    assert shared["alone"].cell == shared["twin"].cell == alone.cell
    assert shared["alone"].rate_mbps == pytest.approx(alone.rate_mbps / 2, abs=1e-3)


def test_evaluate_is_deterministic_under_the_seed(border_model):
    assert evaluate(border_model, 20.0) == evaluate(border_model, 20.0)
    reseeded = replace(border_model, seed=border_model.seed + 1)
    sinrs = {a.sinr_db for a in evaluate(border_model, 20.0).values()}
    assert sinrs != {a.sinr_db for a in evaluate(reseeded, 20.0).values()}


def test_rate_curve_is_capped_truncated_and_monotone(border_model):
    link = border_model.link
    sinr_db = np.linspace(-20, 40, 121)
    rate = rate_mbps_from_sinr(sinr_db, 7.2, link)
    assert np.all(np.diff(rate) >= 0)
    assert rate.max() == 7.2
    assert np.all(rate[sinr_db < link.sinr_min_db] == 0)
    # 0.6 * 3.84 MHz * log2(1 + 1) at 0 dB
    assert float(rate_mbps_from_sinr(0.0, 21.0, link)) == pytest.approx(2.304)
    assert float(rate_mbps_from_sinr(30.0, 0.384, link)) == pytest.approx(0.384)


def test_loss_curve_is_logistic_around_its_midpoint(border_model):
    link = border_model.link
    assert float(loss_pct_from_sinr(link.bler_midpoint_db, link)) == pytest.approx(50.0)
    loss = loss_pct_from_sinr(np.linspace(-30, 30, 61), link)
    assert np.all(np.diff(loss) <= 0)
    assert loss[0] > 99.9 and loss[-1] < 1e-6
