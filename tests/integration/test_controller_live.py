"""The tier policy controller on real Open vSwitch: what it installs, live changes over REST, and
fail-secure when it stops and comes back.

One baseline session serves the tests of this module, in order; the fail-secure test stops and
restarts the controller, so it runs last.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from hermitnet import counters, runner, scenario
from hermitnet.policy.compile import compile_policy
from hermitnet.scenario import BlockEntry
from hermitnet.workload import observer
from tests.integration.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# -- flow dumps ------------------------------------------------------------------------------

_FLOW = re.compile(r"cookie=(0x[0-9a-f]+),.*\btable=(\d+),.* priority=(\d+)(?:,(\S+))? "
                   r"actions=(\S+)")


def dump_flows(bridge: str) -> set[tuple]:
    """{(table, priority, frozenset(match), cookie, frozenset(actions), leased)} on a bridge."""
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "--no-names", "dump-flows", bridge],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    flows = set()
    for line in out.splitlines():
        found = _FLOW.search(line)
        if not found:
            continue
        cookie, table, priority, match, actions = found.groups()
        flows.add((int(table), int(priority), frozenset((match or "").split(",")) - {""},
                   int(cookie, 16), frozenset(actions.split(",")), "hard_timeout=" in line))
    return flows


def dump_meters(bridge: str) -> dict[int, tuple[int, int]]:
    """{meter id: (rate kbps, burst kbit)}"""
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-meters", bridge],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return {int(m): (int(rate), int(burst)) for m, rate, burst in re.findall(
        r"meter=(\d+) .*?type=drop rate=(\d+) burst_size=(\d+)", out, re.S)}


def _ovs_prefix(field: str, value) -> str:
    if isinstance(value, tuple):
        bits = sum(bin(int(octet)).count("1") for octet in value[1].split("."))
        return f"{field}={value[0]}/{bits}"
    return f"{field}={value}"


def expected_flows(rules) -> set[tuple]:
    """The compiler's rules in the words ovs-ofctl uses."""
    flows = set()
    for rule in rules:
        match = set()
        for name, value in rule.match:
            if name == "eth_type":
                assert value == 0x0800
                match.add("ip")
            elif name == "in_port":
                match.add(f"in_port={value}")
            elif name == "ipv4_src":
                match.add(_ovs_prefix("nw_src", value))
            elif name == "ipv4_dst":
                match.add(_ovs_prefix("nw_dst", value))
            elif name == "metadata":
                match.add(f"metadata={value[0]:#x}/{value[1]:#x}")
        actions = set()
        if rule.meter is not None:
            actions.add(f"meter:{rule.meter}")
        if rule.metadata is not None:
            actions.add(f"write_metadata:{rule.metadata:#x}/0xff")
        if rule.goto is not None:
            actions.add(f"goto_table:{rule.goto}")
        if rule.output is not None:
            actions.add(f"output:{rule.output}")
        flows.add((rule.table, rule.priority, frozenset(match), rule.cookie,
                   frozenset(actions or {"drop"}), rule.lease))
    return flows


def differences(live, compiled) -> dict[str, tuple[set, set]]:
    """{switch: (installed but not compiled, compiled but not installed)} where they differ."""
    found = {}
    for switch in (s for s in live.plan.switches if s.controlled):
        rules, _ = compiled.for_switch(switch.name)
        installed, wanted = dump_flows(switch.node), expected_flows(rules)
        if installed != wanted:
            found[switch.name] = (installed - wanted, wanted - installed)
    return found


