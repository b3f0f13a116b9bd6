"""Emulated UEs: timeline, schedules, walking, cell kinds, shared rate, loss, determinism."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from hermitnet.radio import evaluate, parse
from hermitnet.radio.examples import minimal_section
from hermitnet.radio.link import block_error_rate, ip_loss_pct_from_sinr, rate_mbps_from_sinr
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


def test_block_error_curve_is_logistic_around_its_midpoint(border_model):
    link = border_model.link
    assert float(block_error_rate(link.bler_midpoint_db, link)) == pytest.approx(0.5)
    bler = block_error_rate(np.linspace(-30, 30, 61), link)
    assert np.all(np.diff(bler) <= 0)
    assert bler[0] > 0.999 and bler[-1] < 1e-8


def test_ip_loss_is_what_harq_and_rlc_leave_hand_computed(border_model):
    """midpoint -8 dB, slope 1 dB, 4 HARQ x 4 RLC transmissions, 38 PDUs of 40 B per 1500 B."""
    link = border_model.link
    assert (link.bler_midpoint_db, link.bler_slope_db) == (-8.0, 1.0)
    # -8 dB: bler 1/2, PDU lost 2**-16, packet 1 - (1 - 2**-16)**38
    assert float(ip_loss_pct_from_sinr(-8.0, link)) == pytest.approx(0.057967, rel=1e-4)
    # -9 dB: bler 1/(1+e^-1) = 0.731059; **16 = 0.0066631; 1 - 0.9933369**38 = 0.224142
    assert float(ip_loss_pct_from_sinr(-9.0, link)) == pytest.approx(22.4142, rel=1e-4)
    # -10 dB: bler 0.880797; **16 = 0.131224; 1 - 0.868776**38 = 0.995230
    assert float(ip_loss_pct_from_sinr(-10.0, link)) == pytest.approx(99.5230, rel=1e-4)
    # one transmission, one PDU: the loss is the block error rate itself
    one_shot = ip_loss_pct_from_sinr(
        -8.0, link, harq_transmissions=1, rlc_transmissions=1, ip_packet_bytes=40
    )
    assert float(one_shot) == pytest.approx(50.0)
    loss = ip_loss_pct_from_sinr(np.linspace(-30, 30, 61), link)
    assert np.all(np.diff(loss) <= 0)
    assert loss[0] == pytest.approx(100.0) and loss[-1] < 1e-12
