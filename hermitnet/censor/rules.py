"""A censor's rules -> iptables rules, tc commands and the injector's configuration; counters back.

Pure: the same censor and plan always give the same text, and nothing here runs a command.

Every rule acts in the censor host's bridge (its FORWARD chain sees each packet crossing it):
  blackhole            DROP every packet to or from the site's address
  throttle             an HTB class at rate_kbps for the site's address, on both ports
  dns-*                UDP queries to port 53 whose name holds the site's hostname (in DNS wire
                       form) or the keyword are queued to the injector, which drops the query and
                       answers it itself
  tcp-rst,             TCP segments to port 80 carrying "Host: <hostname>" or the keyword are
  http-blockpage       queued: the injector drops the request and resets both ends, or answers
                       with the block page and resets the server
  tls-rst, tls-drop    TCP segments to port 443 holding the hostname or keyword are queued: the
                       injector reads the ClientHello's server name; if listed, it drops the
                       segment and resets both ends, or only drops it (and each retransmission)
The kernel's string match only selects packets; the injector checks the DNS name, the Host
header or the SNI exactly before it acts, and lets everything else through untouched.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from hermitnet.scenario import DNS_ACTIONS, HTTP_ACTIONS, TLS_ACTIONS

CHAIN = "HERMITNET-CENSOR"
QUEUE = 0                      # the one NFQUEUE number the injector binds
BOGON_ADDRESS = "10.10.34.35"  # the private address dns-bogon answers
HTB_HANDLE = "7:"
UNSHAPED_RATE = "10gbit"       # the default class: traffic no throttle rule names
COMMENT = "hermitnet-censor rule {index} {action}"


@dataclass(frozen=True)
class Rule:
    """A scenario rule with what the plan gives it: the site's hostname and address."""

    index: int
    action: str
    site: str | None
    keyword: str | None
    hostname: str | None
    ip: str | None
    rate_kbps: float | None = None

    @property
    def queued(self) -> bool:
        return self.action in (*DNS_ACTIONS, *HTTP_ACTIONS, *TLS_ACTIONS)


def resolve(censor, scenario, plan) -> tuple[Rule, ...]:
    rules = []
    for index, rule in enumerate(censor.rules):
        site = scenario.site(rule.site) if rule.site else None
        rules.append(Rule(index, rule.action, rule.site, rule.keyword,
                          site.hostname if site else None,
                          plan.host(rule.site).ip if site else None, rule.rate_kbps))
    return tuple(rules)


def dns_wire_name(hostname: str) -> str:
    """news.example -> |04|news|07|example|00| (iptables --hex-string), the name as a query
    carries it; a subdomain's query holds it too."""
    labels = "".join(f"|{len(label):02x}|{label}" for label in hostname.strip(".").split("."))
    return f"{labels}|00|"


def _comment(rule: Rule) -> str:
    return f'-m comment --comment "{COMMENT.format(index=rule.index, action=rule.action)}"'


def iptables_lines(rule: Rule) -> list[str]:
    """The iptables rules (iptables-restore syntax, chain CENSOR) of one censor rule."""
    comment = _comment(rule)
    queue = f"-j NFQUEUE --queue-num {QUEUE}"
    if rule.action == "blackhole":
        return [f"-A {CHAIN} -d {rule.ip}/32 {comment} -j DROP",
                f"-A {CHAIN} -s {rule.ip}/32 {comment} -j DROP"]
    if rule.action == "throttle":
        return []   # tc (throttle_commands); iptables only counts: nothing to add
    if rule.action in DNS_ACTIONS:
        match = (f'--hex-string "{dns_wire_name(rule.hostname)}"' if rule.hostname
                 else f'--string "{rule.keyword}"')
        return [f"-A {CHAIN} -p udp --dport 53 -m string --algo bm --icase {match} "
                f"{comment} {queue}"]
    needle = f"Host: {rule.hostname}" if rule.hostname else rule.keyword
    if rule.action in TLS_ACTIONS:
        needle = rule.hostname or rule.keyword
    port = 443 if rule.action in TLS_ACTIONS else 80
    return [f'-A {CHAIN} -p tcp --dport {port} -m string --algo bm --icase --string "{needle}" '
            f"{comment} {queue}"]


def iptables_script(rules: tuple[Rule, ...]) -> str:
    """The filter table the censor host loads with `iptables-restore` (its namespace only)."""
    lines = ["*filter", f":{CHAIN} - [0:0]", f"-A FORWARD -j {CHAIN}"]
    for rule in rules:
        lines += iptables_lines(rule)
    return "\n".join([*lines, "COMMIT", ""])


def throttle_commands(rules: tuple[Rule, ...], inside_intf: str,
                      outside_intf: str) -> list[list[str]]:
    """HTB on both ports of the censor: each throttled site's traffic in a class of its rate
    (towards the phones: from the site's address; towards the sites: to it)."""
    throttled = [r for r in rules if r.action == "throttle"]
    if not throttled:
        return []
    cmds = []
    for intf, direction in ((inside_intf, "src"), (outside_intf, "dst")):
        cmds += [["tc", "qdisc", "replace", "dev", intf, "root", "handle", HTB_HANDLE, "htb",
                  "default", "1"],
                 ["tc", "class", "replace", "dev", intf, "parent", HTB_HANDLE, "classid",
                  f"{HTB_HANDLE}1", "htb", "rate", UNSHAPED_RATE, "quantum", "1514"]]
        for rule in throttled:
            burst_bytes = max(1600, int(rule.rate_kbps * 1000 / 8 / 50))   # 20 ms at the rate
            classid = f"{HTB_HANDLE}{10 + rule.index}"
            cmds += [["tc", "class", "replace", "dev", intf, "parent", HTB_HANDLE, "classid",
                      classid, "htb", "rate", f"{rule.rate_kbps:g}kbit", "ceil",
                      f"{rule.rate_kbps:g}kbit", "burst", str(burst_bytes), "cburst",
                      str(burst_bytes), "quantum", "1514"],
                     ["tc", "filter", "replace", "dev", intf, "parent", HTB_HANDLE, "protocol",
                      "ip", "prio", "1", "handle", f"800::{10 + rule.index:x}", "u32", "match",
                      "ip", direction, f"{rule.ip}/32", "flowid", classid]]
    return cmds


