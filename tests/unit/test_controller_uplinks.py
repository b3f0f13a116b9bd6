"""The app with two uplinks: a port status from the border moves allowed traffic to the uplink
that is up, on fake datapaths (every message serialized and replayed into fake switches)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hermitnet import plan as plan_module
from hermitnet import scenario as scenario_module
from hermitnet.policy.state import PolicyState
from tests.unit.fakedatapath import build_app, connect_all, kind, ofp, parser, replay
from tests.unit.fakeswitch import FakeNetwork

UPLINKS = [{"name": "cable", "bw_mbps": 10}, {"name": "satellite", "bw_mbps": 2}]


@pytest.fixture
def two(scenario_dict, tmp_path, monkeypatch):
    loaded = scenario_module.from_dict(scenario_dict(uplinks=UPLINKS))
    plan = plan_module.build(loaded, run_tag=9, prefix="hnuq")
    app = build_app(plan, PolicyState.from_scenario(loaded), tmp_path, monkeypatch)
    datapaths = connect_all(app, plan)
    return SimpleNamespace(plan=plan, app=app, datapaths=datapaths,
                           switches=replay(plan, datapaths))


def port_status(test, uplink: str, down: bool, *, config_down: bool = False):
    switch, port = test.plan.uplink_ports()[uplink]
    datapath = test.datapaths[switch]
    desc = parser.OFPPort(port_no=port, hw_addr="02:00:00:00:00:01", name=b"x",
                          config=ofp.OFPPC_PORT_DOWN if config_down else 0,
                          state=ofp.OFPPS_LINK_DOWN if down and not config_down else 0,
                          curr=0, advertised=0, supported=0, peer=0, curr_speed=0, max_speed=0)
    msg = SimpleNamespace(datapath=datapath, desc=desc,
                          reason=ofp.OFPPR_MODIFY)
    test.app.port_status(SimpleNamespace(msg=msg))


def uplink_used(test, down=()):
    net = FakeNetwork(test.plan, test.switches, uplinks_down=frozenset(down))
    trace = net.send("phone-2", test.plan.host("video").ip)
    assert trace.delivered_to == "video", trace.hops
    assert net.send("video", test.plan.host("phone-2").ip).delivered_to == "phone-2"
    return next(name for name, (sw, port) in test.plan.uplink_ports().items()
                if trace.crossed(sw, port))


def test_an_uplink_going_down_moves_traffic_to_the_other_and_back(two):
    assert uplink_used(two) == "cable"
    port_status(two, "cable", down=True)
    sent = {name: dp.take() for name, dp in two.datapaths.items()}
    assert {name for name, messages in sent.items() if messages} == {"border"}
    assert kind(sent["border"][-1]) == "OFPBarrierRequest"
    for message in sent["border"]:
        two.switches["border"].apply_message(message)
    assert uplink_used(two, down=["cable"]) == "satellite"
    port_status(two, "cable", down=False)
    replay(two.plan, two.datapaths, two.switches)
    assert uplink_used(two) == "cable"
    view = two.app.uplinks_view()
    assert view["active"] == "cable"
    assert [(c["uplink"], c["down"], c["active"]) for c in view["changes"]] == [
        ("cable", True, "satellite"), ("cable", False, "cable")]


def test_a_port_administratively_down_counts_as_down_and_a_repeat_changes_nothing(two):
    port_status(two, "cable", down=True, config_down=True)
    replay(two.plan, two.datapaths, two.switches)
    assert two.app.uplinks_down == {"cable"}
    port_status(two, "cable", down=True, config_down=True)
    assert all(not dp.take() for dp in two.datapaths.values())
    assert len(two.app.uplink_changes) == 1


def test_the_standby_uplink_going_down_changes_no_route(two):
    port_status(two, "satellite", down=True)
    replay(two.plan, two.datapaths, two.switches)
    assert uplink_used(two, down=["satellite"]) == "cable"
    assert two.app.uplink_changes[-1]["active"] == "cable"


def test_a_policy_change_during_an_outage_keeps_the_failover(two):
    from hermitnet.policy import requests

    port_status(two, "cable", down=True)
    two.app.apply(requests.block_site(two.plan, two.app.state, {"site": "news"}))
    replay(two.plan, two.datapaths, two.switches)
    assert uplink_used(two, down=["cable"]) == "satellite"


def test_a_port_that_is_no_uplink_is_ignored(two):
    datapath = two.datapaths["core"]
    desc = SimpleNamespace(port_no=1, state=ofp.OFPPS_LINK_DOWN, config=0)
    two.app.port_status(SimpleNamespace(msg=SimpleNamespace(datapath=datapath, desc=desc)))
    assert two.app.uplinks_down == frozenset() and not datapath.take()
