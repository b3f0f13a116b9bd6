"""The foreign-cell censor on the real emulator: a smuggled foreign handset fetches the sites of
scenarios/foreign-cell-censored.yaml through the censor host, and each behaviour shows its
effect where a user would see it (dig's status, curl's exit code and body), and in results.json
`censors` as what the censor did. An unlisted site passes untouched, over HTTP and HTTPS.
"""

from __future__ import annotations

import re

import pytest

from hermitnet import radio, runner, scenario
from hermitnet.workload.servers import ca_path, site_marker
from tests.integration.conftest import REPO, leftovers, netns_inode

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

PHONE = "smuggler-1"
THROTTLE_BYTES = 300_000


def _dig(emu, server_ip: str, name: str) -> tuple[str, list[str]]:
    """(status, A answers) of one query from the phone, or ("no answer", [])."""
    done = emu.run(PHONE, ["dig", "+tries=1", "+time=2", f"@{server_ip}", name, "A"],
                   timeout_s=20)
    status = re.search(r"status: (\w+)", done.stdout)
    answers = re.findall(rf"^{re.escape(name)}\.\s+\d+\s+IN\s+A\s+(\S+)", done.stdout, re.M)
    return (status.group(1) if status else "no answer"), answers


def _curl(emu, url: str, *extra: str, max_time_s: float = 6) -> tuple[int, str, str]:
    """(curl exit code, body, -w output) of one fetch from the phone."""
    done = emu.run(PHONE, ["curl", "-s", "--connect-timeout", "2", "--max-time",
                           f"{max_time_s:g}", "-w", "\n%{http_code} %{speed_download}",
                           *extra, url], timeout_s=max_time_s + 20)
    body, _, written = done.stdout.rpartition("\n")
    return done.returncode, body, written


@pytest.fixture(scope="module")
def censored(tmp_path_factory):
    loaded = scenario.load(REPO / "scenarios" / "foreign-cell-censored.yaml")
    # the premise: the phone is on a foreign cell at t = 0 (no timeline is played here)
    assert radio.evaluate(loaded.radio, 0.0)[PHONE].cell_kind == "foreign"
    out = tmp_path_factory.mktemp("censored")
    seen = {}
    with runner.session(loaded, out, progress=lambda message: None) as live:
        emu, plan = live.emu, live.plan
        ip = {s.name: plan.host(s.name).ip for s in loaded.sites}
        https = ["--cacert", str(ca_path(out))]

        def resolve(site):
            host = loaded.site(site).hostname
            return ["--resolve", f"{host}:443:{ip[site]}"], f"https://{host}/"

        seen["dns"] = {name: _dig(emu, ip["mail"], name) for name in
                       ("news.example", "social.example", "search.example", "mail.example")}
        seen["blockpage_server"] = _curl(emu, f"http://{plan.censor('gfw').ip}/")
        for site in ("world-news", "social", "wiki", "mail"):
            seen[f"http {site}"] = _curl(emu, f"http://{ip[site]}/", "-H",
                                         f"Host: {loaded.site(site).hostname}")
        seen["http keyword"] = _curl(emu, f"http://{ip['mail']}/falun/", "-H",
                                     "Host: mail.example")
        for site in ("world-news", "social", "mail"):
            args, url = resolve(site)
            seen[f"https {site}"] = _curl(emu, url, *https, *args, max_time_s=5)
        (out / "sites" / "video" / "big.bin").write_bytes(b"x" * THROTTLE_BYTES)
        seen["throttled"] = _curl(emu, f"http://{ip['video']}/big.bin", "-H",
                                  "Host: video.example", max_time_s=30)
        seen["run_id"] = plan.prefix
        seen["netns"] = [netns_inode(emu.node(PHONE).pid), netns_inode(emu.node("gfw").pid)]
    seen["results"] = live.results
    seen["out"] = out
    return seen


def _rule(censored, action: str, site: str | None = None) -> dict:
    rules = censored["results"]["censors"][0]["rules"]
    return next(r for r in rules if r["action"] == action and (site is None or r["site"] == site))


def test_dns_injection(censored):
    dns = censored["dns"]
    assert dns["news.example"][0] == "NXDOMAIN"
    assert dns["social.example"] == ("NOERROR", ["10.10.34.35"])
    assert dns["search.example"] == ("NOERROR", ["198.19.255.254"])
    assert dns["mail.example"][0] == "no answer"   # no resolver there: nothing forged it
    for action in ("dns-nxdomain", "dns-bogon", "dns-blockpage"):
        assert _rule(censored, action)["answers_injected"] >= 1, action
    code, body, _ = censored["blockpage_server"]
    assert code == 0 and "hermitnet-censor:gfw" in body


def test_tcp_reset_on_listed_host_and_keyword(censored):
    assert censored["http world-news"][0] == 56           # recv failure: reset by peer
    assert censored["http keyword"][0] == 56
    assert _rule(censored, "tcp-rst", "world-news")["resets_injected"] >= 2
    keyword = next(r for r in censored["results"]["censors"][0]["rules"] if r["keyword"])
    assert keyword["resets_injected"] >= 2 and keyword["packets_dropped"] >= 1


def test_blockpage_in_place_of_the_site(censored):
    code, body, written = censored["http social"]
    assert code == 0 and written.startswith("200 ")
    assert "hermitnet-censor:gfw" in body and site_marker("social") not in body
    assert _rule(censored, "http-blockpage")["answers_injected"] >= 1


def test_tls_reset_and_drop_by_server_name(censored):
    assert censored["https world-news"][0] == 35          # TLS handshake failed (reset)
    assert censored["https social"][0] == 28              # timed out: ClientHello dropped
    assert _rule(censored, "tls-rst")["resets_injected"] >= 2
    assert _rule(censored, "tls-drop")["packets_dropped"] >= 1


def test_blackhole(censored):
    assert censored["http wiki"][0] == 28
    assert _rule(censored, "blackhole")["packets_dropped"] >= 1


def test_throttle_holds_the_site_to_its_rate(censored):
    code, body, written = censored["throttled"]
    assert code == 0 and len(body) >= THROTTLE_BYTES
    rule = _rule(censored, "throttle")
    assert rule["shaped"]["bytes"] >= THROTTLE_BYTES
    speed_bytes_s = float(written.split()[1])
    # an upper bound only: a slower machine is slower still, never faster than the class
    assert speed_bytes_s <= 2 * rule["rate_kbps"] * 1000 / 8


def test_unlisted_site_passes_untouched(censored):
    for fetch in ("http mail", "https mail"):
        code, body, written = censored[fetch]
        assert code == 0 and written.startswith("200 "), fetch
        assert site_marker("mail") in body, fetch


def test_censor_record_and_cleanup(censored):
    record = censored["results"]["censors"][0]
    assert record["name"] == "gfw" and record["path"] == "foreign-cell"
    assert record["injector"]["running"] is True
    assert len(record["rules"]) == 10
    assert censored["results"]["status"] == "ok"
    assert leftovers(censored["run_id"], censored["out"], censored["netns"]) == []
