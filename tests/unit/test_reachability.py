"""Reachability: parsing what dig and curl recorded, the fetch script, a row's fields."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from hermitnet.measure import webconnectivity as wc
from hermitnet.workload import reachability as r

DIG_OK = """
; <<>> DiG 9.18 <<>> +tries=1 +time=2 rodong.rep.kp A
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 29893
;; flags: qr aa rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

;; QUESTION SECTION:
;rodong.rep.kp.			IN	A

;; ANSWER SECTION:
rodong.rep.kp.		0	IN	A	10.1.0.10

;; Query time: 0 msec
"""
DIG_NXDOMAIN = ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 50071\n"
DIG_TIMEOUT = (";; communications error to 10.53.0.10#53: timed out\n"
               ";; no servers could be reached\n")
HEADERS = ("HTTP/1.0 301 Moved\r\nLocation: /x\r\nServer: a\r\n\r\n"
           "HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\nDate: now\r\nContent-Length: 9\r\n\r\n")
PAGE = "<html><head><title>State newspaper</title></head></html>"


def test_parse_dig():
    assert r.parse_dig(DIG_OK) == wc.Dns(None, ("10.1.0.10",))
    assert r.parse_dig(DIG_NXDOMAIN) == wc.Dns("dns_nxdomain_error")
    assert r.parse_dig(DIG_TIMEOUT) == wc.Dns("generic_timeout_error")
    assert r.parse_dig(";; ->>HEADER<<- opcode: QUERY, status: REFUSED, id: 1\n").failure == (
        "dns_refused_error")
    assert r.parse_dig(";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n").failure == (
        "dns_no_answer")


def test_parse_curl_and_the_final_headers():
    line = "200 0.001234 0 10.1.0.10 http://rodong.rep.kp/x"
    assert r.parse_curl(line) == {"http_code": 200, "connect_s": 0.001234, "exit_code": 0,
                                  "remote_ip": "10.1.0.10",
                                  "final_url": "http://rodong.rep.kp/x"}
    assert r.parse_curl("")["exit_code"] == -1
    assert r.final_header_names(HEADERS) == ("Server", "Date", "Content-Length")


def test_to_measurement():
    dns = wc.Dns(None, ("10.1.0.10",))
    got = r.to_measurement(dns, r.parse_curl("200 0.001 0 10.1.0.10 http://x/"), HEADERS,
                           PAGE)
    assert got.tcp_connect == (wc.TcpConnect("10.1.0.10", 80, None),)
    assert got.http.status_code == 200 and got.http.title == "State newspaper"
    assert got.http.body_length == len(PAGE)
    dropped = r.to_measurement(dns, r.parse_curl("000 0.000000 28  http://x/"), "", None)
    assert dropped.tcp_connect[0].failure == "generic_timeout_error"
    assert dropped.http.failure == "generic_timeout_error"
    assert dropped.tcp_connect[0].ip == "10.1.0.10"
    late = r.to_measurement(dns, r.parse_curl("000 0.002 28 10.1.0.10 http://x/"), "", None)
    assert late.tcp_connect[0].failure is None and late.http.failure == "generic_timeout_error"
    # a ClientHello dropped: connected, then curl's connect timeout ran out in the handshake
    # (as recorded from a tls-drop censor: time_connect 0, the remote address known)
    stalled = r.to_measurement(dns, r.parse_curl("000 0.000000 28 10.1.0.10 https://x/"), "",
                               None, 443)
    assert stalled.tcp_connect == (wc.TcpConnect("10.1.0.10", 443, None),)
    assert stalled.http.failure == "generic_timeout_error"
    reset = r.to_measurement(dns, r.parse_curl("000 0.002 56 10.1.0.10 http://x/"), "", None)
    assert reset.http.failure == "connection_reset"
    refused = r.to_measurement(dns, r.parse_curl("000 0.000 7 10.1.0.10 http://x/"), "", None)
    assert refused.tcp_connect[0].failure == "connection_refused"
    nx = r.to_measurement(wc.Dns("dns_nxdomain_error"), r.parse_curl("000 0 6  http://x/"),
                          "", None)
    assert nx.tcp_connect == () and nx.http.failure == "dns_nxdomain_error"


def test_fetch_script_looks_up_then_fetches_each_site_by_name(tmp_path):
    script = r.fetch_script([("news", "rodong.rep.kp", "http"),
                             ("video", "video.example", "https")], tmp_path, 2,
                            tmp_path / "ca.pem")
    lines = script.splitlines()
    assert lines[-1] == "wait" and len(lines) == 3
    assert "dig +tries=1 +time=2 rodong.rep.kp A" in lines[0]
    assert "http://rodong.rep.kp/" in lines[0] and "-H" not in lines[0]
    assert "--cacert" not in lines[0]
    assert f"{tmp_path / 'video'}.html" in lines[1]
    assert f"--cacert {tmp_path / 'ca.pem'}" in lines[1] and "https://video.example/" in lines[1]


def test_in_own_resolver_binds_the_conf_in_a_private_mount_namespace():
    argv = r.in_own_resolver("dig x", Path("/run/x/citizen-1.conf"))
    assert argv[:4] == ["unshare", "--mount", "--propagation", "private"]
    assert argv[-1] == "mount --bind /run/x/citizen-1.conf /etc/resolv.conf || exit 1\ndig x"


def _fetch(dns, curl, body):
    return r.to_measurement(dns, r.parse_curl(curl), HEADERS, body)


def test_a_row_carries_oonis_keys_the_verdict_and_the_policy():
    sub = SimpleNamespace(name="citizen-1", tier="citizen", handset="national",
                          access="mobile")
    site = SimpleNamespace(name="news", zone="intranet", hostname="rodong.rep.kp",
                           url="http://rodong.rep.kp/")
    ok = _fetch(wc.Dns(None, ("10.1.0.10",)), "200 0.001 0 10.1.0.10 http://x/", PAGE)
    dropped = _fetch(wc.Dns(None, ("10.1.0.10",)), "000 0.000 28  http://x/", None)
    row = r.row(sub, site, "dns-walled", ok, ok, True, "accessible")
    assert (row["verdict"], row["blocking"], row["accessible"], row["ok"]) == (
        "accessible", False, True, True)
    assert row["agrees"] is True and row["probe"]["dns"]["addrs"] == ["10.1.0.10"]
    blocked = r.row(sub, site, "dns-walled", dropped, ok, True, "accessible")
    assert (blocked["verdict"], blocked["agrees"]) == ("tcp_ip", False)
    assert r.disagreements([{**blocked, "t_s": 1.0}]) == [
        {"t_s": 1.0, "host": "citizen-1", "tier": "citizen", "site": "news",
         "verdict": "tcp_ip", "policy_expected": "accessible"}]
    offline = r.row(sub, site, "dns-walled", dropped, ok, False, "accessible")
    assert offline["verdict"] == "no-service" and offline["agrees"] is None
    down = r.row(sub, site, "dns-walled", dropped, dropped, True, "accessible")
    assert down["verdict"] == "site-down" and down["agrees"] is None
    # OONI's QA (websiteDownTCPConnect): not blocking, not accessible
    assert (down["blocking"], down["accessible"]) == (False, False)
