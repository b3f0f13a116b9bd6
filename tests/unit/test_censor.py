"""Censors without a network: placement in the plan, iptables/tc generation, counter parsing,
and the injector's decisions and forged packets (scapy, no socket)."""

from __future__ import annotations

import contextlib
import ssl

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP

from hermitnet import plan as plan_module
from hermitnet import scenario
from hermitnet.censor import injector
from hermitnet.censor import rules as censor_rules
from hermitnet.emulation.manifest import Manifest
from tests.unit.test_scenario import REPO_ROOT

CENSORED = REPO_ROOT / "scenarios" / "foreign-cell-censored.yaml"


@pytest.fixture(scope="module")
def censored():
    loaded = scenario.load(CENSORED)
    return loaded, plan_module.build(loaded, run_tag=3, prefix="hnqq")


def _rules(censored):
    loaded, plan = censored
    return censor_rules.resolve(loaded.censors[0], loaded, plan)


def test_censor_sits_in_the_foreign_ran_link(censored):
    _, plan = censored
    gfw = plan.censor("gfw")
    assert (gfw.inside, gfw.outside, gfw.node) == ("foreign", "global", "hnqqx1")
    ends = {(lk.a, lk.a_port, lk.b, lk.b_port, lk.kind) for lk in plan.links
            if "gfw" in (lk.a, lk.b)}
    assert ends == {("foreign", 1, "gfw", 0, "foreign-backhaul"),
                    ("gfw", 1, "global", 2, "censor")}
    assert not any({lk.a, lk.b} == {"foreign", "global"} for lk in plan.links)
    # transparent for the switches: the foreign RAN still leads to the global zone
    assert plan.trunk_ports("foreign") == {1: "global"}
    assert plan.trunk_ports("global")[2] == "foreign"
    assert plan.uplink_port() == ("border", plan.uplink_port()[1])
    assert [lk.kind for lk in plan.path_links("smuggler-1", "mail")] == [
        "air", "foreign-backhaul", "censor", "server"]
    assert plan_module.Plan.from_dict(plan.to_dict()) == plan


def test_no_censor_keeps_the_direct_link():
    plain = plan_module.build(scenario.load(REPO_ROOT / "scenarios" / "border.yaml"))
    assert plain.censors == ()
    assert any(lk.kind == "foreign-backhaul" and {lk.a, lk.b} == {"foreign", "global"}
               for lk in plain.links)


def test_dns_wire_name():
    assert censor_rules.dns_wire_name("news.example") == "|04|news|07|example|00|"


def test_iptables_rules_per_action(censored):
    script = censor_rules.iptables_script(_rules(censored))
    lines = script.splitlines()
    assert lines[:3] == ["*filter", ":HERMITNET-CENSOR - [0:0]", "-A FORWARD -j HERMITNET-CENSOR"]
    assert lines[-1] == "COMMIT"
    assert ('-A HERMITNET-CENSOR -p udp --dport 53 -m string --algo bm --icase --hex-string '
            '"|04|news|07|example|00|" -m comment --comment "hermitnet-censor rule 0 '
            'dns-nxdomain" -j NFQUEUE --queue-num 0') in lines
    assert any('--dport 80 ' in ln and '"Host: news.example"' in ln and "rule 1 " in ln
               for ln in lines)
    assert any('--dport 443 ' in ln and '--string "news.example"' in ln and "rule 2 " in ln
               for ln in lines)
    assert any("-d 198.18.0.13/32" in ln and "rule 7 blackhole" in ln and ln.endswith("DROP")
               for ln in lines)
    assert any("-s 198.18.0.13/32" in ln and "rule 7 blackhole" in ln for ln in lines)
    assert any('--dport 80 ' in ln and '--string "falun"' in ln for ln in lines)
    assert not any("rule 8 " in ln for ln in lines)   # throttle is tc's


def test_throttle_is_a_class_on_both_ports(censored):
    cmds = censor_rules.throttle_commands(_rules(censored), "x-eth0", "x-eth1")
    filters = [c for c in cmds if c[1] == "filter"]
    assert [(c[4], c[-4], c[-3]) for c in filters] == [("x-eth0", "src", "198.18.0.11/32"),
                                                       ("x-eth1", "dst", "198.18.0.11/32")]
    classes = [c for c in cmds if c[1] == "class" and "7:18" in c]
    assert len(classes) == 2 and all("800kbit" in c for c in classes)
    assert censor_rules.throttle_commands(_rules(censored)[:1], "a", "b") == []


def test_counters_are_read_back(censored):
    saved = ('[3:180] -A HERMITNET-CENSOR -d 198.18.0.13/32 -m comment --comment '
             '"hermitnet-censor rule 7 blackhole" -j DROP\n'
             '[2:120] -A HERMITNET-CENSOR -s 198.18.0.13/32 -m comment --comment '
             '"hermitnet-censor rule 7 blackhole" -j DROP\n[9:9] -A FORWARD -j HERMITNET-CENSOR\n')
    assert censor_rules.kernel_counts(saved) == {7: 5}
    tc = ("class htb 7:1 root prio 0 rate 10Gbit ceil 10Gbit burst 0b cburst 0b \n"
          " Sent 5 bytes 1 pkt (dropped 0, overlimits 0 requeues 0) \n"
          "class htb 7:18 root prio 0 rate 800Kbit ceil 800Kbit burst 2000b cburst 2000b \n"
          " Sent 314138 bytes 211 pkt (dropped 4, overlimits 9 requeues 0) \n")
    rules = _rules(censored)
    shaped = censor_rules.shaped_counts(tc, rules)
    assert shaped == {8: {"bytes": 314138, "packets": 211, "dropped": 4, "overlimits": 9}}
    gfw = censored[1].censor("gfw")
    record = censor_rules.rule_record(gfw, rules[8], {}, {}, [shaped, shaped])
    assert record["shaped"]["bytes"] == 2 * 314138 and record["packets_dropped"] == 8
    hole = censor_rules.rule_record(gfw, rules[7], {7: 5}, {}, [])
    assert (hole["packets_dropped"], hole["resets_injected"]) == (5, 0)
    queued = censor_rules.rule_record(gfw, rules[1], {1: 2}, {"1": {
        "packets_matched": 1, "packets_dropped": 1, "resets_injected": 2,
        "answers_injected": 0}}, [])
    assert (queued["packets_selected"], queued["packets_matched"], queued["resets_injected"]) \
        == (2, 1, 2)