def wait_for(condition, timeout_s: float, what: str, step_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(step_s)


# -- the network -------------------------------------------------------------------------------

def api(live, method: str, path: str, body=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        live.controller_api + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def fetch(live, host: str, site: str) -> bool:
    """One HTTP fetch of a site's page from a subscriber's host: True if the page came."""
    ip = live.plan.host(site).ip
    done = live.emu.run(host, ["curl", "-s", "--connect-timeout", "2", "--max-time", "4",
                               f"http://{ip}/"], timeout_s=15)
    return done.returncode == 0 and f"hermitnet-site:{site}" in done.stdout


def arrived_bytes(live, site: str, subscriber: str) -> int:
    return observer.read(live.emu, live.plan)[site][subscriber]["bytes"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    loaded = scenario.load(REPO / "scenarios" / "baseline.yaml")
    out = tmp_path_factory.mktemp("controller-live")
    with runner.session(loaded, out, progress=lambda message: None) as session:
        yield session


def test_installed_flows_equal_the_compiler_output(live):
    compiled = compile_policy(live.plan, live.state)
    assert differences(live, compiled) == {}
    total = sum(len(dump_flows(s.node)) for s in live.plan.switches if s.controlled)
    assert total == len(compiled.rules)
    # the standalone global zone switch is not the controller's
    assert dump_flows(live.plan.switch("global").node) != expected_flows([])


def test_block_over_rest_switches_the_fetch_from_ok_to_blocked(live):
    assert fetch(live, "elite-1", "video")
    status, answer = api(live, "POST", "/v1/blocklist", {"site": "video", "reason": "test"})
    assert status == 200, answer
    assert answer["enforced"]["all_confirmed"]
    assert not fetch(live, "elite-1", "video")
    assert not fetch(live, "visitor-1", "video")
    assert fetch(live, "elite-1", "search")                 # only that site
    state = live.state.with_changes(blocklist=(BlockEntry("video", None, "test"),))
    assert differences(live, compile_policy(live.plan, state)) == {}
    status, _ = api(live, "DELETE", "/v1/blocklist/video")
    assert status == 200
    assert fetch(live, "elite-1", "video")
    assert differences(live, compile_policy(live.plan, live.state)) == {}


def test_a_block_for_one_tier_and_a_zone_change(live):
    status, answer = api(live, "POST", "/v1/blocklist", {"site": "shop", "tier": "elite"})
    assert status == 200, answer
    assert not fetch(live, "elite-1", "shop")
    assert fetch(live, "visitor-1", "shop")
    status, _ = api(live, "DELETE", "/v1/blocklist/shop/tiers/elite")
    assert status == 200 and fetch(live, "elite-1", "shop")
    status, _ = api(live, "PUT", "/v1/tiers/visitor/zones", {"zones": ["national"]})
    assert status == 200 and not fetch(live, "visitor-1", "shop")
    assert differences(live, compile_policy(live.plan, live.state.with_changes(
        tier_zones={**live.state.tier_zones, "visitor": ("national",)}))) == {}
    status, _ = api(live, "PUT", "/v1/tiers/visitor/zones", {"zones": ["national", "global"]})
    assert status == 200 and fetch(live, "visitor-1", "shop")


def test_invalid_request_changes_nothing(live):
    before = {s.name: dump_flows(s.node) for s in live.plan.switches if s.controlled}
    status, answer = api(live, "PUT", "/v1/subscribers/elite-1/tier", {"tier": "royal"})
    assert (status, answer["field"]) == (400, "tier")
    status, answer = api(live, "POST", "/v1/blocklist", {"site": "video", "for_s": 5})
    assert (status, answer["field"]) == (400, "for_s")
    after = {s.name: dump_flows(s.node) for s in live.plan.switches if s.controlled}
    assert after == before


def test_moving_a_subscriber_changes_what_it_reaches(live):
    assert fetch(live, "citizen-1", "news") and not fetch(live, "citizen-1", "search")
    status, _ = api(live, "PUT", "/v1/subscribers/citizen-1/tier", {"tier": "elite"})
    assert status == 200
    assert fetch(live, "citizen-1", "search")
    status, _ = api(live, "PUT", "/v1/subscribers/citizen-1/tier", {"tier": "citizen"})
    assert status == 200
    assert not fetch(live, "citizen-1", "search")


def test_counters_per_tier_and_decision(live):
    time.sleep(2.5)                                     # two polls after the traffic above
    status, line = api(live, "GET", "/v1/counters")
    assert status == 200
    flows = line["flows"]
    assert flows["elite"]["blocked"]["packets"] > 0     # the blocked fetches
    assert flows["citizen"]["denied"]["packets"] > 0    # citizen-1 -> search
    assert flows["zone:global"]["allow"]["packets"] > 0  # replies from video to elite-1
    assert line["uplink"]["tx_bytes"] > 0 and line["uplink"]["switch"] == "border"
    lines = (live.run_dir / "counters.jsonl").read_text().splitlines()
    assert len(lines) >= 3


def test_unknown_paths_and_methods_answer_json_and_nothing_raised(live):
    assert api(live, "GET", "/v1/nothing") == (404, {
        "error": "no such path: /v1/nothing; see docs/openapi.yaml", "field": None,
        "status": 404})
    status, answer = api(live, "POST", "/v1/policy", {})
    assert (status, answer["status"]) == (405, 405) and "allowed: GET" in answer["error"]
    assert api(live, "GET", "/v1/health")[1]["exceptions"] == 0
    assert live.controller.errors() == []


def test_fail_secure_then_the_policy_comes_back(live):
    """Controller down: the country keeps its last policy inside, the border closes when the
    lease runs out and nothing arrives at the global zone; back up: the policy, including a
    live change made before the stop, is reinstalled and counters resume."""
    status, _ = api(live, "POST", "/v1/blocklist", {"site": "game"})
    assert status == 200
    lease_s = api(live, "GET", "/v1/health")[1]["lease_s"]
    expected = live.state.with_changes(blocklist=(BlockEntry("game"),))
    border = live.plan.switch("border").node
    assert fetch(live, "elite-1", "video")

    live.watchdog.expect_down("controller")        # planned: no fault for the run
    live.controller.stop()
    stopped = time.monotonic()
    assert not live.controller.alive()
    wait_for(lambda: not any(f[5] for f in dump_flows(border)), lease_s + 5,
             "the leased uplink rules expire")
    assert time.monotonic() - stopped <= lease_s + 5
    before = {site: arrived_bytes(live, site, "elite-1") for site in ("video", "search")}
    assert not fetch(live, "elite-1", "video")
    ping = live.emu.run("elite-1", ["ping", "-c", "5", "-i", "0.2", "-W", "1",
                                    live.plan.host("search").ip], timeout_s=20)
    assert ping.returncode != 0
    after = {site: arrived_bytes(live, site, "elite-1") for site in ("video", "search")}
    assert after == before                                          # nothing crossed
    # inside the country the last policy holds: intranet works, citizens still fenced in
    assert fetch(live, "elite-1", "news") and fetch(live, "citizen-1", "news")
    assert not fetch(live, "citizen-1", "portal")
    assert not fetch(live, "library-1", "video")

    live.controller.start()
    live.watchdog.expect_up("controller")
    assert live.controller.alive()
    wait_for(lambda: not differences(
        live, compile_policy(live.plan, expected)), 40,
        "the full policy reinstalled after the restart")
    assert fetch(live, "elite-1", "video")
    assert not fetch(live, "elite-1", "game")                      # the live change survived
    wait_for(lambda: counters.summarise(live.run_dir / "counters.jsonl")["epochs"] == 2
             and api(live, "GET", "/v1/counters")[1]["switches"] == 7, 15, "counters resume")
    summary = counters.summarise(live.run_dir / "counters.jsonl")
    assert summary["gaps"], "the time the controller was down shows as a gap"
    api(live, "DELETE", "/v1/blocklist/game")
