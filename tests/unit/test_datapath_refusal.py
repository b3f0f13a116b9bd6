"""The controller serves only the run's own switches: a datapath id outside the plan is refused
(its connection closed before it gets anything), logged, and counted in GET /v1/health."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

from webob import Request

from hermitnet.policy.state import PolicyState
from tests.unit.fakedatapath import FakeDatapath, build_app, connect_all, tiered_routing


def _features(app, datapath) -> None:
    app.switch_features(SimpleNamespace(msg=SimpleNamespace(datapath=datapath)))


def _health(app) -> dict:
    wsgi = tiered_routing.WSGIApplication()
    tiered_routing.PolicyApi.register(wsgi, app)
    response = Request.blank("/v1/health").get_response(wsgi)
    assert response.status_int == 200
    return json.loads(response.body)


def test_an_unknown_datapath_is_closed_logged_and_counted(baseline, baseline_plan, tmp_path,
                                                          monkeypatch, caplog):
    app = build_app(baseline_plan, PolicyState.from_scenario(baseline), tmp_path, monkeypatch)
    known = {s.dpid for s in baseline_plan.switches if s.controlled}
    stranger_dpid = max(known) + 1
    caplog.set_level(logging.WARNING, logger="hermitnet.controller")
    for _ in range(2):                          # a switch that keeps reconnecting
        stranger = FakeDatapath(stranger_dpid, app)
        stranger.address = ("127.0.0.1", 40000)
        _features(app, stranger)
        assert stranger.closed and stranger.wire == []
    assert app.datapaths == {}
    assert f"refused switch {stranger_dpid:016x} from ('127.0.0.1', 40000)" in caplog.text
    health = _health(app)
    assert health["refused_datapaths"] == 2
    assert health["refused_dpids"] == {f"{stranger_dpid:016x}": 2}
    assert app.exceptions == 0

    # the run's own switches are still served, and not closed
    datapaths = connect_all(app, baseline_plan)
    assert set(app.datapaths) == known
    assert all(not d.closed and d.wire for d in datapaths.values())
    assert all(_health(app)["switches"].values())
    assert _health(app)["refused_datapaths"] == 2
