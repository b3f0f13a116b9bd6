"""Throughput (iperf3, JSON) and round-trip times (ping) of the scenario's measured flows, and
what each flow should get (`expectation`).

Goodput over a shaped link: HTB and OpenFlow meters count whole Ethernet frames (skb->len, the
14-byte Ethernet header included, no preamble or FCS). A full TCP segment over IPv4 with
timestamps carries MSS = 1500 - 20 (IPv4) - 20 (TCP) - 12 (timestamp option) = 1448 bytes of
data in a 1514-byte frame, so iperf3's goodput is at most GOODPUT_FACTOR = 1448 / 1514 = 0.9564
of the configured rate (ACKs travel the other way and do not count against it).
"""

from __future__ import annotations

import json
import math
import re

from hermitnet.errors import HermitError
from hermitnet.workload.servers import IPERF_PORT


def bottleneck_mbps(plan, state, src: str, dst: str, direction: str = "upload"
                   ) -> float | None:
    """The lowest configured rate on the path: shaped links and, for an upload, the source
    tier's meter (meters police what a subscriber sends)."""
    rates = [link.spec.bw_mbps for link in plan.path_links(src, dst) if link.spec.bw_mbps]
    tier_rate = state.tier_rate_mbps.get(state.membership.get(src, ""), None)
    if tier_rate and direction == "upload":
        rates.append(tier_rate)
    return min(rates) if rates else None


MSS_BYTES = 1448
FRAME_BYTES = 1514
GOODPUT_FACTOR = MSS_BYTES / FRAME_BYTES
MATHIS_C = math.sqrt(3 / 2)


def mathis_bps(rtt_ms: float, loss_pct: float) -> float:
    """The Mathis et al. (1997) bound on TCP goodput with random loss p: MSS / RTT * C / sqrt(p),
    C = sqrt(3/2)."""
    return MSS_BYTES * 8 / (rtt_ms / 1000) * MATHIS_C / math.sqrt(loss_pct / 100)


def expectation(plan, state, src: str, dst: str, rtt_ms: float | None,
                direction: str = "upload") -> dict:
    """What a TCP flow from `src` to `dst` should get.

    `configured_bottleneck_bps`: the lowest configured rate on the path (links, the source
    tier's meter; a radio phone's air link is its cell's shared rate, hermitnet.plan
    .air_link_spec). `expected_goodput_bps`: that times GOODPUT_FACTOR, and with loss on the
    path (a radio phone's residual loss, the radio model's Attachment.loss_pct) at most the
    Mathis bound at the measured RTT. A flow the policy forbids is `blocked` (expected 0), and a
    phone with no serving cell expects 0."""
    from hermitnet import zones

    ends = zones.endpoints(plan, state)
    mbps = bottleneck_mbps(plan, state, src, dst, direction)
    links = plan.path_links(src, dst)
    keep = 1.0
    for link in links:
        keep *= 1 - link.spec.loss_pct / 100
    loss_pct = 100 * (1 - keep)
    out = {"configured_bottleneck_bps": mbps * 1e6 if mbps else None, "loss_pct": loss_pct,
           "blocked": not zones.allowed(ends[src], ends[dst], state)}
    if out["blocked"]:
        return {**out, "expected_goodput_bps": 0.0, "basis": "forbidden by the policy"}
    if loss_pct >= 100:
        return {**out, "expected_goodput_bps": 0.0, "basis": "no radio service (100 % loss)"}
    if not mbps:
        return {**out, "expected_goodput_bps": None, "basis": "unshaped path"}
    goodput = mbps * 1e6 * GOODPUT_FACTOR
    basis = f"bottleneck x {GOODPUT_FACTOR:.4f} (TCP/IPv4/Ethernet framing)"
    if loss_pct > 0 and rtt_ms:
        bound = mathis_bps(rtt_ms, loss_pct)
        if bound < goodput:
            goodput, basis = bound, f"Mathis bound at {loss_pct:.3g} % loss, RTT {rtt_ms:g} ms"
    return {**out, "expected_goodput_bps": goodput, "basis": basis}


def verdict(bps: float, expected: dict, tolerance: float = 0.10) -> str:
    """blocked (forbidden, nothing arrived), leaked (forbidden, yet it ran), ok, slow or fast
    (outside `tolerance` of the expected goodput), or unknown (no expectation). A flow that
    spans a policy change is "ambiguous" (`judge_flow`)."""
    if expected["blocked"]:
        return "leaked" if bps > 0 else "blocked"
    goodput = expected["expected_goodput_bps"]
    if goodput is None:
        return "unknown"
    if goodput == 0:
        return "ok" if bps == 0 else "fast"
    if bps < goodput * (1 - tolerance):
        return "slow"
    return "fast" if bps > goodput * (1 + tolerance) else "ok"


