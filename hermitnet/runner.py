"""One run, end to end: scenario -> plan and policy -> emulation -> workload -> results on disk.

`session()` holds the run lock (one emulation at a time on this machine), brings the emulated
network up and always takes it down again. results.json is written when the run starts (status
"running"), after each measurement phase, and at the end with status "ok", "failed" or
"interrupted"; `run()` is a session that measures everything the scenario asks for. SIGTERM is
treated like Ctrl-C.

One clock: t = 0 is the moment the network is up and the policy installed on every switch
(`LiveRun.clock`). `measure_all` plays the scenario's events (hermitnet.timeline) on it and
starts the measurements placed on it (reachability and probes at their at_s, flows at their
start_s, the radio replay from t = 0); the measurements without a time run one after another
from t = 0 (probes, a reachability sweep, the flows in turn), concurrently with the events.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from hermitnet import capacity, counters, report
from hermitnet import plan as plan_module
from hermitnet import results as results_module
from hermitnet.emulation import capabilities as caps_module
from hermitnet.emulation import manifest as manifest_module
from hermitnet.emulation import runlock
from hermitnet.errors import HermitError
from hermitnet.policy.compile import Compiled, PolicyHoles, compile_policy
from hermitnet.policy.state import PolicyState
from hermitnet.timeline.player import Clock

LOG = logging.getLogger("hermitnet.run")
POLICY_INSTALL_TIMEOUT_S = 60
LEASE_S = 5.0       # rules across the uplink: the border closes this long after the controller
COUNTERS_INTERVAL_S = 1.0
POPULATION_PHONES = 7_000_000  # phones evaluated for jamming effectiveness in results.json


def new_run_id() -> tuple[str, int]:
    """A short id for names ('hn' and two base-36 characters) and its number, for dpids."""
    tag = secrets.randbelow(36 * 36)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    return f"hn{digits[tag // 36]}{digits[tag % 36]}", tag


def default_out(scenario_name: str, run_id: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{scenario_name}-{stamp}-{run_id}"


def clean_stale_runs() -> list[str]:
    """Remove what runs whose owner process is gone left behind."""
    removed = []
    for manifest in manifest_module.list_manifests():
        if not manifest.owner_alive():
            removed += manifest_module.cleanup(manifest)
            results_module.mark_killed(manifest.results_dir)
    return removed


@dataclass
class LiveRun:
    """The running emulation of one scenario, as a session hands it out."""

    scenario: object
    plan: plan_module.Plan
    state: PolicyState
    compiled: Compiled
    caps: caps_module.Capabilities
    run_dir: Path
    results: dict
    progress: object
    emu: object = None
    controller: object = None
    api_host: str = "127.0.0.1"       # where the controller's REST API listens
    clock: Clock = field(default_factory=Clock)
    site_processes: dict = field(default_factory=dict)    # {site: its server processes}
    controller_started_at: float | None = None            # wall time: the counters' t_s base
    watchdog: object = None   # hermitnet.emulation.watchdog.Watchdog, from t = 0
    on_timeline_step: object = None  # called with each radio timeline row (the live view)
    tagged_probes: list = field(default_factory=list)     # the probes planned, once per run
    counter_readings: list = field(default_factory=list)  # observers read around each change
    policy_timeline: object = None   # hermitnet.policy.timeline.PolicyTimeline, planned then
    #                                  as played (from the event records)
    cluster_spec: object = None      # hermitnet.cluster.placement.ClusterSpec: several machines
    cluster: object = None           # its checked hermitnet.cluster.emulation.ClusterRun
    teardown_started: float | None = None                 # monotonic: the network going down

    @property
    def controller_api(self) -> str:
        return self.controller.api_url

    def elapsed_s(self) -> float:
        return self.clock.now_s()

    def checkpoint(self) -> None:
        """Write what is measured so far, so that an interrupted run keeps it."""
        results_module.write(self.run_dir, self.results)

    def read_observers(self) -> None:
        """Read every host observer now (around a policy change), kept with the span the
        reading took in `counter_readings`, so leakage is judged slice by slice with the
        policy in force in each (hermitnet.results.counter_slices)."""
        from hermitnet.workload import observer

        t_from_s = self.clock.now_s()
        counters = observer.read(self.emu, self.plan)
        self.counter_readings.append({"t_from_s": t_from_s, "t_to_s": self.clock.now_s(),
                                      "counters": counters})

    def measure_reachability(self) -> list[dict]:
        """One full sweep (every subscriber x every site), each row stamped with its t_s."""
        from hermitnet.workload import reachability

        t_s = round(self.clock.now_s(), 3)
        rows = reachability.measure(self.emu, self.scenario, self.run_dir)
        t_end_s = round(self.clock.now_s(), 3)
        return [{**row, "t_s": t_s, "t_end_s": t_end_s} for row in rows]

    def measure_all(self) -> None:
        """Everything the scenario asks for, into self.results, on the one clock."""
        from hermitnet.policy import timeline as policy_timeline
        from hermitnet.timeline.actions import LiveActions
        from hermitnet.timeline.events import events, radio_model_on_clock
        from hermitnet.timeline.player import Player
        from hermitnet.workload import observer, probes, throughput
        from hermitnet.workload import uplinks as uplink_use

        timings = self.results["timings_s"]
        scenario, clock, progress = self.scenario, self.clock, self.progress
        planned = events(scenario)
        self.policy_timeline = policy_timeline.planned(self.plan, self.state, planned)
        # one set of tags, sent each round; every pair some policy of the run forbids
        tagged = probes.plan_probes(self.plan, self.policy_timeline)
        if self.policy_timeline.changed and len(scenario.probes_at_s) < 2:
            progress("the policy changes during this run and the leakage probes go out once: "
                     "a crossing forbidden only before or after a change is probed only under "
                     "the policy of that moment (measure.probes.at_s: a round in each period)")
        self.tagged_probes = tagged
        observer.add_probes(self.emu, self.plan, tagged)
        line = scenario.timeline
        player = Player(clock, line.step_s, line.time_scale, progress)
        live_radio, radio_rows = None, []
        if scenario.radio is not None:
            from hermitnet.workload import timeline

            live_radio = timeline.LiveRadio(self.emu, radio_model_on_clock(scenario.radio,
                                                                           planned))
            if scenario.timeline_s:
                player.job(0.0, "radio timeline", lambda: radio_rows.extend(timeline.replay(
                    self.emu, scenario, live_radio, clock, player.stop_event, progress,
                    self.on_timeline_step)))
        actions = LiveActions(self, live_radio, self.site_processes)
        for event in planned:
            player.event(event, actions.apply, actions.bracket)
        sweeps: list[list[dict]] = []
        for t_s in scenario.reachability_at_s:
            player.job(t_s, f"reachability at {t_s:g} s",
                       lambda: sweeps.append(self._sweep()))
        probe_rounds: list[list[dict]] = []
        for t_s in scenario.probes_at_s:
            player.job(t_s, f"probes at {t_s:g} s",
                       lambda: probe_rounds.append(self._probes(tagged, live_radio)))
        timed_flows: list[tuple[dict, dict]] = []
        for flow in (f for f in scenario.flows if f.start_s is not None):
            player.job(flow.start_s, f"throughput {flow.src} -> {flow.dst}",
                       lambda flow=flow: timed_flows.append(throughput.run_flow(
                           self.emu, scenario, self.state, flow, clock.now_s())))
        failover_probe = self._failover_probe(player, planned)
        if planned or player.jobs:
            progress(f"timeline: {len(planned)} events and {len(player.jobs)} timed "
                     f"measurements over {scenario.duration_s:g} s from t = 0")
        sampler = uplink_use.Sampler(self.plan, clock)
        sampler.start()
        player.start()
        waiting = None
        try:
            started = time.monotonic()
            if not scenario.probes_at_s:
                probe_rounds.append(self._probes(tagged, live_radio))
            timings["probes"] = time.monotonic() - started
            started = time.monotonic()
            if not scenario.reachability_at_s:
                sweeps.append(self._sweep())
                self.results["reachability"] = sweeps[0]
                self.checkpoint()
            timings["reachability"] = time.monotonic() - started
            started = time.monotonic()
            self.results["throughput"], self.results["rtt"] = throughput.measure(
                self.emu, scenario, self.state, progress, clock)
            timings["throughput"] = time.monotonic() - started
            self.checkpoint()
            waiting = time.monotonic()
            player.wait(scenario.duration_s)
        finally:
            player.stop()
            actions.stop_floods()
            samples = sampler.stop()
            if waiting is not None:   # the rest of the timeline, after the measurements above
                timings["timeline"] = time.monotonic() - waiting
            self.results["timeline"] = self._timeline_results(player, actions)
            self.policy_timeline = policy_timeline.from_records(self.plan, self.state,
                                                                player.records)
        started = time.monotonic()
        self.results["reachability"] = results_module.judge_reachability(
            sorted((row for sweep in sweeps for row in sweep), key=lambda row: row["t_s"]),
            self.plan, self.policy_timeline)
        for row, rtt in sorted(timed_flows, key=lambda pair: pair[0]["start_s"]):
            self.results["throughput"].append(row)
            self.results["rtt"].append(rtt)
        self.results["throughput"] = [
            throughput.judge_flow(row, self.plan, self.policy_timeline, rtt["rtt_ms_min"])
            for row, rtt in zip(self.results["throughput"], self.results["rtt"], strict=True)]
        throughput.concurrent_note(self.results["throughput"])
        self.results["uplinks"] = self._uplinks_results(samples, player.records, failover_probe)
        if scenario.radio is not None:
            from hermitnet.workload import timeline

            self.results["radio"] = timeline.summary(scenario.radio, radio_rows,
                                                     POPULATION_PHONES, scenario.seed)
            from hermitnet.radio.mapplot import draw_run_map

            draw_run_map(scenario.radio, self.run_dir / "radio-map.png",
                         f"{scenario.name}: every jammer on, UEs at their start")
        self.checkpoint()
        sent = probes.merge_rounds(probe_rounds)
        arrived = observer.read(self.emu, self.plan)
        timeline = self.policy_timeline
        edges = observer.read_edges(self.plan, timeline, sent,
                                    observer.capture_files(self.plan, self.run_dir),
                                    self.clock.t0_wall)
        slices = (results_module.counter_slices(
            sorted(self.counter_readings, key=lambda r: r["t_from_s"]), arrived)
            if timeline.changed else None)
        self.results["leakage"] = results_module.leakage(arrived, sent, edges, self.plan,
                                                         timeline, slices)
        self.results["policy_timeline"] = results_module.policy_record(
            timeline, self.results)
        holes = PolicyHoles.from_environment()
        if holes:
            self.results["leakage"]["test_holes"] = holes.to_dict()
        timings["analysis"] = time.monotonic() - started
        self.check_controller()

    def _failover_probe(self, player, planned) -> dict | None:
        """With several uplinks and an uplink going down: a ping all along the run (see
        hermitnet.workload.uplinks), its outcome filled in when it ends."""
        from hermitnet.workload import uplinks as uplink_use

        scenario = self.scenario
        if len(scenario.uplinks) < 2 or not any(e.kind == "uplink_down" for e in planned):
            return None
        pair = uplink_use.probe_pair(scenario, self.state)
        if pair is None:
            return {"error": "no subscriber may reach a global site: failover not measured"}
        src, dst = pair
        probe = {"src": src, "dst": dst, "interval_s": uplink_use.PROBE_INTERVAL_S,
                 "answered_s": []}

        def run():
            done = self.emu.run(src, uplink_use.ping_argv(self.plan.host(dst).ip,
                                                          scenario.duration_s),
                                timeout_s=scenario.duration_s + 30)
            probe["answered_s"] = uplink_use.parse_ping(done.stdout, self.clock.t0_wall)

        player.job(0.0, f"failover probe {src} -> {dst}", run)
        return probe

    def _uplinks_results(self, samples: list[dict], records: list[dict],
                         probe: dict | None) -> dict:
        """Which uplink each flow across the border used; the failovers and their p95."""
        from hermitnet import counters
        from hermitnet.commands.policy import call
        from hermitnet.workload import uplinks as uplink_use

        names = [u.name for u in self.scenario.uplinks]
        for row in self.results["throughput"]:
            if row.get("path") == "uplink":
                row["uplinks"], row["uplinks_used"] = uplink_use.usage(
                    samples, row["start_s"], row["start_s"] + row["seconds"])
        out = {"names": names, "sample_s": uplink_use.SAMPLE_S,
               "series": counters.downsample(samples, counters.MAX_SERIES_POINTS)}
        try:
            out["controller"] = call(self.controller_api, "GET", "/v1/uplinks")
        except HermitError as error:
            out["controller"] = {"error": str(error)}
        offset_s = self.clock.t0_wall - (self.controller_started_at or self.clock.t0_wall)
        for change in out["controller"].get("changes", []):   # onto the run's clock
            change["t_s"] = round(change["t_s"] - offset_s, 3)
        if probe is not None:
            answered = probe.pop("answered_s", [])
            found = uplink_use.failovers(records, names, answered)
            times = [f["failover_s"] for f in found if f["failover_s"] is not None]
            out["failover"] = {**probe, "answered": len(answered), "events": found,
                               "failover_s_p95": uplink_use.p95(times),
                               "target_s": 1.0}
        return out

    def _sweep(self) -> list[dict]:
        self.progress(f"reachability at t={self.clock.now_s():.1f} s: "
                      f"{len(self.scenario.subscribers)} subscribers x "
                      f"{len(self.scenario.sites)} sites")
        return self.measure_reachability()

    def _probes(self, tagged: list[dict], live_radio) -> list[dict]:
        """One round of the tagged probes; a phone without radio service at this moment sends
        nothing (its air link carries nothing then either)."""
        from hermitnet.workload import probes

        t_s = self.clock.now_s()
        self.progress(f"leakage probes at t={t_s:.1f} s: policy hole, spoofed "
                      "source, DNS/ICMP tunnels, IPv6, both directions, with controls")
        attachments = None if live_radio is None else live_radio.update(t_s, reshape=False)[0]
        return probes.run(self.emu, self.plan, tagged, attachments)

    def _timeline_results(self, player, actions) -> dict:
        line = self.scenario.timeline
        late = [r for r in player.records if r["late"]]
        for record in late:
            self.progress(f"LATE: {record['kind']} {record['target']} planned at "
                          f"{record['planned_s']:g} s took effect at {record['effective_s']:g} s")
        self.results["environment"]["not_emulated"] += [
            line for line in actions.not_emulated
            if line not in self.results["environment"]["not_emulated"]]
        return {
            "t0": dt.datetime.fromtimestamp(self.clock.t0_wall, dt.timezone.utc).isoformat(
                timespec="milliseconds"),
            "duration_s": self.scenario.duration_s, "step_s": line.step_s,
            "time_scale": line.time_scale, "events": player.records,
            "late": [f"{r['kind']} {r['target']} at {r['planned_s']:g} s" for r in late],
            "floods": actions.floods,
        }

    def check_controller(self) -> None:
        planned_down = self.watchdog is not None and "controller" in self.watchdog.planned_down
        if not self.controller.alive() and not planned_down:
            raise HermitError("the controller died during the run:\n" + self.controller.log_tail())


@contextmanager
def _sigterm_as_interrupt():
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM wait until the block is done: a teardown never stops halfway."""
    caught = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt(f"signal {caught[0]}")


