"""Throughput (iperf3, JSON) and round-trip times (ping) of the scenario's measured flows."""

from __future__ import annotations

import json
import re

from hermitnet.errors import HermitError
from hermitnet.workload.servers import IPERF_PORT


def bottleneck_mbps(plan, state, src: str, dst: str) -> float | None:
    """The lowest configured rate on the path: shaped links and the source tier's meter."""
    rates = [link.spec.bw_mbps for link in plan.path_links(src, dst) if link.spec.bw_mbps]
    tier_rate = state.tier_rate_mbps.get(state.membership.get(src, ""), None)
    if tier_rate:
        rates.append(tier_rate)
    return min(rates) if rates else None


def configured_one_way_delay_ms(plan, src: str, dst: str) -> float:
    return sum(link.spec.delay_ms for link in plan.path_links(src, dst))


def iperf3(emu, src: str, dst_ip: str, seconds: float) -> dict:
    argv = ["iperf3", "-c", dst_ip, "-p", str(IPERF_PORT), "-t", f"{seconds:g}", "-O", "1",
            "-J", "--connect-timeout", "3000"]
    done = emu.run(src, argv, timeout_s=seconds + 30)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise HermitError(f"iperf3 from {src} to {dst_ip} gave no JSON: "
                          f"{done.stderr.strip() or done.stdout[:200]}") from None
    return report


def received_bps(report: dict) -> float:
    """Goodput at the receiver; 0 when the test could not run (e.g. the policy drops it)."""
    if "error" in report:
        return 0.0
    return float(report["end"]["sum_received"]["bits_per_second"])


_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


def ping(emu, src: str, dst_ip: str, count: int = 5) -> tuple[float, float] | None:
    """(min, avg) RTT in ms, or None when no reply came back."""
    done = emu.run(src, ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "2", dst_ip],
                   timeout_s=count * 2 + 10)
    match = _RTT.search(done.stdout)
    if not match:
        return None
    return float(match.group(1)), float(match.group(2))


def measure(emu, scenario, state, progress) -> tuple[list[dict], list[dict]]:
    plan = emu.plan
    throughput, rtt = [], []
    for flow in scenario.flows:
        dst_ip = plan.host(flow.dst).ip
        tier = state.membership[flow.src]
        progress(f"throughput {flow.src} ({tier}) -> {flow.dst}")
        report = iperf3(emu, flow.src, dst_ip, scenario.throughput_seconds)
        expected = bottleneck_mbps(plan, state, flow.src, flow.dst)
        throughput.append({
            "tier": tier, "src": flow.src, "dst": flow.dst, "protocol": "tcp",
            "bps": received_bps(report), "seconds": scenario.throughput_seconds,
            "expected_bps": expected * 1e6 if expected else None,
            "error": report.get("error"),
        })
        measured = ping(emu, flow.src, dst_ip)
        rtt.append({
            "tier": tier, "src": flow.src, "dst": flow.dst,
            "rtt_ms_min": measured[0] if measured else None,
            "rtt_ms_avg": measured[1] if measured else None,
            "configured_delay_ms": 2 * configured_one_way_delay_ms(plan, flow.src, flow.dst),
        })
    return throughput, rtt
