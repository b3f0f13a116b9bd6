"""topologies/national3g.py is a plain Mininet Topo: usable by hand, without hermitnet's run."""

from __future__ import annotations

from functools import partial

import pytest
from mininet.net import Mininet
from mininet.node import OVSSwitch

from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _load_like_mn_custom(path) -> dict:
    """What `mn --custom FILE` does: exec the file in a fresh namespace (no __file__)."""
    customs: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), customs, customs)
    assert "__file__" not in customs
    return customs


def test_the_topo_builds_and_every_host_pings_every_other(monkeypatch):
    monkeypatch.chdir(REPO)   # `mn --topo national3g,scenarios/baseline.yaml` from the checkout
    customs = _load_like_mn_custom(REPO / "topologies" / "national3g.py")
    topo = customs["topos"]["national3g"]("scenarios/baseline.yaml", prefix="hnmt")
    assert len(topo.hosts()) == 19 and len(topo.switches()) == 8
    net = Mininet(topo=topo, switch=partial(OVSSwitch, datapath="user", failMode="standalone"),
                  controller=None, autoSetMacs=False, waitConnected=False)
    try:
        net.start()
        dropped = net.pingAll(timeout=2)
    finally:
        net.stop()
    assert dropped == 0
    assert leftovers("hnmt") == []


def test_the_topo_takes_a_shipped_scenario_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    customs = _load_like_mn_custom(REPO / "topologies" / "national3g.py")
    topo = customs["topos"]["national3g"]("border", prefix="hnmu")
    assert "hnmus1" in topo.switches() and len(topo.hosts()) > 0