def _skeleton_results(scenario, run_id: str, caps, will, will_not) -> dict:
    return {
        "schema": results_module.SCHEMA_VERSION,
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "run_id": run_id,
        "seed": scenario.seed,
        "started": _now(),
        "finished": None,
        "status": "running",
        "error": None,
        "environment": {
            "datapath": caps.datapath, "netem": caps.netem, "delay_line": caps.delay_line,
            "controller": caps.controller,
            "ovs": caps.ovs, "mininet": caps.mininet, "kernel": caps.kernel,
            "iperf3": caps.iperf3, "scapy": caps.scapy,
            "emulated": will, "not_emulated": list(will_not),
        },
        "reachability": [], "throughput": [], "rtt": [],
        "leakage": {"by_tier": {}, "by_path": {}},
        "timings_s": {},
        "controller": {"errors": []},
        "outages": [],
    }


@contextmanager
def session(scenario, out_dir: Path | None = None, progress=print, caps=None,
            api_host: str = "127.0.0.1", cluster=None) -> Iterator[LiveRun]:
    """Bring the scenario's network up, yield it, and always tear it down and write results.

    Refused (HermitError naming the other run) while another run holds the run lock. The
    controller's API listens on `api_host` (beyond loopback only with a token). `cluster` (a
    hermitnet.cluster.placement.ClusterSpec) spreads the network over several machines."""
    with (_sigterm_as_interrupt(), runlock.acquire(scenario.name, scenario.source) as lock,
          _session(scenario, out_dir, progress, caps, lock, api_host, cluster) as live):
        yield live


