"""Throughput helpers: expected bottleneck and delay on the baseline, iperf3 and ping output."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from hermitnet.errors import HermitError
from hermitnet.policy.state import PolicyState
from hermitnet.workload import throughput


class FakeEmu:
    """Stands in for the live emulation: `run` records the command and returns fixed output."""

    def __init__(self, stdout: str, stderr: str = ""):
        self.stdout, self.stderr = stdout, stderr
        self.calls = []

    def run(self, node, argv, timeout_s=None):
        self.calls.append((node, argv))
        return SimpleNamespace(stdout=self.stdout, stderr=self.stderr, returncode=0)


@pytest.fixture
def state(baseline):
    return PolicyState.from_scenario(baseline)


@pytest.mark.parametrize("src,dst,mbps", [
    ("citizen-1", "university", 2.0),   # air 2 Mbit/s < backhaul 100
    ("elite-1", "video", 5.0),          # own air link 5 < uplink 10
    ("visitor-1", "shop", 4.0),
    ("library-1", "news", 10.0),        # fixed line
])
def test_bottleneck_on_the_baseline(baseline_plan, state, src, dst, mbps):
    assert throughput.bottleneck_mbps(baseline_plan, state, src, dst) == mbps


def test_bottleneck_includes_the_tier_meter(baseline_plan, state):
    limited = dataclasses.replace(state, tier_rate_mbps={**state.tier_rate_mbps, "elite": 1.5})
    assert throughput.bottleneck_mbps(baseline_plan, limited, "elite-1", "video") == 1.5
    roomy = dataclasses.replace(state, tier_rate_mbps={**state.tier_rate_mbps, "elite": 50})
    assert throughput.bottleneck_mbps(baseline_plan, roomy, "elite-1", "video") == 5.0

    # a download is what the site sends: the tier's meter polices only what a subscriber sends
    assert throughput.bottleneck_mbps(baseline_plan, limited, "elite-1", "video",
                                      "download") == 5.0


def test_a_download_runs_iperf3_in_reverse_and_keeps_the_client_intervals():
    emu = FakeEmu('{"intervals": [{"sum": {"end": 1.0, "bits_per_second": 2e6}}], '
                  '"server_output_json": {"intervals": [{"sum": {"end": 1.0, '
                  '"bits_per_second": 9e6}}]}}')
    report = throughput.iperf3(emu, "elite-1", "198.18.0.12", 5, download=True)
    (_, argv), = emu.calls
    assert argv[-1] == "-R"
    assert throughput.interval_series(report, 10.0, download=True) == [
        {"t_s": 11.0, "mbps": 2.0, "omitted": False}]           # what the client received
    assert throughput.interval_series(report, 10.0)[0]["mbps"] == 9.0   # upload: the server's


def test_bottleneck_of_an_unshaped_path_is_none(baseline_plan, state):
    assert throughput.bottleneck_mbps(baseline_plan, state, "news", "university") is None


def test_configured_one_way_delay(baseline_plan):
    # air 40 + backhaul 2 + core 0 + core 0 + uplink 30 + server 0
    assert throughput.configured_one_way_delay_ms(baseline_plan, "citizen-1", "video") == 72
    assert throughput.configured_one_way_delay_ms(baseline_plan, "library-1", "news") == 5
    assert throughput.configured_one_way_delay_ms(baseline_plan, "news", "news") == 0


def test_received_bps():
    report = {"end": {"sum_received": {"bits_per_second": 1.9e6},
                      "sum_sent": {"bits_per_second": 2.1e6}}}
    assert throughput.received_bps(report) == 1.9e6


def test_received_bps_of_an_iperf3_error_is_zero():
    report = {"start": {}, "intervals": [], "end": {},
              "error": "unable to connect to server: Connection timed out"}
    assert throughput.received_bps(report) == 0.0


@pytest.mark.parametrize("stdout,expected", [
    ("5 packets transmitted, 5 received, 0% packet loss, time 803ms\n"
     "rtt min/avg/max/mdev = 84.101/84.532/85.003/0.321 ms\n", (84.101, 84.532)),
    ("1 packets transmitted, 1 received\nrtt min/avg/max/mdev = 0.045/0.045/0.045/0.000 ms\n",
     (0.045, 0.045)),
    ("5 packets transmitted, 0 received, 100% packet loss, time 4085ms\n", None),
])
def test_ping_summary(stdout, expected):
    emu = FakeEmu(stdout)
    assert throughput.ping(emu, "citizen-1", "10.1.0.10", count=3) == expected
    (src, argv), = emu.calls
    assert src == "citizen-1" and argv[0] == "ping" and argv[-1] == "10.1.0.10"
    assert argv[argv.index("-c") + 1] == "3"


def test_iperf3_without_json_is_an_error():
    emu = FakeEmu("", stderr="iperf3: error - unable to connect")
    with pytest.raises(HermitError, match="gave no JSON: iperf3: error - unable to connect"):
        throughput.iperf3(emu, "citizen-1", "10.1.0.12", 5)
    (_, argv), = emu.calls
    assert "-J" in argv and argv[argv.index("-t") + 1] == "5"


def test_iperf3_error_report_is_returned_as_is():
    emu = FakeEmu('{"error": "unable to connect to server"}')
    report = throughput.iperf3(emu, "citizen-1", "198.18.0.12", 5)
    assert throughput.received_bps(report) == 0.0


def test_goodput_factor_is_tcp_payload_over_the_ethernet_frame():
    # 1500 - 20 (IPv4) - 20 (TCP) - 12 (timestamps) = 1448 in a 1514-byte frame
    assert throughput.MSS_BYTES == 1500 - 20 - 20 - 12
    assert pytest.approx(0.9564, abs=1e-4) == throughput.GOODPUT_FACTOR


def test_expectation_of_an_allowed_flow(baseline_plan, state):
    expected = throughput.expectation(baseline_plan, state, "citizen-1", "university", 80.0)
    assert expected["configured_bottleneck_bps"] == 2e6 and not expected["blocked"]
    assert expected["expected_goodput_bps"] == pytest.approx(2e6 * 1448 / 1514)
    assert throughput.verdict(1.9e6, expected) == "ok"
    assert throughput.verdict(1.0e6, expected) == "slow"


def test_a_forbidden_flow_is_blocked_not_slow(baseline_plan, state):
    expected = throughput.expectation(baseline_plan, state, "citizen-1", "video", None)
    assert expected["blocked"] and expected["expected_goodput_bps"] == 0.0
    assert throughput.verdict(0.0, expected) == "blocked"
    assert throughput.verdict(5e5, expected) == "leaked"


def test_loss_on_the_path_caps_goodput_at_the_mathis_bound(baseline, state):
    from hermitnet import plan
    from hermitnet.scenario import LinkSpec

    layout = plan.build(baseline, run_tag=3)
    lossy = dataclasses.replace(layout, links=tuple(
        dataclasses.replace(link, spec=LinkSpec(2.0, 40, 0, 1.0)) if link.a == "citizen-1"
        else link for link in layout.links))
    expected = throughput.expectation(lossy, state, "citizen-1", "university", 100.0)
    # 1448 B * 8 / 0.1 s * sqrt(1.5) / sqrt(0.01) = 1.419 Mbit/s < 2 Mbit/s * 0.956
    assert expected["loss_pct"] == pytest.approx(1.0)
    assert expected["expected_goodput_bps"] == pytest.approx(1448 * 8 / 0.1 * 1.5 ** 0.5 / 0.1)
    assert "Mathis" in expected["basis"]
    no_service = dataclasses.replace(layout, links=tuple(
        dataclasses.replace(link, spec=LinkSpec(0.01, 0, 0, 100.0)) if link.a == "citizen-1"
        else link for link in layout.links))
    gone = throughput.expectation(no_service, state, "citizen-1", "university", None)
    assert gone["expected_goodput_bps"] == 0.0 and "no radio service" in gone["basis"]