def _client_hello(server_name: str) -> bytes:
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_tls_server_name_of_a_real_client_hello():
    assert injector.tls_server_name(_client_hello("News.Example")) == "news.example"
    assert injector.tls_server_name(b"GET / HTTP/1.1\r\n\r\n" + b"x" * 60) is None
    assert injector.tls_server_name(_client_hello("news.example")[:50]) is None


def test_http_host_and_name_rules():
    request = b"GET / HTTP/1.1\r\nhost: News.Example:80\r\nAccept: */*\r\n\r\n"
    assert injector.http_host(request) == "news.example"
    site = {"hostname": "news.example", "keyword": None}
    assert injector.name_matches("www.news.example.", site)
    assert not injector.name_matches("badnews.example", site)
    assert injector.name_matches("falundafa.org", {"hostname": None, "keyword": "Falun"})


def _config(censored):
    gfw = censored[1].censor("gfw")
    return censor_rules.injector_config(gfw, _rules(censored), censored[1], "/nowhere", "<p/>")


def _http(host: str, path: str = "/") -> IP:
    return IP(bytes(IP(src="198.19.0.10", dst="198.18.0.15") / TCP(
        sport=40000, dport=80, flags="PA", seq=1000, ack=5000) /
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()))


def test_matching_rule_order_and_unlisted(censored):
    rules = _config(censored)["rules"]
    assert [r["index"] for r in rules] == [0, 1, 2, 3, 4, 5, 6, 9]   # no blackhole, throttle
    assert injector.matching_rule(_http("news.example"), rules)["action"] == "tcp-rst"
    assert injector.matching_rule(_http("social.example"), rules)["action"] == "http-blockpage"
    assert injector.matching_rule(_http("mail.example"), rules) is None
    assert injector.matching_rule(_http("mail.example", "/falun/"), rules)["index"] == 9
    query = IP(bytes(IP(src="198.19.0.10", dst="198.18.0.15") / UDP(sport=5353, dport=53) /
                     DNS(rd=1, qd=DNSQR(qname="news.example"))))
    assert injector.matching_rule(query, rules)["action"] == "dns-nxdomain"


def test_forged_packets(censored):
    config = _config(censored)
    query = IP(bytes(IP(src="198.19.0.10", dst="198.18.0.15") / UDP(sport=5353, dport=53) /
                     DNS(id=77, rd=1, qd=DNSQR(qname="social.example"))))
    nx = IP(bytes(injector.dns_answer(query, "dns-nxdomain", config)))
    assert (nx.src, nx.dst, nx[UDP].dport, nx[DNS].id, nx[DNS].rcode) == (
        "198.18.0.15", "198.19.0.10", 5353, 77, 3)
    bogon = IP(bytes(injector.dns_answer(query, "dns-bogon", config)))
    assert bogon[DNS].an[0].rdata == "10.10.34.35"
    page = IP(bytes(injector.dns_answer(query, "dns-blockpage", config)))
    assert page[DNS].an[0].rdata == "198.19.255.254"
    request = _http("news.example")
    to_client, to_server = injector.resets(request)
    assert (to_client[IP].dst, to_client[TCP].seq, str(to_client[TCP].flags)) == (
        "198.19.0.10", 5000, "R")
    assert (to_server[IP].dst, to_server[TCP].seq) == ("198.18.0.15", 1000)
    answer = IP(bytes(injector.blockpage_answer(request, "<p>blocked</p>")))
    payload = bytes(answer[TCP].payload)
    assert answer[TCP].seq == 5000 and answer[TCP].ack == 1000 + len(bytes(request[TCP].payload))
    assert payload.startswith(b"HTTP/1.1 200 OK") and payload.endswith(b"<p>blocked</p>")
    assert "F" in str(answer[TCP].flags)


def test_manifest_records_tables(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("HERMITNET_STATE_DIR", str(tmp_path))
    manifest = Manifest.create("hnzq", str(tmp_path))
    manifest.add_table(os.getpid(), "ip", "filter", "filter table of censor gfw")
    loaded = Manifest.load(manifest.path)
    assert loaded.tables == [{"pid": os.getpid(), "start": manifest.tables[0]["start"],
                              "family": "ip", "table": "filter",
                              "what": "filter table of censor gfw"}]


def test_run_ca_issues_a_certificate_the_client_verifies(tmp_path):
    from hermitnet.workload import tls

    authority = tls.make_authority(tmp_path, "unit")
    cert, key = authority.issue("news.example", "198.18.0.10")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(authority.ca_path))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_tls = client.wrap_bio(c_in, c_out, server_hostname="news.example")
    server_tls = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(6):
        for side, out_bio, peer_in in ((client_tls, c_out, s_in), (server_tls, s_out, c_in)):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            peer_in.write(out_bio.read())
    assert client_tls.version() is not None   # handshake done: the name and the chain verified