@contextmanager
def _session(scenario, out_dir, progress, caps, lock,
             api_host: str = "127.0.0.1", cluster=None) -> Iterator[LiveRun]:
    session_started = time.monotonic()
    caps = caps or caps_module.detect()
    if caps.problems:
        raise HermitError("this machine cannot run the emulation:\n  - "
                          + "\n  - ".join(caps.problems))
    stale = clean_stale_runs()
    if stale:
        progress(f"removed leftovers of earlier runs: {len(stale)} objects")
    run_id, tag = new_run_id()
    plan = plan_module.build(scenario, run_tag=tag, prefix=run_id)
    need = capacity.check(plan, capacity.Machine.detect(), scenario.source,
                          "radio.ues" if any(s.radio for s in scenario.subscribers)
                          else "subscribers")
    capacity.raise_open_files_limit(need)
    progress(f"capacity: {need.text()}")
    run_dir = Path(out_dir) if out_dir else default_out(scenario.name, run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock.note(results_dir=str(run_dir))
    state = PolicyState.from_scenario(scenario)
    compiled = compile_policy(plan, state)
    will, will_not = caps_module.describe(caps)
    for line in will:
        progress(f"emulated: {line}")
    for line in will_not:
        progress(f"NOT emulated: {line}")
    results = _skeleton_results(scenario, run_id, caps, will, will_not)
    results["policy"] = state.to_dict()  # as the run starts: the report's expectation
    live = LiveRun(scenario, plan, state, compiled, caps, run_dir, results, progress,
                   api_host=api_host, cluster_spec=cluster)
    manifest = manifest_module.Manifest.create(run_id, str(run_dir))
    from hermitnet.timeline.events import events

    events(scenario)   # a scenario built in code (not loaded) is checked here too
    timings = results["timings_s"]
    timings["setup"] = time.monotonic() - session_started
    try:
        results_module.write(run_dir, results)
        with _emulation(live, manifest):
            yield live
        _fail_if_the_controller_raised(results["controller"]["errors"])
        _fail_on_faults(results["outages"])
        results["status"] = "ok"
    except KeyboardInterrupt:
        results["status"] = "interrupted"
        results["error"] = "interrupted"
        raise
    except HermitError as error:
        results["status"] = "failed"
        results["error"] = str(error)
        raise
    except Exception as error:
        results["status"] = "failed"
        results["error"] = f"{type(error).__name__}: {error}"
        raise
    finally:
        with _signals_deferred():
            manifest_module.cleanup(manifest)
            if live.teardown_started is not None:
                timings["teardown"] = time.monotonic() - live.teardown_started
            writing = time.monotonic()
            results["finished"] = _now()
            _attach_counters(live)
            _attach_control_plane(live)
            report.write_html(results, run_dir)
            timings["results"] = time.monotonic() - writing
            timings["total"] = time.monotonic() - session_started
            results_module.write(run_dir, results)
            progress(f"results: {run_dir}")


@contextmanager
def _emulation(live: LiveRun, manifest) -> Iterator[None]:
    from hermitnet.emulation import censor as censor_emulation
    from hermitnet.emulation.controller import ControllerProcess
    from hermitnet.emulation.network import Emulation
    from hermitnet.workload import observer, servers

    plan, scenario, caps, progress = live.plan, live.scenario, live.caps, live.progress
    timings = live.results["timings_s"]
    clock = time.monotonic()
    of_host, build = "127.0.0.1", Emulation
    if live.cluster_spec is not None:
        from hermitnet.cluster import emulation as cluster_emulation
        from hermitnet.cluster.placement import describe, refuse_unsupported

        refuse_unsupported(scenario)
        for line in describe(plan, cluster_emulation.place(plan, live.cluster_spec)):
            progress(line)
        live.cluster = cluster_emulation.prepare(live.cluster_spec, plan, live.run_dir)
        live.results["environment"]["cluster"] = live.cluster.environment()
        progress(f"links between machines: {live.cluster.tunnel} tunnels "
                 f"({live.cluster.tunnel_choice})")
        of_host = live.cluster.local_address
        build = partial(cluster_emulation.ClusterEmulation, cluster=live.cluster)
    live.controller_started_at = time.time()
    live.controller = ControllerProcess(
        {"plan": plan.to_dict(), "policy": live.state.to_dict(),
         "started_at": live.controller_started_at,
         "counters_path": str(live.run_dir / "counters.jsonl"),
         "counters_interval_s": COUNTERS_INTERVAL_S, "lease_s": LEASE_S},
        live.run_dir, manifest, api_host=live.api_host, of_host=of_host)
    progress(f"starting controller ({caps.controller}) on {of_host}:{live.controller.of_port}")
    live.controller.start()
    manifest.controller_api = live.controller_api
    manifest.api_token_path = live.controller.token_path and str(live.controller.token_path)
    manifest.save()
    timings["controller_start"] = time.monotonic() - clock
    clock = time.monotonic()
    try:
        progress(f"building network: {len(plan.switches)} switches, {len(plan.hosts)} hosts, "
                 f"{caps.datapath} datapath")
        with build(plan, caps, manifest, live.controller.of_port) as emu:
            live.emu = emu
            live.results["environment"]["not_emulated"] += emu.not_emulated
            timings["build"] = time.monotonic() - clock
            progress("waiting for every switch to connect and hold the policy")
            timings["policy_install"] = emu.wait_policy_installed(
                expected_flow_counts(live.compiled), POLICY_INSTALL_TIMEOUT_S, live.controller)
            _check_meters(live)
            progress("starting the sites' servers")
            clock = time.monotonic()
            live.site_processes.update(servers.start_sites(
                emu, scenario, live.run_dir, {f.dst for f in scenario.flows}))
            running_censors = []
            if scenario.censors:
                progress("starting the censors: " + ", ".join(
                    f"{c.name} on the {c.path} path ({len(c.rules)} rules)"
                    for c in scenario.censors))
                running_censors = censor_emulation.start(emu, scenario, live.run_dir)
            timings["servers"] = time.monotonic() - clock
            clock = time.monotonic()
            observer.install(emu, plan)
            for kind in ("uplink", "foreign-backhaul"):
                emu.capture(kind, live.run_dir / "capture.pcap")
            timings["observers"] = time.monotonic() - clock
            live.clock = Clock()          # t = 0 of the run's one clock
            progress(f"network up (t = 0); controller API {live.controller_api}")
            live.watchdog = _watchdog(live)
            live.watchdog.run(live.clock)
            try:
                yield
            finally:      # before the teardown, which the watchdog must not see as outages
                live.teardown_started = time.monotonic()
                live.watchdog.stop()
                live.results["outages"] = live.watchdog.finish(live.clock.now_s())
                if running_censors:
                    live.results["censors"] = censor_emulation.collect(emu, running_censors)
    finally:
        if "build" not in timings:   # the build failed (and stopped what it had built)
            timings["build"] = time.monotonic() - clock
        if live.teardown_started is None:    # failed while coming up: what follows is teardown
            live.teardown_started = time.monotonic()
        live.controller.stop()
        live.results["controller"]["errors"] = live.controller.errors()


def _watchdog(live: LiveRun):
    """What the run needs, looked at from t = 0: the controller, Open vSwitch, the uplink, every
    site's servers and the delay line (its stderr is the outage's detail)."""
    from hermitnet.emulation import uplink, watchdog

    checks = [
        watchdog.Check("controller", lambda: watchdog.process_seen(
            live.controller.process, lambda: live.controller.log_tail(1))),
        watchdog.Check("openvswitch", watchdog.pidfile_seen),
    ]
    for link in uplink.uplink_links(live.plan):
        checks.append(watchdog.Check(uplink.component(link.name), lambda name=link.name: (
            watchdog.links_seen(uplink.interfaces(live.plan, name)))))
    if live.cluster is None:
        for site in live.scenario.sites:
            checks.append(watchdog.Check(f"site:{site.name}", lambda name=site.name: (
                watchdog.processes_seen(live.site_processes.get(name, [])))))
    else:   # started through the Cluster Edition's node shells, which hand back no server pid
        live.progress("watchdog: site servers are not watched on a cluster run")
    delay = getattr(live.emu, "delay_line", None)
    if delay is not None:
        checks.append(watchdog.Check("delay line", lambda: watchdog.process_seen(
            delay, lambda: watchdog.stderr_tail(delay))))
    return watchdog.Watchdog(checks, live.progress)


def _attach_control_plane(live: LiveRun) -> None:
    """The controller's outages with what crossed the uplink meanwhile (control_plane.py)."""
    from hermitnet.workload import control_plane, observer

    if live.watchdog is None:
        return
    pcap = observer.capture_files(live.plan, live.run_dir).get("uplink")
    frames, error = None, None
    try:
        frames = control_plane.frames(pcap, live.plan, live.policy_timeline or live.state,
                                      live.clock.t0_wall)
    except Exception as exc:     # noqa: BLE001 - a capture scapy cannot read: said, not fatal
        error = f"cannot read {pcap}: {type(exc).__name__}: {exc}"
    live.results["control_plane"] = control_plane.summary(
        live.results["outages"], LEASE_S, frames, capture_error=error)


def _check_meters(live: LiveRun) -> None:
    """Record how many meters the datapath offers; say so if tier rates cannot be enforced."""
    bridge = next(s.node for s in live.plan.switches if s.controlled)
    meters = caps_module.max_meters(bridge)
    live.results["environment"]["max_meters"] = meters
    rated = sorted(t for t, rate in live.state.tier_rate_mbps.items() if rate)
    if rated and not meters:
        line = (f"tier rate limits of {', '.join(rated)}: this datapath offers no OpenFlow "
                "meters")
        live.results["environment"]["not_emulated"].append(line)
        live.progress(f"NOT emulated: {line}")


def expected_flow_counts(compiled: Compiled) -> dict[str, dict[int, int]]:
    """{switch: {table: number of flows}} the compiled policy installs."""
    expected: dict[str, dict[int, int]] = {}
    for rule in compiled.rules:
        per_table = expected.setdefault(rule.switch, {})
        per_table[rule.table] = per_table.get(rule.table, 0) + 1
    return expected


def _attach_counters(live: LiveRun) -> None:
    """Fold the controller's counter time series (if it wrote one) into the results, on the
    run's clock, and reconcile the counters with the observers."""
    path = live.run_dir / "counters.jsonl"
    if path.exists():
        live.results["counters"] = _on_the_run_clock(live, counters.summarise(path))
    if "probes" in live.results["leakage"]:
        from hermitnet.reconcile import reconcile

        live.results["leakage"]["reconciliation"] = reconcile(live.results, live.plan, live.state)


def _on_the_run_clock(live: LiveRun, summary: dict) -> dict:
    """The controller stamps t_s from its own start; the run's clock starts later (t = 0)."""
    if live.controller_started_at is None:
        return summary
    offset_s = live.clock.t0_wall - live.controller_started_at
    summary["t0_offset_s"] = round(offset_s, 3)
    for point in summary.get("series", []):
        point["t_s"] = round(point["t_s"] - offset_s, 3)
    for gap in summary.get("gaps", []):
        gap["from_s"], gap["to_s"] = (round(gap["from_s"] - offset_s, 3),
                                      round(gap["to_s"] - offset_s, 3))
    for key in ("first_s", "last_s"):
        if summary.get(key) is not None:
            summary[key] = round(summary[key] - offset_s, 3)
    return summary


def _fail_if_the_controller_raised(errors: list[dict]) -> None:
    if errors:
        first = errors[0]
        raise HermitError(f"the controller raised {len(errors)} exception(s) during the run, "
                          f"first at t={first['time_s']} s in {first['where']}: "
                          f"{first['error']} (all in results.json controller.errors; "
                          "tracebacks in controller.log)")


def _fail_on_faults(outages: list[dict]) -> None:
    """Outages the scenario did not plan fail the run (what it measured is kept)."""
    from hermitnet.emulation.watchdog import one_line

    faults = [o for o in outages if not o["planned"]]
    if faults:
        raise HermitError(f"{len(faults)} fault(s) during the run (all in results.json "
                          "outages): " + "; ".join(one_line(o) for o in faults))


def run(scenario, out_dir: Path | None = None, progress=print, caps=None,
        after=None, api_host: str = "127.0.0.1", watch=None, cluster=None) -> tuple[Path, dict]:
    """Run `scenario` and measure everything it asks for; returns (results folder, results).

    `after(live)`, if given, runs on the live network once everything is measured; `watch(live)`,
    a context manager (the live view), is entered once the network is up and left before it
    goes down."""
    with session(scenario, out_dir, progress, caps, api_host, cluster) as live, \
            (watch(live) if watch else nullcontext()):
        live.measure_all()
        if after is not None:
            after(live)
        progress("measured; taking the network down")
    return live.run_dir, live.results


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
