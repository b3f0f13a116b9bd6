"""The userspace delay line on the real kernel: two namespaces, then the baseline scenario.

The namespace tests build a veth pair between namespaces dlxa and dlxb (bench/bench_delay_line.py,
removed afterwards) and put the delay line on both ends, as on a shaped link of a run.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess

import pytest

from bench.bench_delay_line import IP_B, A, B, delay_process, namespace_pair, ping_rtts
from hermitnet import runner, scenario
from hermitnet.emulation import capabilities
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module", autouse=True)
def needs_the_delay_line():
    if not capabilities.detect().userspace_delay:
        pytest.skip("this kernel lacks what the delay line needs (TAP, tc clsact, bpf, mirred)")


def _tolerance_ms(configured_ms: float) -> float:
    return max(1.0, 0.05 * configured_ms)


@pytest.mark.parametrize("rtt_ms", [40, 100])
def test_ping_rtt_is_the_configured_one(rtt_ms):
    with namespace_pair():
        base_ms = statistics.mean(ping_rtts(10, 0.05))
        with delay_process(rtt_ms / 2) as (_, counters):
            ping_rtts(2)                      # neighbour resolution crosses the line too
            got = ping_rtts(50, 0.05)
    assert len(got) == 50
    assert abs(statistics.mean(got) - base_ms - rtt_ms) <= _tolerance_ms(rtt_ms), got
    assert min(got) >= rtt_ms - _tolerance_ms(rtt_ms), got
    assert counters["dlxa0"]["forwarded"] >= 52 and counters["dlxb0"]["forwarded"] >= 52


def test_loss_within_a_binomial_interval():
    """20 % loss on each end: 500 pings, 99.9 % two-sided binomial interval."""
    n, p = 500, 0.2
    with namespace_pair(), delay_process(1.0, loss_pct=p * 100) as (_, counters):
        out = subprocess.run(["ip", "netns", "exec", A, "ping", "-n", "-q", "-c", str(n), "-i",
                              "0.01", "-W", "1", IP_B], capture_output=True, text=True).stdout
    received = int(out.split(" received")[0].rsplit(",", 1)[1])
    # Both ends drop: a ping comes back with probability (1 - p)^2.
    q = (1 - p) ** 2
    half_width = 3.29 * math.sqrt(n * q * (1 - q))
    assert abs(received - n * q) <= half_width, (received, n * q, half_width)
    dropped = sum(c["lost"] for c in counters.values())
    assert dropped == pytest.approx(n * (1 - q), abs=half_width + 10), counters


def test_tcp_at_2_mbps_and_80_ms():
    """One TCP flow over a 2 Mbit/s HTB link with 80 ms RTT gets close to the rate."""
    with namespace_pair(bw_mbps=2), delay_process(40.0):
        server = subprocess.Popen(["ip", "netns", "exec", B, "iperf3", "-s", "-1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ping_rtts(2)
            done = subprocess.run(["ip", "netns", "exec", A, "iperf3", "-c", IP_B, "-t", "10",
                                   "-J"], capture_output=True, text=True, timeout=60)
            server.wait(timeout=10)
        finally:
            if server.poll() is None:
                server.kill()
    report = json.loads(done.stdout)
    mbps = report["end"]["sum_received"]["bits_per_second"] / 1e6
    # Slow start over 80 ms costs a few hundred ms of the 10 s; HTB caps it at the rate.
    assert 0.85 * 2 <= mbps <= 2.05, mbps


def test_stopping_removes_taps_and_filters():
    with namespace_pair():
        with delay_process(5.0) as (process, counters):
            taps = subprocess.run(["ip", "-n", A, "-o", "link", "show", "dlxd0"],
                                  capture_output=True, text=True)
            assert taps.returncode == 0
        assert process.returncode == 0 and counters
        for ns, intf, tap in ((A, "dlxa0", "dlxd0"), (B, "dlxb0", "dlxd1")):
            qdiscs = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev",
                                     intf], capture_output=True, text=True).stdout
            assert "clsact" not in qdiscs
            gone = subprocess.run(["ip", "-n", ns, "link", "show", tap], capture_output=True)
            assert gone.returncode != 0
        assert max(ping_rtts(5, 0.05)) < 5      # undelayed again


@pytest.mark.slow
def test_baseline_rtts_with_the_delay_line(tmp_path):
    """The baseline run on the delay line: RTTs as configured, nothing left behind.

    The run's own RTT rows are 5 pings right after each throughput test. On the live network
    (runner's `after` hook) each flow's path is pinged 20 times, then the delay process is
    stopped (it takes its filters off: the links carry frames undelayed, HTB stays) and the
    same paths are pinged again: what the delay line adds is the difference of the medians,
    held to the tolerance; the rest is the userspace datapath's processing on every switch,
    there with netem too (1-1.5 ms on the 10 ms path when the machine is loaded).
    """
    caps = capabilities.detect(delay_line="userspace")
    loaded = scenario.load(REPO / "scenarios" / "baseline.yaml")
    medians: dict[str, dict[str, float | None]] = {"delayed": {}, "undelayed": {}}

    def ping_paths(live, key):
        for flow in loaded.flows:
            done = live.emu.run(flow.src, ["ping", "-n", "-c", "22", "-i", "0.05", "-W", "2",
                                           live.plan.host(flow.dst).ip], timeout_s=30)
            rtts = [float(x.split("time=")[1].split()[0]) for x in done.stdout.splitlines()
                    if "time=" in x][2:]
            medians[key][flow.src] = statistics.median(rtts) if rtts else None

    def delayed_then_not(live):
        ping_paths(live, "delayed")
        line = next(p for p in live.emu.processes if "hermitnet.emulation.delayline" in p.args)
        live.watchdog.expect_down("delay line")       # planned: no fault for the run
        line.terminate()
        assert line.wait(timeout=10) == 0
        ping_paths(live, "undelayed")

    run_dir, results = runner.run(loaded, tmp_path, progress=lambda message: None, caps=caps,
                                  after=delayed_then_not)
    (tmp_path / "delay-line-rtt.json").write_text(json.dumps(
        {"rtt": results["rtt"], "medians": medians}, indent=1))
    env = results["environment"]
    assert env["delay_line"] == "userspace"
    assert not any("delay_ms" in line for line in env["not_emulated"]), env["not_emulated"]
    assert results["rtt"]
    for row in results["rtt"]:
        configured = row["configured_delay_ms"]
        assert configured > 0, row
        assert row["rtt_ms_min"] >= configured, row        # never faster than configured
        delayed, undelayed = medians["delayed"][row["src"]], medians["undelayed"][row["src"]]
        assert delayed is not None and undelayed is not None, (row, medians)
        assert abs(delayed - undelayed - configured) <= _tolerance_ms(configured), (
            row, medians)
    for row in results["throughput"]:
        assert row["bps"] >= 0.85 * row["expected_bps"], row
    assert leftovers(results["run_id"]) == []
    assert not any("hermitnet.emulation.delayline" in line for line in subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines())
    assert os.path.exists(run_dir / "results.json")
