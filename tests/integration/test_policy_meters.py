"""Per-tier rate limits on real Open vSwitch: an OpenFlow meter per subscriber, below its air
link, sets what iperf3 gets; a live rate change over REST moves the throughput with it."""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from hermitnet import runner, scenario
from hermitnet.policy.compile import subscriber_meter_id
from hermitnet.workload import throughput
from tests.integration.conftest import REPO
from tests.integration.test_controller_live import api, dump_meters

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

AIR_MBPS = 5.0      # elite-1's air link in the baseline


def metered_baseline(rate_mbps: float):
    data = yaml.safe_load((REPO / "scenarios" / "baseline.yaml").read_text())
    data = copy.deepcopy(data)
    data["name"] = "baseline-metered"
    data["tiers"]["elite"]["rate_mbps"] = rate_mbps
    data["measure"]["throughput"]["flows"] = [{"from": "elite-1", "to": "video"}]
    return scenario.from_dict(data, source="baseline-metered")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    loaded = metered_baseline(1.0)
    out = tmp_path_factory.mktemp("meters")
    with runner.session(loaded, out, progress=lambda message: None) as session:
        yield session


def mbps(live, seconds: float = 4) -> float:
    report = throughput.iperf3(live.emu, "elite-1", live.plan.host("video").ip, seconds)
    assert "error" not in report, report["error"]
    return throughput.received_bps(report) / 1e6


def test_the_meter_is_installed_as_compiled(live):
    bridge = live.plan.switch("nb-pyongyang-1").node
    meter_id = subscriber_meter_id(live.plan, "elite-1")
    (compiled,) = live.compiled.meters
    assert dump_meters(bridge) == {meter_id: (compiled.rate_kbps, compiled.burst_kbit)}
    assert compiled.rate_kbps == 1000


def test_throughput_follows_the_meter_and_its_live_changes(live):
    bridge = live.plan.switch("nb-pyongyang-1").node
    meter_id = subscriber_meter_id(live.plan, "elite-1")
    limited = mbps(live)
    assert 0.6 <= limited <= 1.1, limited

    status, answer = api(live, "PUT", "/v1/tiers/elite/rate", {"rate_mbps": 3})
    assert status == 200 and answer["enforced"]["all_confirmed"], answer
    assert dump_meters(bridge) == {meter_id: (3000, 1500)}
    raised = mbps(live)
    assert 2.0 <= raised <= 3.3, raised

    status, answer = api(live, "PUT", "/v1/tiers/elite/rate", {"rate_mbps": None})
    assert status == 200
    assert dump_meters(bridge) == {}
    free = mbps(live)
    assert free > 3.5 and free <= AIR_MBPS * 1.05, free     # back to the air link's HTB rate
    print(f"elite-1 -> video: meter 1 Mbit/s: {limited:.2f}, 3 Mbit/s: {raised:.2f}, "
          f"none (air link {AIR_MBPS:g}): {free:.2f} Mbit/s")


def test_meter_drops_are_counted(live):
    time.sleep(2.5)
    status, line = api(live, "GET", "/v1/counters")
    assert status == 200
    assert line["meters"]["elite"]["band_drop_packets"] > 0
    assert line["meters_by_subscriber"]["elite-1"]["in_packets"] > 0
