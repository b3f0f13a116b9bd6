"""The results' control_plane block: controller outages and what crossed the uplink meanwhile."""

from __future__ import annotations

import pytest

from hermitnet import runner
from hermitnet.errors import HermitError
from hermitnet.workload import control_plane


def outage(component="controller", down=10.0, up=20.0, planned=True):
    return {"component": component, "down_at_s": down, "up_at_s": up,
            "gap_s": None if up is None else up - down, "planned": planned,
            "detail": "exited with -9"}


def test_crossings_while_down_until_the_lease_ran_out():
    frames = [(9.0, False), (10.5, False), (13.9, False), (25.0, False)]
    block = control_plane.summary([outage(), outage("uplink")], 5.0, frames)
    [seen] = block["outages"]
    assert (seen["crossed"], seen["forbidden"], seen["last_crossing_s"], seen["after_lease"]) \
        == (2, 0, 3.9, 0)
    assert block["border_closed"] and block["down_s"] == 10.0 and block["lease_s"] == 5.0


def test_a_crossing_after_the_lease_or_a_forbidden_one_means_the_border_was_open():
    late = control_plane.summary([outage()], 5.0, [(16.5, False)])
    assert late["outages"][0]["after_lease"] == 1 and not late["border_closed"]
    forbidden = control_plane.summary([outage()], 5.0, [(11.0, True)])
    assert forbidden["outages"][0]["forbidden"] == 1 and not forbidden["border_closed"]


def test_down_until_the_end_counts_every_later_frame():
    block = control_plane.summary([{**outage(up=None), "gap_s": 30.0}], 5.0, [(39.0, False)])
    assert block["outages"][0]["after_lease"] == 1 and block["down_s"] == 30.0


def test_an_unreadable_capture_is_not_measured_never_zero():
    block = control_plane.summary([outage()], 5.0, None, capture_error="cannot read x")
    assert block["outages"][0]["crossed"] is None and "border_closed" not in block
    assert block["capture_error"] == "cannot read x"


def test_unplanned_outages_fail_the_run_naming_each_with_its_time():
    runner._fail_on_faults([outage(planned=True)])
    with pytest.raises(HermitError) as caught:
        runner._fail_on_faults([outage("site:video", 3.0, 4.5, planned=False)])
    assert "site:video down at t=3.00 s for 1.50 s" in str(caught.value)