def judge_flow(row: dict, plan, policy, rtt_ms: float | None = None) -> dict:
    """`row` (a flow's throughput row) judged by the policy in force while it ran, from
    start_s to start_s + seconds on the run's clock (`policy`: the run's policy timeline,
    hermitnet.policy.timeline, or a PolicyState). Pure; returns the new row.

    The rule: the flow's expectation (`expectation`) is computed under every policy in force
    during its interval. If they agree (the policy did not change, or not for this flow), that
    is its expectation and verdict, from the policy of its own time, not the run's start. If
    they differ (a flow spanning a change that opens, closes or re-rates it), the verdict is
    "ambiguous": `policy_changes` names the changes, and each 1 s sample of the series says
    `policy` allowed / forbidden / ambiguous for its own interval, so a reader sees which part
    ran under which policy (a TCP flow refused at its start does not come back when the policy
    opens; a narrowing cuts it)."""
    from hermitnet import zones
    from hermitnet.policy import timeline as policy_timeline

    timeline = policy_timeline.of(policy)
    t0, t1 = row["start_s"], row["start_s"] + row["seconds"]
    states = timeline.during(t0, t1)
    tried = [expectation(plan, state, row["src"], row["dst"], rtt_ms, row.get("direction",
                                                                            "upload"))
             for state in states]
    out = {**row, "tier": timeline.at(t0).membership.get(row["src"], row["tier"])}
    keys = ("blocked", "expected_goodput_bps")
    if all(tuple(e[k] for k in keys) == tuple(tried[0][k] for k in keys) for e in tried):
        out.update(tried[0])
        out["expected_bps"] = tried[0]["expected_goodput_bps"]
        out["verdict"] = verdict(row["bps"], tried[0])
        return out
    ends = zones.endpoints(plan, timeline.initial)
    src, dst = ends[row["src"]], ends[row["dst"]]
    if row.get("direction") == "download":
        src, dst = dst, src

    def sample_policy(t_end_s: float) -> str:
        return timeline.judge(lambda state: zones.allowed(src, dst, state), t_end_s - 1.0,
                              t_end_s)

    out.update({**tried[0], "blocked": all(e["blocked"] for e in tried),
                "expected_goodput_bps": None, "expected_bps": None, "verdict": "ambiguous",
                "basis": f"the policy changed during the flow ({len(states)} policies in force)",
                "policy_changes": timeline.changes_within(t0, t1),
                "series": [{**point, "policy": sample_policy(point["t_s"])}
                           for point in row.get("series", [])]})
    return out


def configured_one_way_delay_ms(plan, src: str, dst: str) -> float:
    return sum(link.spec.delay_ms for link in plan.path_links(src, dst))


def iperf3(emu, src: str, dst_ip: str, seconds: float, omit_s: int = 1,
           download: bool = False) -> dict:
    """An iperf3 TCP test from the client `src` (sending, or receiving with `download`); its
    JSON report, with the server's own per-second intervals (--get-server-output) when the
    test ran."""
    argv = ["iperf3", "-c", dst_ip, "-p", str(IPERF_PORT), "-t", f"{seconds:g}", "-O",
            str(omit_s), "-i", "1", "-J", "--get-server-output", "--connect-timeout", "3000",
            *(["-R"] if download else [])]
    done = emu.run(src, argv, timeout_s=seconds + 60)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise HermitError(f"iperf3 from {src} to {dst_ip} gave no JSON: "
                          f"{done.stderr.strip() or done.stdout[:200]}") from None
    return report


def interval_series(report: dict, start_s: float, download: bool = False) -> list[dict]:
    """The 1 s interval reports as [{t_s, mbps}], t_s the end of each interval on the run's
    clock (the flow started at start_s). The receiver's intervals (what arrived): the
    server's for an upload where iperf3 returned them, else the client's."""
    server = report.get("server_output_json") or {}
    intervals = (None if download else server.get("intervals")) or report.get("intervals") or []
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
    download = flow.direction == "download"
    report = iperf3(emu, flow.src, dst_ip, seconds, omit_s=0 if flow.start_s is not None else 1,
                    download=download)
    measured = ping(emu, flow.src, dst_ip)
    expected = expectation(plan, state, flow.src, flow.dst, measured[0] if measured else None,
                           flow.direction)
    bps = received_bps(report)
    row = {
        "tier": tier, "src": flow.src, "dst": flow.dst, "protocol": "tcp",
        "direction": flow.direction,
        "bps": bps, "seconds": seconds,
        **expected, "expected_bps": expected["expected_goodput_bps"],
        "verdict": verdict(bps, expected), "error": report.get("error"),
        "start_s": round(start_s, 3), "path": path_kind(plan, flow.src, flow.dst),
        "series": interval_series(report, start_s, download),
    }
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
