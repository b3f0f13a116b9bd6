"""topologies/national3g.py is a plain Mininet Topo: usable by hand, without hermitnet's run."""

from __future__ import annotations

from functools import partial

import pytest
from mininet.net import Mininet
from mininet.node import OVSSwitch

from tests.integration.conftest import REPO, leftovers
from topologies.national3g import National3GTopo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_the_topo_builds_and_every_host_pings_every_other():
    topo = National3GTopo(scenario=str(REPO / "scenarios" / "baseline.yaml"), prefix="hnmt")
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
