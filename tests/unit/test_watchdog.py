"""The run's watchdog: outages begun and ended on the run's clock, planned or faults."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from hermitnet.emulation import watchdog
from hermitnet.emulation.watchdog import Check, Seen, Watchdog


class Switchable:
    """A component whose state the test sets."""

    def __init__(self):
        self.seen = Seen(True, 1)

    def __call__(self) -> Seen:
        return self.seen


def make(*names):
    parts = {name: Switchable() for name in names}
    lines = []
    dog = Watchdog([Check(name, part) for name, part in parts.items()], progress=lines.append)
    return dog, parts, lines


def test_an_outage_is_noted_with_when_it_began_and_ended():
    dog, parts, lines = make("controller", "uplink")
    dog.poll(0.0)
    parts["controller"].seen = Seen(False, 1, "exited with -9")
    assert [o["component"] for o in dog.poll(1.5)] == ["controller"]
    assert dog.poll(2.0) == []
    parts["controller"].seen = Seen(True, 2)
    ended = dog.poll(4.25)
    assert ended == [{"component": "controller", "down_at_s": 1.5, "up_at_s": 4.25,
                      "gap_s": 2.75, "planned": False, "detail": "exited with -9"}]
    assert dog.faults() == ended
    assert lines[0].startswith("FAULT at t=1.50 s: controller down (exited with -9)")
    assert "back after 2.75 s" in lines[1]


def test_a_planned_outage_is_no_fault():
    dog, parts, _ = make("uplink")
    dog.poll(0.0)
    dog.expect_down("uplink")
    parts["uplink"].seen = Seen(False, None, "eth1 down")
    dog.poll(1.0)
    parts["uplink"].seen = Seen(True)
    dog.poll(3.0)
    dog.expect_up("uplink")
    assert dog.outages[0]["planned"] is True
    assert dog.faults() == []


def test_a_restart_between_two_looks_is_an_outage_bounded_by_them():
    dog, parts, _ = make("openvswitch")
    dog.poll(0.0)
    dog.poll(0.2)
    parts["openvswitch"].seen = Seen(True, 2)
    [outage] = dog.poll(0.4)
    assert (outage["down_at_s"], outage["up_at_s"]) == (0.2, 0.4)
    assert "restarted (1 -> 2)" in outage["detail"]


def test_still_down_at_the_end_keeps_up_at_none_and_the_gap_until_then():
    dog, parts, _ = make("site:video")
    dog.poll(0.0)
    parts["site:video"].seen = Seen(False, None, "no server running")
    dog.poll(2.0)
    [outage] = dog.finish(7.0)
    assert outage["up_at_s"] is None and outage["gap_s"] == 5.0


def test_a_check_that_cannot_look_counts_as_down():
    def broken():
        raise PermissionError("denied")

    dog = Watchdog([Check("x", broken)], progress=lambda line: None)
    [outage] = dog.poll(0.0)
    assert "cannot look" in outage["detail"]


def test_processes_pidfiles_and_links(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stderr.write('boom')"],
                               stderr=subprocess.PIPE, text=True)
    process.wait(timeout=30)
    seen = watchdog.process_seen(process, lambda: watchdog.stderr_tail(process))
    assert not seen.up and seen.detail == "exited with 0: boom"
    assert watchdog.processes_seen([]).up is False
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert watchdog.processes_seen([sleeper]) == Seen(True, (sleeper.pid,))
        pidfile = tmp_path / "daemon.pid"
        pidfile.write_text(f"{sleeper.pid}\n")
        assert watchdog.pidfile_seen(pidfile) == Seen(True, sleeper.pid)
        other = tmp_path / "other.pid"
        other.write_text(f"{os.getpid()}\n")
        assert watchdog.pidfile_seen(pidfile, other) == Seen(True, (sleeper.pid, os.getpid()))
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    assert not watchdog.pidfile_seen(pidfile).up
    assert not watchdog.pidfile_seen(tmp_path / "none.pid").up
    for name, state in (("a", "up"), ("b", "down")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "operstate").write_text(state + "\n")
    assert watchdog.links_seen(["a"], tmp_path).up
    seen = watchdog.links_seen(["a", "b", "c"], tmp_path)
    assert not seen.up and seen.detail == "b down, c missing"


def test_the_thread_polls_on_the_run_clock():
    class Clock:
        start = time.monotonic()

        def now_s(self):
            return time.monotonic() - self.start

    dog, parts, _ = make("controller")
    dog.period_s = 0.01
    dog.run(Clock())
    parts["controller"].seen = Seen(False, 1, "gone")
    deadline = time.monotonic() + 10
    while not dog.outages and time.monotonic() < deadline:
        time.sleep(0.01)
    dog.stop()
    assert dog.outages and dog.outages[0]["component"] == "controller"


def test_one_line_names_the_component_the_time_and_how_long():
    outage = {"component": "openvswitch", "down_at_s": 3.0, "up_at_s": 4.5, "gap_s": 1.5,
              "planned": False, "detail": "restarted (1 -> 2) between two looks"}
    assert watchdog.one_line(outage) == ("openvswitch down at t=3.00 s for 1.50 s (restarted "
                                         "(1 -> 2) between two looks)")
    outage.update(up_at_s=None, gap_s=2.0, detail="")
    assert watchdog.one_line(outage) == "openvswitch down at t=3.00 s until the end (2.00 s)"


def test_a_dying_delay_line_is_a_fault_naming_its_stderr(baseline_plan):
    """The run's watchdog: the delay process's last words reach the console and the outage."""
    from types import SimpleNamespace

    from hermitnet import runner

    failing = subprocess.Popen([sys.executable, "-c",
                                "import sys; sys.exit('cannot attach to hnxxs1-eth2')"],
                               stderr=subprocess.PIPE, text=True)
    failing.wait(timeout=30)
    controller = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    lines: list[str] = []
    try:
        live = SimpleNamespace(
            controller=SimpleNamespace(process=controller, log_tail=lambda lines: ""),
            plan=baseline_plan, scenario=SimpleNamespace(sites=[]), site_processes={},
            resolver_processes={}, emu=SimpleNamespace(delay_line=failing),
            progress=lines.append, cluster=None)
        dog = runner._watchdog(live)
        dog.poll(0.5)
    finally:
        controller.kill()
        controller.wait(timeout=30)
    (delay,) = [o for o in dog.outages if o["component"] == "delay line"]
    assert delay["detail"] == "exited with 1: cannot attach to hnxxs1-eth2"
    assert not delay["planned"]
    assert any("delay line down" in line and "cannot attach" in line for line in lines)


def test_a_dead_resolver_is_a_fault_naming_it(baseline_plan):
    """Each resolver's dnsmasq is watched like a site's servers: its exit is resolver:NAME."""
    from types import SimpleNamespace

    from hermitnet import runner

    dead = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit('dnsmasq: failed')"],
                            stderr=subprocess.PIPE, text=True)
    dead.wait(timeout=30)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = SimpleNamespace(
            controller=SimpleNamespace(process=alive, log_tail=lambda lines: ""),
            plan=baseline_plan, scenario=SimpleNamespace(sites=[]), site_processes={},
            resolver_processes={"dns-walled": dead, "dns-national": alive},
            emu=SimpleNamespace(), progress=lambda line: None, cluster=None)
        dog = runner._watchdog(live)
        dog.poll(0.5)
    finally:
        alive.kill()
        alive.wait(timeout=30)
    resolvers = {o["component"]: o for o in dog.outages if o["component"].startswith("resolver")}
    assert list(resolvers) == ["resolver:dns-walled"]
    assert resolvers["resolver:dns-walled"]["detail"] == "exited with 1: dnsmasq: failed"
