"""Faults during a run, on the real emulator: the run notices each, says when, keeps measuring.

Two short runs of the baseline network.

A planned controller crash: the timeline kills the controller (SIGKILL) at DOWN_S and starts it
at UP_S, while elite-1 pings the global site `video` (allowed, across the uplink) and citizen-1
pings `search` (forbidden). The far-side observers (nftables counters in video and search) are
sampled all along: elite-1's packets stop arriving within the lease, citizen-1's never arrive;
the results' control_plane says when and how long the controller was gone and what the uplink
capture saw cross meanwhile; the run ends ok.

Unplanned faults, one session: a site's server killed, the uplink flapping, the controller
killed and started again, Open vSwitch restarted (ovs-ctl, as an operator would; it runs again
when the test ends, whatever happens). Each is an outage in results.json with its time, the
network works again after each, and the run ends failed naming every fault.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest
import yaml

from hermitnet import runner, scenario
from hermitnet.emulation import uplink
from hermitnet.errors import HermitError
from hermitnet.workload import control_plane, observer
from tests.integration.conftest import REPO, leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

DOWN_S, UP_S, DURATION_S = 2.0, 12.0, 18.0
OVS_CTL = "/usr/share/openvswitch/scripts/ovs-ctl"


def _baseline(**timeline) -> scenario.Scenario:
    doc = yaml.safe_load((REPO / "scenarios" / "baseline.yaml").read_text())
    doc["measure"] = {"reachability": {"connect_timeout_s": 1}, "throughput": {"flows": []}}
    if timeline:      # a sweep once the controller is back, probes while it is down
        doc["timeline"] = timeline
        doc["measure"]["reachability"]["at_s"] = [DURATION_S - 1]
        doc["measure"]["probes"] = {"at_s": [DOWN_S + 7]}
    return scenario.from_dict(doc, source="baseline (faults)")


def _arrivals(live, site: str, sender: str) -> int:
    return observer.read_site(live.emu, site).get(sender, {}).get("packets", 0)


@contextmanager
def _pings_and_far_side_samples(live, samples: list):
    """elite-1 -> video and citizen-1 -> search, 10 pings a second, and every 0.25 s on the
    run's clock what arrived at each far side."""
    pings = [live.emu.popen(src, ["ping", "-q", "-i", "0.1", "-w", str(int(DURATION_S) + 10),
                                  live.plan.host(dst).ip], f"ping {dst}",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for src, dst in (("elite-1", "video"), ("citizen-1", "search"))]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.25):
            samples.append((live.clock.now_s(), _arrivals(live, "video", "elite-1"),
                            _arrivals(live, "search", "citizen-1")))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        for ping in pings:
            ping.terminate()


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory):
    loaded = _baseline(duration_s=DURATION_S, events=[
        {"at_s": DOWN_S, "kind": "controller_down", "reason": "test: crash"},
        {"at_s": UP_S, "kind": "controller_up"}])
    samples: list[tuple[float, int, int]] = []
    out = tmp_path_factory.mktemp("controller-crash")
    _, results = runner.run(loaded, out, progress=print,
                            watch=lambda live: _pings_and_far_side_samples(live, samples))
    return results, samples


def test_the_far_side_sees_nothing_forbidden_and_the_border_close_within_the_lease(crash_run):
    results, samples = crash_run
    plane = results["control_plane"]
    (outage,) = plane["outages"]
    down, lease = outage["down_at_s"], plane["lease_s"]
    closed_by = down + lease + control_plane.LEASE_GRACE_S
    allowed_during = [elite for t, elite, _ in samples if down <= t <= outage["up_at_s"]]
    assert allowed_during, samples
    arriving = [t for (t, elite, _), (_, before, _) in zip(samples[1:], samples[:-1], strict=True)
                if down <= t <= outage["up_at_s"] and elite > before]
    measured_window_s = (max(arriving) - down) if arriving else 0.0
    print(f"lease {lease:g} s; the last allowed packet arrived {measured_window_s:.2f} s "
          "after the controller died")
    assert measured_window_s <= lease + control_plane.LEASE_GRACE_S
    # after the lease nothing arrives, until the controller is back
    closed = [elite for t, elite, _ in samples if closed_by <= t <= outage["up_at_s"]]
    assert closed and len(set(closed)) == 1, samples
    # the forbidden pings never arrive: not before, not while it is down, not after
    assert {forbidden for _, _, forbidden in samples} == {0}
    # and once it is back, the allowed ones arrive again
    assert samples[-1][1] > max(closed)


