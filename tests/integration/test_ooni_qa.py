"""hermitnet's Web Connectivity classes against OONI's own QA suite, one censor behaviour a row.

A smuggled foreign handset (smuggler-1, on a foreign cell at t = 0) measures one site per
behaviour of the foreign-cell censor, with its real resolver (the foreign operator's) and the
global control vantage. Each row names the OONI QA case that builds the same condition in
ooni/probe-cli internal/webconnectivityqa and the `blocking` and `accessible` values that case
expects (its ExpectTestKeys); hermitnet's row for that site must give the same two values.

After the first sweep the control vantage is cut off (its host drops everything it sends, as
OONI's QA resets the traffic to its test helpers) and the sites without a censor rule are
measured again: the blocked-control rows.
"""

from __future__ import annotations

import pytest

from hermitnet import radio, runner, scenario
from hermitnet.workload import servers
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

PHONE = "smuggler-1"
LARGE_PAGE_BYTES = 400_000     # the throttled site's page: 50 s at its rate
QA = "ooni/probe-cli internal/webconnectivityqa/"

# site, scheme, its censor rule ({} none), OONI QA case (file: function), blocking, accessible
TABLE = [
    ("open", "http", {}, "success.go: successWithHTTP", False, True),
    ("open-tls", "https", {}, "success.go: successWithHTTPS", False, True),
    ("nxdomain", "http", {"action": "dns-nxdomain"},
     "dnsblocking.go: dnsBlockingNXDOMAIN", "dns", False),
    ("bogon", "http", {"action": "dns-bogon"},
     "dnsblocking.go: dnsBlockingBOGON", "dns", False),
    ("dns-blockpage", "http", {"action": "dns-blockpage"},
     "httpdiff.go: httpDiffWithInconsistentDNS (the DNS answer leads to a block page)",
     "dns", False),
    ("host-reset", "http", {"action": "tcp-rst"},
     "httpblocking.go: httpBlockingConnectionReset", "http-failure", False),
    ("falun-books", "http", {"keyword": "falun", "action": "tcp-rst"},
     "httpblocking.go: httpBlockingConnectionReset (its DPI rule resets on any string the "
     "request carries; here a keyword in the Host)", "http-failure", False),
    ("blockpage", "http", {"action": "http-blockpage"},
     "httpdiff.go: httpDiffWithConsistentDNS", "http-diff", False),
    ("tls-reset", "https", {"action": "tls-rst"},
     "tlsblocking.go: tlsBlockingConnectionResetWithConsistentDNS", "http-failure", False),
    ("tls-drop", "https", {"action": "tls-drop"},
     "redirect.go: redirectWithConsistentDNSAndThenTimeoutForHTTPS (its final hop's "
     "ClientHello dropped by SNI, DPIDropTrafficForTLSSNI)", "http-failure", False),
    ("blackhole", "http", {"action": "blackhole"},
     "tcpblocking.go: tcpBlockingConnectTimeout", "tcp_ip", False),
    # a large page (LARGE_PAGE_BYTES, as OONI's largefile.com) held to 64 kbit/s cannot
    # arrive within the fetch's max time, as OONI's cannot through 300 ms delay and 10 % loss
    ("throttled", "http", {"action": "throttle", "rate_kbps": 64},
     "throttling.go: throttlingWithHTTP", "http-failure", False),
    ("gone", "http", {}, "websitedown.go: websiteDownTCPConnect (its servers stopped: "
     "connection refused for the probe and the control)", False, False),
]

# With the control vantage cut off: site, OONI QA case, blocking, accessible
BLOCKED_CONTROL = [
    ("open", "control.go: controlFailureWithSuccessfulHTTPWebsite", None, None),
    ("open-tls", "control.go: controlFailureWithSuccessfulHTTPSWebsite", False, True),
]


