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


def iperf3(emu, src: str, dst_ip: str, seconds: float, omit_s: int = 1) -> dict:
    """An iperf3 TCP test; its JSON report, with the receiver's own per-second intervals
    (--get-server-output) when the test ran."""
    argv = ["iperf3", "-c", dst_ip, "-p", str(IPERF_PORT), "-t", f"{seconds:g}", "-O",
            str(omit_s), "-i", "1", "-J", "--get-server-output", "--connect-timeout", "3000"]
    done = emu.run(src, argv, timeout_s=seconds + 60)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise HermitError(f"iperf3 from {src} to {dst_ip} gave no JSON: "
                          f"{done.stderr.strip() or done.stdout[:200]}") from None
    return report


def interval_series(report: dict, start_s: float) -> list[dict]:
    """The 1 s interval reports as [{t_s, mbps}], t_s the end of each interval on the run's
    clock (the flow started at start_s). The receiver's intervals where iperf3 returned them
    (what arrived), else the sender's."""
    server = report.get("server_output_json") or {}
    intervals = server.get("intervals") or report.get("intervals") or []
    return [{"t_s": round(start_s + float(i["sum"]["end"]), 3),
             "mbps": round(float(i["sum"]["bits_per_second"]) / 1e6, 4),
             "omitted": bool(i["sum"].get("omitted", False))}
            for i in intervals if "sum" in i]


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


def path_kind(plan, src: str, dst: str) -> str:
    """"uplink" when the flow crosses the international uplink, else "national"."""
    return "uplink" if any(link.kind == "uplink" for link in plan.path_links(src, dst)) \
        else "national"


def run_flow(emu, scenario, state, flow, start_s: float) -> tuple[dict, dict]:
    """One flow: (its throughput row with the per-second series, its RTT row after it)."""
    plan = emu.plan
    dst_ip = plan.host(flow.dst).ip
    tier = state.membership[flow.src]
    seconds = flow.seconds or scenario.throughput_seconds
    report = iperf3(emu, flow.src, dst_ip, seconds, omit_s=0 if flow.start_s is not None else 1)
    expected = bottleneck_mbps(plan, state, flow.src, flow.dst)
    row = {
        "tier": tier, "src": flow.src, "dst": flow.dst, "protocol": "tcp",
        "bps": received_bps(report), "seconds": seconds,
        "expected_bps": expected * 1e6 if expected else None,
        "error": report.get("error"),
        "start_s": round(start_s, 3), "path": path_kind(plan, flow.src, flow.dst),
        "series": interval_series(report, start_s),
    }
    measured = ping(emu, flow.src, dst_ip)
    rtt = {
        "tier": tier, "src": flow.src, "dst": flow.dst,
        "rtt_ms_min": measured[0] if measured else None,
        "rtt_ms_avg": measured[1] if measured else None,
        "configured_delay_ms": 2 * configured_one_way_delay_ms(plan, flow.src, flow.dst),
    }
    return row, rtt


def concurrent_note(rows: list[dict]) -> None:
    """Flows that overlapped in time share the links they cross: each row says with which
    flows it overlapped, and that its expectation (the path's configured bottleneck) is then
    shared, not its own."""
    for row in rows:
        end = row["start_s"] + row["seconds"]
        others = [f"{o['src']}->{o['dst']}" for o in rows if o is not row
                  and o["start_s"] < end and row["start_s"] < o["start_s"] + o["seconds"]]
        if others:
            row["concurrent_with"] = others
            row["expectation"] = ("shared: the configured bottleneck of the path, shared with "
                                  "the concurrent flows that cross the same links")


def measure(emu, scenario, state, progress, clock=None) -> tuple[list[dict], list[dict]]:
    """The flows without a start_s, one after another (stamped on `clock` when given)."""
    throughput, rtt = [], []
    for flow in (f for f in scenario.flows if f.start_s is None):
        progress(f"throughput {flow.src} ({state.membership[flow.src]}) -> {flow.dst}")
        row, rtt_row = run_flow(emu, scenario, state, flow, clock.now_s() if clock else 0.0)
        throughput.append(row)
        rtt.append(rtt_row)
    return throughput, rtt
