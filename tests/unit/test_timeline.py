"""The radio timeline's pure parts: when it samples, what radio state does to an air link."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermitnet import plan, scenario
from hermitnet.plan import MIN_AIR_RATE_MBPS, air_link_spec
from hermitnet.radio import Attachment
from hermitnet.scenario import LinkSpec
from hermitnet.workload.timeline import sample_times

REPO = Path(__file__).resolve().parents[2]
BASE = LinkSpec(bw_mbps=2.0, delay_ms=80.0, jitter_ms=0.0, loss_pct=0.5)


def _attachment(cell, rate=1.5, loss=2.0):
    return Attachment("ue", cell, "foreign" if cell else None, -3.0, rate, loss, -10.0, (0, 0))


def test_no_serving_cell_drops_everything():
    for gone in (_attachment(None, rate=0.0, loss=100.0), _attachment(None, rate=3.0, loss=0.0)):
        spec = air_link_spec(BASE, gone)
        assert (spec.bw_mbps, spec.loss_pct) == (MIN_AIR_RATE_MBPS, 100.0)


def test_a_serving_cell_gives_its_rate_and_loss_and_keeps_the_delay():
    spec = air_link_spec(BASE, _attachment("changbai-1", rate=0.96, loss=3.7))
    assert spec == LinkSpec(bw_mbps=0.96, delay_ms=80.0, jitter_ms=0.0, loss_pct=3.7)
    assert air_link_spec(BASE, _attachment("c", rate=0.0, loss=0.0)).bw_mbps == MIN_AIR_RATE_MBPS


@pytest.fixture(scope="module")
def border():
    return scenario.load(REPO / "scenarios" / "border.yaml")


def test_the_plan_lays_air_links_out_from_the_radio_state_at_t0(border):
    """The timeline's first step is the plan's t = 0 state: the same rule, evaluated once."""
    layout = plan.build(border)
    assert set(layout.radio_t0) == {ue.name for ue in border.radio.ues}
    subscribers = {s.name: s for s in border.subscribers}
    for name, attachment in layout.radio_t0.items():
        link = next(lk for lk in layout.links if lk.a == name)
        assert link.kind == "air"
        assert link.spec == air_link_spec(subscribers[name].link, attachment)
        assert air_link_spec(link.spec, attachment) == link.spec   # t = 0: nothing to re-shape


def test_the_t0_radio_state_stays_out_of_the_serialized_plan(border):
    layout = plan.build(border)
    data = layout.to_dict()
    assert "radio_t0" not in data
    assert plan.Plan.from_dict(data) == layout


def test_samples_cover_every_edge_every_step_and_the_end():
    loaded = scenario.load(REPO / "scenarios" / "border.yaml")
    times = sample_times(loaded.radio, 60.0)
    assert times[0] == 0.0 and times[-1] == 60.0
    assert {10.0, 40.0} <= set(times)  # the east jammer's schedule
    steps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(steps) <= loaded.radio.reevaluate_s + 1e-9
    assert times == sorted(set(times))


def test_the_console_hears_of_a_phone_only_when_its_serving_cell_changes():
    from hermitnet.workload.timeline import cell_changes

    serving = {"walker-1": "changbai-1", "smuggler-1": "changbai-1"}
    same_cell_new_rate = {"walker-1": _attachment("changbai-1", rate=0.4),
                          "smuggler-1": _attachment("changbai-1", rate=0.9)}
    assert cell_changes(serving, same_cell_new_rate) == []
    jammed = {"walker-1": _attachment("changbai-1"), "smuggler-1": _attachment(None)}
    assert cell_changes(serving, jammed) == ["smuggler-1: changbai-1 -> no service"]
    assert serving == {"walker-1": "changbai-1", "smuggler-1": None}
    assert cell_changes(serving, jammed) == []   # told once


def test_a_row_counts_the_bytes_of_its_step_and_the_total():
    from types import SimpleNamespace

    from hermitnet.workload.timeline import _row

    flows = [SimpleNamespace(src="smuggler-1", dst="world-news")]
    attachments = {"smuggler-1": _attachment("changbai-1")}
    first = _row(0.0, 0.0, attachments, [], flows,
                 {"world-news": {"smuggler-1": {"bytes": 1000}}}, {})
    second = _row(1.0, 1.0, attachments, [], flows,
                  {"world-news": {"smuggler-1": {"bytes": 9000}}}, first["arrived_bytes_total"])
    assert first["arrived_bytes"] == {"smuggler-1->world-news": 1000}
    assert second["arrived_bytes"] == {"smuggler-1->world-news": 8000}
    assert second["arrived_bytes_total"] == {"smuggler-1->world-news": 9000}
