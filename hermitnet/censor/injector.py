"""The censor's injector: the process in the censor host that the kernel queues packets to.

    python -m hermitnet.censor.injector CONFIG.json

For each queued packet it finds the first rule whose DNS name, HTTP Host (or keyword) or TLS
server name it carries, drops the packet and forges what the rule says (a DNS answer, TCP
resets, a block page), sent on the bridge ports with scapy; a packet no rule matches is let
through untouched. What each rule did is written to the config's counts_path after every packet
and when the process stops (SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

from scapy.config import conf
from scapy.layers.dns import DNS, DNSRR  # imported before any packet is parsed: binds port 53
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from hermitnet.censor.nfqueue import Queue
from hermitnet.censor.rules import blockpage_response

COUNTERS = ("packets_matched", "packets_dropped", "resets_injected", "answers_injected")


# -- what a packet carries (pure) -----------------------------------------------------------
def tls_server_name(payload: bytes) -> str | None:
    """The server_name of a TLS ClientHello in one TCP segment's payload, or None."""
    try:
        if len(payload) < 43 or payload[0] != 0x16 or payload[5] != 0x01:
            return None
        at = 9 + 2 + 32                       # record + handshake headers, version, random
        at += 1 + payload[at]                 # session id
        at += 2 + int.from_bytes(payload[at:at + 2], "big")    # cipher suites
        at += 1 + payload[at]                 # compression methods
        end = at + 2 + int.from_bytes(payload[at:at + 2], "big")
        at += 2
        while at + 4 <= min(end, len(payload)):
            kind = int.from_bytes(payload[at:at + 2], "big")
            length = int.from_bytes(payload[at + 2:at + 4], "big")
            if kind == 0:                     # server_name: list length, type 0, name length
                name_length = int.from_bytes(payload[at + 7:at + 9], "big")
                return payload[at + 9:at + 9 + name_length].decode("ascii").lower()
            at += 4 + length
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def http_host(payload: bytes) -> str | None:
    """The Host header of an HTTP request (without a port), lower-case, or None."""
    head = payload.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            return value.strip().decode("ascii", "replace").rsplit(":", 1)[0].lower()
    return None


def name_matches(name: str | None, rule: dict) -> bool:
    """A site rule: the name is its hostname or a subdomain; a keyword rule: the name holds it."""
    if not name:
        return False
    name = name.lower().rstrip(".")
    if rule["hostname"]:
        return name == rule["hostname"] or name.endswith("." + rule["hostname"])
    return rule["keyword"].lower() in name


def matching_rule(packet, rules: list[dict]) -> dict | None:
    """The first rule `packet` (a scapy IP packet) falls under, or None."""
    for rule in rules:
        action = rule["action"]
        if action.startswith("dns-"):
            if UDP in packet and packet[UDP].dport == 53 and DNS in packet and packet[DNS].qd:
                qname = packet[DNS].qd.qname.decode("ascii", "replace")
                if name_matches(qname, rule):
                    return rule
        elif TCP in packet and bytes(packet[TCP].payload):
            payload = bytes(packet[TCP].payload)
            if action.startswith("tls-") and packet[TCP].dport == 443:
                if name_matches(tls_server_name(payload), rule):
                    return rule
            elif action in ("tcp-rst", "http-blockpage") and packet[TCP].dport == 80:
                if rule["hostname"] and http_host(payload) == rule["hostname"]:
                    return rule
                if rule["keyword"] and rule["keyword"].lower().encode() in payload.lower():
                    return rule
    return None


# -- what the censor sends back (pure: scapy packets) -----------------------------------------
def dns_answer(query, action: str, config: dict):
    """The forged answer to a DNS query (IP/UDP/DNS), from the queried server's address."""
    dns = query[DNS]
    reply = IP(src=query[IP].dst, dst=query[IP].src) / UDP(sport=53, dport=query[UDP].sport)
    if action == "dns-nxdomain":
        return reply / DNS(id=dns.id, qr=1, rd=dns.rd, ra=1, rcode=3, qd=dns.qd)
    address = config["bogon"] if action == "dns-bogon" else config["censor_ip"]
    answers = None
    if dns.qd.qtype == 1:    # A; any other type gets an empty answer
        answers = DNSRR(rrname=dns.qd.qname, type="A", ttl=60, rdata=address)
    return reply / DNS(id=dns.id, qr=1, rd=dns.rd, ra=1, rcode=0, qd=dns.qd, an=answers)


