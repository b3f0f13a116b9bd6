"""Benchmark: accuracy and cost of the userspace delay line, or of netem (not a timed test).

Two throwaway network namespaces joined by one veth pair (names start with "dlx"; removed at the
end), the delay on both ends, like a shaped link of the emulation: the userspace delay line
(`--delay-line userspace`, the default) or netem (`--delay-line netem`, with the same tc commands
as a run; refused at once on a kernel without netem):

  accuracy   configured vs measured ping RTT for RTT 10/40/100/300 ms x jitter 0/5/20 ms at
             light load (ping every 50 ms), and with a TCP flow filling a 10 Mbit/s HTB link
  cost       one delay process forwarding a UDP flood (1400-byte and 64-byte datagrams, no
             delay limit on the rate): frames/s and Mbit/s carried, and its CPU use, next to
             the CPU the baseline's link rates would need (delay line only: netem has no
             process to measure)

The configured RTT is split evenly over the two ends (delay_ms = RTT / 2 per end, as netem on
both ends of a link); jitter_ms is per end, so the RTT's spread is sqrt(2) x jitter_ms. The
expected mean accounts for the truncation at zero. Hold the emulation lock while it runs:

    sudo flock /tmp/hermitnet-emulation.lock .venv/bin/python bench/bench_delay_line.py \
        [--quick] [--delay-line userspace|netem] [--json FILE]

On the lab VM (netem and the delay line, one after the other): `python3 -m labvm bench`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.figure import figure  # noqa: E402
from hermitnet.emulation import delayline, shaping  # noqa: E402
from hermitnet.scenario import LinkSpec  # noqa: E402

EMULATION = True
QUICK_ARGS = ("--quick",)
DELAY_LINES = ("userspace", "netem")

A, B = "dlxa", "dlxb"
IP_A, IP_B = "10.250.0.1", "10.250.0.2"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def sh(*argv: str, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def namespace_pair(bw_mbps: float | None = None):
    """Namespaces dlxa and dlxb, veth dlxa0 <-> dlxb0, optionally HTB on both ends."""
    for ns in (A, B):
        if os.path.exists(f"/run/netns/{ns}"):
            raise RuntimeError(f"namespace {ns} exists already: another benchmark is running")
    try:
        sh("ip", "netns", "add", A)
        sh("ip", "netns", "add", B)
        sh("ip", "link", "add", "dlxa0", "netns", A, "type", "veth", "peer", "name", "dlxb0",
           "netns", B)
        for ns, intf, ip in ((A, "dlxa0", IP_A), (B, "dlxb0", IP_B)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", intf)
            sh("ip", "-n", ns, "link", "set", intf, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "ethtool", "-K", intf, "tx", "off")
            if bw_mbps:
                for argv in shaping.htb_cmds(intf, bw_mbps):
                    sh("ip", "netns", "exec", ns, *argv)
        yield
    finally:
        for ns in (A, B):
            sh("ip", "netns", "del", ns, check=False)


def netem_missing() -> str | None:
    """Why netem cannot be used here (None: it can): a netem qdisc on lo of a throwaway netns."""
    done = subprocess.run(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root",
                           "netem", "delay", "1ms"], capture_output=True, text=True, timeout=30)
    if done.returncode == 0:
        return None
    return ("--delay-line netem: the kernel has no netem qdisc (tc qdisc add ... netem: "
            f"{done.stderr.strip() or f'exit {done.returncode}'}); this machine can measure "
            "the userspace delay line only (the lab VM has netem: python3 -m labvm bench)")


@contextmanager
def netem(delay_ms: float, jitter_ms: float = 0.0, under_htb: bool = False):
    """netem on both ends of the pair, as a run puts it (under HTB when the link has a rate);
    yields (None, {}): netem has no process and no lateness counters."""
    spec = LinkSpec(delay_ms=delay_ms, jitter_ms=jitter_ms)
    ends = (("dlxa0", A), ("dlxb0", B))
    try:
        for intf, ns in ends:
            for argv in shaping.netem_cmds(intf, spec, under_htb=under_htb):
                sh("ip", "netns", "exec", ns, *argv)
        yield None, {}
    finally:
        parent = ["parent", shaping.HTB_CLASS] if under_htb else ["root"]
        for intf, ns in ends:
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", intf, *parent,
               check=False)


def delayed(delay_line: str, delay_ms: float, jitter_ms: float = 0.0, under_htb: bool = False,
            seed: int = 1):
    """`delay_ms`/`jitter_ms` on both ends of the pair by the chosen delay line."""
    if delay_line == "netem":
        return netem(delay_ms, jitter_ms, under_htb)
    return delay_process(delay_ms, jitter_ms, seed=seed)


@contextmanager
def delay_process(delay_ms: float, jitter_ms: float = 0.0, loss_pct: float = 0.0,
                  no_reorder: bool = False, seed: int = 1):
    """The delay line on both ends of the pair; yields (process, counters dict filled at exit)."""
    ends = [delayline.EndSpec(intf, ns, f"dlxd{i}", delay_ms, jitter_ms, loss_pct, no_reorder,
                              seed=seed * 2 + i)
            for i, (intf, ns) in enumerate((("dlxa0", A), ("dlxb0", B)))]
    process = delayline.start(ends, {A: f"/run/netns/{A}", B: f"/run/netns/{B}"}, None)
    counters: dict = {}
    try:
        yield process, counters
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
        if out.strip():
            counters.update(json.loads(out.strip().splitlines()[-1]))


def ping_rtts(count: int, interval_s: float = 0.05, size: int = 56) -> list[float]:
    out = sh("ip", "netns", "exec", A, "ping", "-n", "-c", str(count),
             "-i", str(interval_s), "-s", str(size), "-W", "2", IP_B, check=False)
    return [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def expected_mean_rtt(rtt_ms: float, jitter_ms: float) -> float:
    """Mean RTT of two ends each adding max(0, N(rtt/2, jitter))."""
    mu = rtt_ms / 2
    if not jitter_ms:
        return rtt_ms
    z = mu / jitter_ms
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    return 2 * (mu * cdf + jitter_ms * phi)


def accuracy(rtts_ms, jitters_ms, count: int, delay_line: str = "userspace") -> list[dict]:
    rows = []
    with namespace_pair():
        base = statistics.mean(ping_rtts(20))
        for seed, (rtt, jitter) in enumerate(itertools.product(rtts_ms, jitters_ms)):
            with delayed(delay_line, rtt / 2, jitter, seed=seed) as (_, counters):
                ping_rtts(2)
                got = ping_rtts(count)
            rows.append({**_row("light", rtt, jitter, got, base), "late_us": _late_us(counters)})
    return rows


def full_rate(rtt_ms: float, bw_mbps: float, seconds: int, delay_line: str = "userspace") -> dict:
    """Ping across the link while one TCP flow fills it (HTB on both ends after the delay)."""
    with namespace_pair(bw_mbps), \
            delayed(delay_line, rtt_ms / 2, under_htb=True) as (_, counters):
        server = subprocess.Popen(["ip", "netns", "exec", B, "iperf3", "-s", "-1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        client = subprocess.Popen(["ip", "netns", "exec", A, "iperf3", "-c", IP_B, "-t",
                                   str(seconds), "-J"], stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        got = ping_rtts(int((seconds - 3) / 0.1), 0.1)
        report = json.loads(client.communicate(timeout=seconds + 30)[0])
        server.wait(timeout=10)
    row = _row(f"TCP at {bw_mbps:g} Mbit/s", rtt_ms, 0, got, 0.0)
    row["tcp_mbps"] = report["end"]["sum_received"]["bits_per_second"] / 1e6
    row["late_us"] = _late_us(counters)
    return row


def _late_us(counters: dict) -> float:
    """Mean of (sent - departure time) over every frame the delay line forwarded (NaN with
    netem, which reports no such thing)."""
    if not counters:
        return math.nan
    forwarded = sum(c["forwarded"] for c in counters.values())
    return sum(c["late_us_total"] for c in counters.values()) / max(1, forwarded)


def _row(load, rtt, jitter, got, base) -> dict:
    return {"load": load, "rtt_ms": rtt, "jitter_ms": jitter,
            "expected_ms": expected_mean_rtt(rtt, jitter) + base,
            "mean_ms": statistics.mean(got) if got else math.nan,
            "sd_ms": statistics.stdev(got) if len(got) > 1 else math.nan,
            "p99_ms": sorted(got)[int(0.99 * (len(got) - 1))] if got else math.nan,
            "replies": len(got)}


def cost(seconds: int) -> list[dict]:
    """A UDP flood through one delay process (1 ms per end): what it carries and its CPU."""
    rows = []
    for size, rate in ((1400, "400M"), (64, "40M")):
        with namespace_pair(), delay_process(1.0) as (process, counters):
            server = subprocess.Popen(["ip", "netns", "exec", B, "iperf3", "-s", "-1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            before = cpu_seconds(process.pid)
            out = sh("ip", "netns", "exec", A, "iperf3", "-c", IP_B, "-u", "-b", rate, "-l",
                     str(size), "-t", str(seconds), "-J")
            used = cpu_seconds(process.pid) - before
            server.wait(timeout=10)
        end = json.loads(out)["end"]["sum"]
        received = end["packets"] - end["lost_packets"]
        rows.append({"datagram_bytes": size, "offered_mbps": end["bits_per_second"] / 1e6,
                     "received_pps": received / seconds,
                     "received_mbps": received * size * 8 / seconds / 1e6,
                     "lost_pct": end["lost_percent"], "cpu_pct": 100 * used / seconds,
                     "cpu_us_per_frame": 1e6 * used / max(1, received),
                     "delay_line": counters})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pings, shorter floods")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--delay-line", choices=DELAY_LINES, default="userspace",
                        help="what delays the link: the userspace delay line or netem")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_delay_line: needs root (network namespaces, tc)", file=sys.stderr)
        return 2
    if args.delay_line == "netem" and (why := netem_missing()):
        print(f"bench_delay_line: {why}", file=sys.stderr)
        return 2
    mode = args.delay_line
    env = {"delay_line": mode, "kernel": os.uname().release, "cpus": os.cpu_count()}
    print(f"delay: {mode}; kernel {env['kernel']}, {env['cpus']} CPUs")
    count = 40 if args.quick else 100
    rows = accuracy((10, 40, 100, 300), (0, 5, 20), count, mode)
    rows.append(full_rate(40, 10, 8 if args.quick else 15, mode))
    rows.append(full_rate(80, 2, 8 if args.quick else 15, mode))
    print("| load | RTT ms | jitter ms/end | expected mean | measured mean | sd | p99 | replies "
          "| sends late by, us |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        extra = f" (TCP {r['tcp_mbps']:.2f} Mbit/s)" if "tcp_mbps" in r else ""
        print(f"| {r['load']}{extra} | {r['rtt_ms']:g} | {r['jitter_ms']:g} | "
              f"{r['expected_ms']:.2f} | {r['mean_ms']:.2f} | {r['sd_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['replies']} | {r['late_us']:.0f} |")
    for r in rows:
        figure(f"{mode} RTT {r['rtt_ms']:g} ms, jitter {r['jitter_ms']:g} ms/end, "
               f"{r['load']}: mean RTT", r["mean_ms"], "ms",
               "expected (configured + unshaped ping RTT measured first)", r["expected_ms"])
    costs = [] if mode == "netem" else cost(3 if args.quick else 5)
    if costs:
        print_costs(costs)
    else:
        print("\ncost: not measured with netem (it runs in the kernel's softirq, no process)")
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "accuracy": rows, "cost": costs},
                                        indent=1))
    return 0


def print_costs(costs: list[dict]) -> None:
    print("\n| datagram B | offered Mbit/s | carried frames/s | carried Mbit/s | lost % | "
          "CPU % of a core | CPU us/frame |")
    print("|---|---|---|---|---|---|---|")
    for c in costs:
        print(f"| {c['datagram_bytes']} | {c['offered_mbps']:.0f} | {c['received_pps']:.0f} | "
              f"{c['received_mbps']:.1f} | {c['lost_pct']:.1f} | {c['cpu_pct']:.0f} | "
              f"{c['cpu_us_per_frame']:.1f} |")
    for c in costs:
        figure(f"delay line carried, {c['datagram_bytes']}-byte UDP", c["received_mbps"],
               "Mbit/s", "offered (iperf3)", c["offered_mbps"])

if __name__ == "__main__":
    sys.exit(main())
