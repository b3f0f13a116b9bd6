"""A flood from a global-zone host: real packets at a paced rate, until stopped.

`python -m hermitnet.workload.flood` runs inside the host's namespace (the timeline's
flood_start starts it, flood_stop sends SIGTERM); it prints one JSON line when it stops:
{packets, bytes, seconds, achieved_mbps, errors}.

    udp  UDP datagrams of UDP_PAYLOAD_BYTES to port FLOOD_PORT of each destination in turn
    syn  TCP SYNs (scapy-built once, sent through a raw IPv4 socket) to port 80, the source
         port and sequence number changing from packet to packet

Rates count whole Ethernet frames (header included), as HTB and the links' bw_mbps do.

Destinations: `toward: national` is the national zone's sites (the national public block),
one after another; `toward: border` is BORDER_GATEWAY_IP, the national block's gateway address,
which no host holds: its frames go to an address no port has (BORDER_GATEWAY_MAC), so the
global zone's learning switch floods them over every uplink, and the border drops them. Either
way the flood crosses the uplink before the border's policy drops it (global-zone sources may
reach only subscribers of tiers with global access).

The generator's ceiling (GENERATOR_CEILING_MBPS) is stated from a measurement on a loaded 2-core
VM: unpaced, this sender reached about 700 Mbit/s of UDP frames and 30 Mbit/s of SYNs (75,000
packets/s) on one core; the ceiling is a fraction of that, which leaves the rest of the run (the
switches' userspace datapath forwards every flood packet) its share of a shared machine. The
timeline refuses a flood rate, or floods at once, above it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sys
import time

FLOOD_PORT = 9
UDP_PAYLOAD_BYTES = 1200
UDP_FRAME_BYTES = 14 + 20 + 8 + UDP_PAYLOAD_BYTES
SYN_FRAME_BYTES = 14 + 20 + 20
BORDER_GATEWAY_IP = "203.0.113.1"
BORDER_GATEWAY_MAC = "02:68:6e:ff:ff:01"
PROTOCOLS = ("udp", "syn")
GENERATOR_CEILING_MBPS = {"udp": 100.0, "syn": 10.0}
TICK_S = 0.002
MAX_BURST = 256        # packets between two looks at stop()


def frame_bytes(protocol: str) -> int:
    return UDP_FRAME_BYTES if protocol == "udp" else SYN_FRAME_BYTES


def destinations(plan, toward: str) -> list[str]:
    """The flood's destination addresses (see the module's docstring)."""
    if toward == "border":
        return [BORDER_GATEWAY_IP]
    return [h.ip for h in plan.hosts if h.zone == "national"]


def argv(src_ip: str, dst_ips: list[str], protocol: str, rate_mbps: float) -> list[str]:
    return [sys.executable, "-m", "hermitnet.workload.flood", "--src", src_ip, "--protocol",
            protocol, "--rate-mbps", f"{rate_mbps:g}", *dst_ips]


def neighbour_lines(dst_ips: list[str], interface: str) -> list[str]:
    """`ip -batch` lines for the border gateway address (hosts hold static neighbours only)."""
    return [f"neigh replace {ip} lladdr {BORDER_GATEWAY_MAC} dev {interface} nud permanent"
            for ip in dst_ips if ip == BORDER_GATEWAY_IP]


def _syn_packets(src_ip: str, dst_ips: list[str], count: int = 512) -> list[tuple[bytes, str]]:
    from scapy.layers.inet import IP, TCP

    rng = random.Random(1)
    return [(bytes(IP(src=src_ip, dst=dst) / TCP(sport=rng.randrange(1024, 65535), dport=80,
                                                 flags="S", seq=rng.randrange(2**32))), dst)
            for i in range(count) for dst in (dst_ips[i % len(dst_ips)],)]


def send(src_ip: str, dst_ips: list[str], protocol: str, rate_mbps: float, stop) -> dict:
    """Send until stop() is true; what was sent."""
    if protocol == "udp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((src_ip, 0))
        payload = os.urandom(UDP_PAYLOAD_BYTES)
        packets = [(payload, (dst, FLOOD_PORT)) for dst in dst_ips]
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        packets = [(data, (dst, 0)) for data, dst in _syn_packets(src_ip, dst_ips)]
    per_s = rate_mbps * 1e6 / 8 / frame_bytes(protocol)
    sent = errors = 0
    started = time.monotonic()
    while not stop():
        due = int((time.monotonic() - started) * per_s) - sent
        for _ in range(min(max(0, due), MAX_BURST)):
            data, address = packets[sent % len(packets)]
            try:
                sock.sendto(data, address)
            except OSError:
                errors += 1     # a full socket buffer: the packet is not sent
            sent += 1
        time.sleep(TICK_S)
    seconds = time.monotonic() - started
    delivered = sent - errors
    nbytes = delivered * frame_bytes(protocol)
    return {"packets": delivered, "bytes": nbytes, "seconds": round(seconds, 3),
            "achieved_mbps": round(nbytes * 8 / seconds / 1e6, 3) if seconds else 0.0,
            "errors": errors}


def main(args=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hermitnet.workload.flood",
                                     description="Flood destinations at a rate until SIGTERM.")
    parser.add_argument("--src", required=True, help="source address (the host's own)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="udp")
    parser.add_argument("--rate-mbps", type=float, required=True,
                        help="rate in Mbit/s of Ethernet frames")
    parser.add_argument("dst", nargs="+", help="destination addresses, used in turn")
    options = parser.parse_args(args)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    summary = send(options.src, options.dst, options.protocol, options.rate_mbps,
                   lambda: bool(stopping))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