def resets(segment) -> tuple:
    """(to the client, to the server): RSTs that end the connection `segment` (client ->
    server, dropped) belongs to, each in sequence for its receiver."""
    ip, tcp = segment[IP], segment[TCP]
    to_client = IP(src=ip.dst, dst=ip.src) / TCP(sport=tcp.dport, dport=tcp.sport, flags="R",
                                                 seq=tcp.ack)
    to_server = IP(src=ip.src, dst=ip.dst) / TCP(sport=tcp.sport, dport=tcp.dport, flags="R",
                                                 seq=tcp.seq)
    return to_client, to_server


def blockpage_answer(request, html: str):
    """The block page as the site's answer to `request`: one segment, then FIN."""
    ip, tcp = request[IP], request[TCP]
    return IP(src=ip.dst, dst=ip.src) / TCP(
        sport=tcp.dport, dport=tcp.sport, flags="FPA", seq=tcp.ack,
        ack=tcp.seq + len(bytes(tcp.payload))) / blockpage_response(html)


# -- the process -----------------------------------------------------------------------------
class Injector:
    def __init__(self, config: dict):
        self.config = config
        self.rules = config["rules"]
        self.counts = {str(r["index"]): dict.fromkeys(COUNTERS, 0) for r in self.rules}
        self.passed = 0
        self.sockets: dict[int, object] = {}

    def handle(self, queued) -> bool:
        """Act on one queued packet; True to let it through."""
        packet = IP(queued.payload)
        rule = matching_rule(packet, self.rules)
        if rule is None:
            self.passed += 1
            return True
        count = self.counts[str(rule["index"])]
        count["packets_matched"] += 1
        count["packets_dropped"] += 1
        action = rule["action"]
        client_mac = queued.hwaddr or "ff:ff:ff:ff:ff:ff"
        server_mac = self.config["macs"].get(packet[IP].dst, "ff:ff:ff:ff:ff:ff")
        back, on = queued.physindev, queued.physoutdev
        if action.startswith("dns-"):
            self.send(dns_answer(packet, action, self.config), back, server_mac, client_mac)
            count["answers_injected"] += 1
        elif action in ("tcp-rst", "tls-rst"):
            to_client, to_server = resets(packet)
            self.send(to_client, back, server_mac, client_mac)
            self.send(to_server, on, client_mac, server_mac)
            count["resets_injected"] += 2
        elif action == "http-blockpage":
            self.send(blockpage_answer(packet, self.config["blockpage"]), back, server_mac,
                      client_mac)
            self.send(resets(packet)[1], on, client_mac, server_mac)
            count["answers_injected"] += 1
            count["resets_injected"] += 1
        return False   # tls-drop: dropped, nothing sent

    def send(self, packet, ifindex: int | None, src_mac: str, dst_mac: str) -> None:
        if ifindex is None:
            return
        if ifindex not in self.sockets:
            self.sockets[ifindex] = conf.L2socket(iface=socket.if_indextoname(ifindex))
        self.sockets[ifindex].send(Ether(src=src_mac, dst=dst_mac) / packet)

    def write_counts(self) -> None:
        path = Path(self.config["counts_path"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"rules": self.counts, "passed": self.passed,
                                   "pid": os.getpid()}))
        tmp.replace(path)


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[0]).read_text())
    injector = Injector(config)
    queue = Queue(config["queue"])
    injector.write_counts()    # bound: the run waits for this file before it goes on

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            for queued in queue.receive():
                accept = True
                try:
                    accept = injector.handle(queued)
                finally:
                    queue.verdict(queued.packet_id, accept)
            injector.write_counts()
    finally:
        injector.write_counts()
        queue.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