def injector_config(censor_plan, rules: tuple[Rule, ...], plan, counts_path: str,
                    blockpage: str) -> dict:
    """What the injector process reads: the rules it answers, every address's MAC (the frames
    it forges carry the spoofed end's), the censor's own address and its block page."""
    macs = {h.ip: h.mac for h in plan.hosts}
    macs[censor_plan.ip] = censor_plan.mac
    return {"queue": QUEUE, "censor": censor_plan.name, "censor_ip": censor_plan.ip,
            "censor_mac": censor_plan.mac, "bogon": BOGON_ADDRESS, "macs": macs,
            "blockpage": blockpage, "counts_path": counts_path,
            "rules": [asdict(r) for r in rules if r.queued]}


def blockpage_html(censor_name: str) -> str:
    """The censor's block page: what http-blockpage injects and dns-blockpage's address serves."""
    return ("<!doctype html>\n<html><head><meta charset='utf-8'><title>Access denied</title>"
            "</head>\n<body><h1>Access denied</h1><p>This site is not available in your "
            f"region.</p>\n<!-- hermitnet-censor:{censor_name} -->\n</body></html>\n")


def blockpage_response(html: str) -> bytes:
    """The block page as an HTTP answer, the same from the injector (http-blockpage) and from
    the censor's own server (dns-blockpage's address): a middlebox's answer, its body ended by
    closing the connection (no Content-Length), so its headers share no uncommon name with a
    site's (OONI's headers_match)."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Connection: close\r\n\r\n" + html.encode())


# The censor's block page server: argv address, port, the file holding blockpage_response's
# bytes; each connection gets them once its request has arrived, then is closed.
BLOCKPAGE_SERVER = """
import socket, sys, threading
answer = open(sys.argv[3], 'rb').read()
listener = socket.create_server((sys.argv[1], int(sys.argv[2])), backlog=64)
def serve(conn):
    with conn:
        conn.settimeout(10)
        request = b''
        try:
            while b'\\r\\n\\r\\n' not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            conn.sendall(answer)
        except OSError:
            pass
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def kernel_counts(iptables_save: str) -> dict[int, int]:
    """`iptables-save -c` -> {rule index: packets its iptables rules matched}."""
    counts: dict[int, int] = {}
    for line in iptables_save.splitlines():
        if not line.startswith("[") or "hermitnet-censor rule " not in line:
            continue
        packets = int(line[1:line.index(":")])
        index = int(line.split("hermitnet-censor rule ", 1)[1].split()[0])
        counts[index] = counts.get(index, 0) + packets
    return counts


_TC_CLASS = re.compile(r"^class htb (\S+) .*?\n\s*Sent (\d+) bytes (\d+) pkt "
                       r"\(dropped (\d+), overlimits (\d+)", re.M)


def shaped_counts(tc_stats: str, rules: tuple[Rule, ...]) -> dict[int, dict]:
    """`tc -s class show dev X` of one port -> {rule index: its class's counters}."""
    by_class = {f"{HTB_HANDLE}{10 + r.index}": r.index for r in rules if r.action == "throttle"}
    counts = {}
    for classid, sent, packets, dropped, overlimits in _TC_CLASS.findall(tc_stats):
        if classid in by_class:
            counts[by_class[classid]] = {"bytes": int(sent), "packets": int(packets),
                                         "dropped": int(dropped),
                                         "overlimits": int(overlimits)}
    return counts


def rule_record(censor_plan, rule: Rule, kernel: dict[int, int], injected: dict,
                shaped: list[dict[int, dict]]) -> dict:
    """One rule's line in results.json `censors[].rules`: what it is and what it did."""
    done = injected.get(str(rule.index), {})
    selected = kernel.get(rule.index, 0)
    record = {"rule": rule.index, "action": rule.action, "site": rule.site,
              "keyword": rule.keyword, "hostname": rule.hostname, "address": rule.ip}
    if rule.action == "blackhole":
        record.update(packets_selected=selected, packets_matched=selected,
                      packets_dropped=selected, resets_injected=0, answers_injected=0)
    elif rule.action == "throttle":
        both = [port[rule.index] for port in shaped if rule.index in port]
        total = {key: sum(port[key] for port in both)
                 for key in ("bytes", "packets", "dropped", "overlimits")}
        record.update(packets_selected=total["packets"], packets_matched=total["packets"],
                      packets_dropped=total["dropped"], resets_injected=0, answers_injected=0,
                      rate_kbps=rule.rate_kbps, shaped=total)
    else:
        record.update(packets_selected=selected,
                      packets_matched=done.get("packets_matched", 0),
                      packets_dropped=done.get("packets_dropped", 0),
                      resets_injected=done.get("resets_injected", 0),
                      answers_injected=done.get("answers_injected", 0))
    return record
