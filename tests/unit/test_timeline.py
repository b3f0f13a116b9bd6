"""The radio timeline's pure parts: when it samples, what an attachment does to the air link."""

from __future__ import annotations

from pathlib import Path

from hermitnet import scenario
from hermitnet.plan import MIN_AIR_RATE_MBPS
from hermitnet.radio import Attachment
from hermitnet.workload.timeline import air_link_of, sample_times

REPO = Path(__file__).resolve().parents[2]


def _attachment(cell, rate=1.5, loss=2.0):
    return Attachment("ue", cell, "foreign" if cell else None, -3.0, rate, loss, -10.0, (0, 0))


def test_no_serving_cell_drops_everything():
    assert air_link_of(_attachment(None, rate=0.0, loss=100.0)) == (MIN_AIR_RATE_MBPS, 100.0)
    assert air_link_of(_attachment(None, rate=3.0, loss=0.0)) == (MIN_AIR_RATE_MBPS, 100.0)


def test_a_serving_cell_gives_its_rate_and_loss():
    assert air_link_of(_attachment("changbai-1", rate=0.96, loss=3.7)) == (0.96, 3.7)
    assert air_link_of(_attachment("c", rate=0.0, loss=0.0))[0] == MIN_AIR_RATE_MBPS


def test_samples_cover_every_edge_every_step_and_the_end():
    loaded = scenario.load(REPO / "scenarios" / "border.yaml")
    times = sample_times(loaded.radio, 60.0)
    assert times[0] == 0.0 and times[-1] == 60.0
    assert {10.0, 40.0} <= set(times)  # the east jammer's schedule
    steps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(steps) <= loaded.radio.reevaluate_s + 1e-9
    assert times == sorted(set(times))