def _document() -> dict:
    sites = [{"name": "news", "zone": "intranet", "hostname": "rodong.rep.kp",
              "title": "State newspaper"},
             {"name": "video", "zone": "global", "hostname": "video.example",
              "title": "Video site"},
             {"name": "world-news", "zone": "global", "hostname": "news.example",
              "title": "Foreign news"}]
    rules = []
    for site, scheme, rule, *_ in TABLE:
        sites.append({"name": site, "zone": "global", "hostname": f"{site}.example",
                      "title": f"The {site} site", "scheme": scheme})
        if rule:
            rules.append({**rule, **({} if "keyword" in rule else {"site": site})})
    return {"schema": 1, "extends": str(REPO / "scenarios" / "border.yaml"), "name": "ooni-qa",
            "sites": sites,
            "censors": [{"name": "gfw", "path": "foreign-cell", "rules": rules}],
            "measure": {"reachability": {"connect_timeout_s": 2},
                        "throughput": {"flows": []}, "timeline": {"traffic": []}}}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    import yaml

    folder = tmp_path_factory.mktemp("ooni-qa")
    path = folder / "ooni-qa.yaml"
    path.write_text(yaml.safe_dump(_document(), sort_keys=False))
    loaded = scenario.load(path)
    assert radio.evaluate(loaded.radio, 0.0)[PHONE].cell_kind == "foreign"   # the premise
    out = folder / "run"
    seen = {}
    with runner.session(loaded, out, progress=lambda message: None) as live:
        live.watchdog.expect_down("site:gone")          # down for everyone: planned
        servers_page = out / "sites" / "throttled" / "index.html"
        filler = "<p>a large page, as OONI's largefile.com</p>\n"
        servers_page.write_text(servers_page.read_text().replace(
            "</body>", filler * (LARGE_PAGE_BYTES // len(filler)) + "</body>"))
        servers.stop_site(live.site_processes["gone"])
        seen["first"] = {r["site"]: r for r in live.measure_reachability()
                         if r["host"] == PHONE}
        # the control vantage cut off: everything it sends is dropped in its own host
        live.emu.check("control-global", ["iptables", "-I", "OUTPUT", "-j", "DROP"])
        seen["control blocked"] = {r["site"]: r for r in live.measure_reachability()
                                   if r["host"] == PHONE}
        seen["run_id"] = live.plan.prefix
    seen["results"] = live.results
    return seen


@pytest.mark.parametrize("site,scheme,rule,case,blocking,accessible", TABLE,
                         ids=[row[0] for row in TABLE])
def test_classification_equals_oonis_qa_expectation(measured, site, scheme, rule, case,
                                                    blocking, accessible):
    row = measured["first"][site]
    assert row["url"] == f"{scheme}://{site}.example/"
    assert (row["blocking"], row["accessible"]) == (blocking, accessible), (
        f"{QA}{case} expects blocking={blocking!r}, accessible={accessible!r}", row)


@pytest.mark.parametrize("site,case,blocking,accessible", BLOCKED_CONTROL,
                         ids=[row[0] for row in BLOCKED_CONTROL])
def test_a_blocked_control(measured, site, case, blocking, accessible):
    row = measured["control blocked"][site]
    assert row["control"]["dns"]["failure"] == "generic_timeout_error"   # it reached nothing
    assert (row["blocking"], row["accessible"]) == (blocking, accessible), (
        f"{QA}{case} expects blocking={blocking!r}, accessible={accessible!r}", row)


def test_verdicts_beside_oonis_keys(measured):
    first = measured["first"]
    assert first["gone"]["verdict"] == "site-down"
    assert first["open"]["verdict"] == "accessible"
    assert measured["control blocked"]["open"]["verdict"] == "unknown"
    assert first["nxdomain"]["resolver"] == "dns-operator"


def test_the_run_is_clean(measured):
    assert measured["results"]["status"] == "ok", measured["results"].get("error")
    assert leftovers(measured["run_id"]) == []