def test_the_results_say_when_and_how_long_the_control_plane_was_gone(crash_run):
    results, _ = crash_run
    assert results["status"] == "ok", results["error"]
    plane = results["control_plane"]
    (outage,) = plane["outages"]
    assert outage["planned"] and "exited with -9" in outage["detail"]
    assert DOWN_S <= outage["down_at_s"] < DOWN_S + 1
    assert outage["up_at_s"] >= UP_S and outage["gap_s"] >= UP_S - DOWN_S - 1
    assert plane["down_s"] == outage["gap_s"]
    # the uplink capture: pings crossed until the lease ran out, none after, none forbidden
    assert outage["crossed"] > 0 and outage["forbidden"] == 0 and outage["after_lease"] == 0
    assert outage["last_crossing_s"] <= plane["lease_s"] + plane["grace_s"]
    assert plane["border_closed"] is True
    # the probes during the outage: nothing forbidden arrived anywhere
    assert results["leakage"]["leaks"] == []
    assert set(results["leakage"]["by_tier"].values()) == {0}
    (up,) = [e for e in results["timeline"]["events"] if e["kind"] == "controller_up"]
    assert up["reconnected_s"] > 0
    assert [o["component"] for o in results["outages"]] == ["controller"]
    assert leftovers(results["run_id"]) == []


# -- unplanned faults ------------------------------------------------------------------------

def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.2)


def _closed(live, component: str) -> bool:
    return any(o["component"] == component and o["up_at_s"] is not None
               for o in live.watchdog.outages)


def _fetch(live, host: str, site: str, attempts: int = 1) -> bool:
    for _ in range(attempts):
        done = live.emu.run(host, ["curl", "-s", "--connect-timeout", "2", "--max-time", "4",
                                   f"http://{live.plan.host(site).ip}/"], timeout_s=15)
        if done.returncode == 0 and f"hermitnet-site:{site}" in done.stdout:
            return True
        time.sleep(1)
    return False


def _ovs_running() -> bool:
    return subprocess.run([OVS_CTL, "status"], capture_output=True, timeout=30).returncode == 0


@pytest.fixture
def ovs_back_after():
    """Open vSwitch is running when the test ends, whatever the test did to it."""
    yield
    if not _ovs_running():
        subprocess.run([OVS_CTL, "start", "--system-id=random"], timeout=120, check=True)


def test_unplanned_faults_are_noticed_with_their_time_and_fail_the_run(tmp_path,
                                                                       ovs_back_after):
    lines: list[str] = []
    loaded = _baseline()
    with pytest.raises(HermitError) as caught, \
            runner.session(loaded, tmp_path, progress=lines.append) as live:
        assert _fetch(live, "elite-1", "video") and _fetch(live, "citizen-1", "news")
        live.results["reachability"] = live.measure_reachability()    # measured, then faults
        live.checkpoint()
        # a site's HTTP server dies
        os.kill(live.site_processes["recipes"][0].pid, signal.SIGKILL)
        _wait_for(lambda: any(o["component"] == "site:recipes" for o in live.watchdog.outages),
                  5, "the dead server noticed")
        # the uplink flaps
        border_end, _ = uplink.interfaces(live.plan)
        subprocess.run(["ip", "link", "set", "dev", border_end, "down"], check=True, timeout=10)
        time.sleep(1)
        subprocess.run(["ip", "link", "set", "dev", border_end, "up"], check=True, timeout=10)
        _wait_for(lambda: _closed(live, "uplink"), 5, "the flap noticed, up again")
        assert _fetch(live, "elite-1", "video", attempts=5)
        # the controller crashes and is started again by hand
        live.controller.kill()
        _wait_for(lambda: any(o["component"] == "controller" for o in live.watchdog.outages),
                  5, "the dead controller noticed")
        live.controller.start()
        _wait_for(lambda: _closed(live, "controller"), 5, "the controller back")
        # Open vSwitch restarted under the run
        subprocess.run([OVS_CTL, "restart", "--system-id=random"], check=True, timeout=120,
                       capture_output=True)
        _wait_for(lambda: _closed(live, "openvswitch"), 10, "the restart noticed")
        assert _fetch(live, "citizen-1", "news", attempts=10)      # the network works again
        assert _fetch(live, "elite-1", "video", attempts=20)       # and the policy is back
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "failed"
    outages = {o["component"]: o for o in results["outages"]}
    assert {"site:recipes", "uplink", "controller", "openvswitch"} <= set(outages)
    for name in ("site:recipes", "uplink", "controller", "openvswitch"):
        assert not outages[name]["planned"]
        assert f"{name} down at t=" in str(caught.value)
        assert any(line.startswith(("FAULT at t=", "FAULT over at t=")) and name in line
                   for line in lines), (name, lines)
    assert outages["site:recipes"]["up_at_s"] is None       # nobody started it again
    assert outages["uplink"]["gap_s"] >= 0.5
    assert outages["controller"]["down_at_s"] < outages["openvswitch"]["down_at_s"]
    assert results["control_plane"]["outages"][0]["after_lease"] == 0
    # what was measured before the faults is kept
    assert len(results["reachability"]) == len(loaded.subscribers) * len(loaded.sites)
    assert _ovs_running()
    assert leftovers(results["run_id"]) == []
