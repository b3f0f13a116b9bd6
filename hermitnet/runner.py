"""One run, end to end: scenario -> plan and policy -> emulation -> workload -> results on disk.

`session()` brings the emulated network up and always takes it down again, writing
results.json with status "ok", "failed" or "interrupted"; `run()` is a session that measures
everything the scenario asks for. SIGTERM is treated like Ctrl-C.
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
from pathlib import Path

from hermitnet import plan as plan_module
from hermitnet import report
from hermitnet import results as results_module
from hermitnet.emulation import capabilities as caps_module
from hermitnet.emulation import manifest as manifest_module
from hermitnet.errors import HermitError
from hermitnet.policy import Compiled, PolicyState, compile_policy, policy_state_to_dict

LOG = logging.getLogger("hermitnet.run")
POLICY_INSTALL_TIMEOUT_S = 60
COUNTERS_INTERVAL_S = 1.0
POPULATION_PHONES = 200_000  # phones evaluated for jamming effectiveness in results.json


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
    on_timeline_step: object = None  # called with each radio timeline row (the live view)
    started_monotonic: float = field(default_factory=time.monotonic)

    @property
    def controller_api(self) -> str:
        return f"http://127.0.0.1:{self.controller.api_port}"

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_monotonic

    def measure_reachability(self) -> list[dict]:
        from hermitnet.workload import reachability

        return reachability.measure(self.emu, self.scenario, self.run_dir)

    def measure_all(self) -> None:
        """Everything the scenario asks for, into self.results."""
        from hermitnet.workload import observer, probes, throughput

        timings = self.results["timings_s"]
        scenario = self.scenario
        self.progress(f"reachability: {len(scenario.subscribers)} subscribers x "
                      f"{len(scenario.sites)} sites")
        clock = time.monotonic()
        self.results["reachability"] = self.measure_reachability()
        timings["reachability"] = time.monotonic() - clock
        self.progress("leakage probes: policy hole, spoofed source, DNS/ICMP tunnels, IPv6")
        probes_sent = probes.run(self.emu, self.plan, self.state, scenario)
        clock = time.monotonic()
        self.results["throughput"], self.results["rtt"] = throughput.measure(
            self.emu, scenario, self.state, self.progress)
        timings["throughput"] = time.monotonic() - clock
        if scenario.radio is not None:
            from hermitnet.workload import timeline

            clock = time.monotonic()
            rows = timeline.replay(self.emu, scenario, self.progress,
                                   self.on_timeline_step) if scenario.timeline_s else []
            self.results["radio"] = timeline.summary(scenario.radio, rows, POPULATION_PHONES,
                                                     scenario.seed)
            timings["timeline"] = time.monotonic() - clock
        arrived = observer.read(self.emu, self.plan)
        self.results["leakage"] = results_module.leakage(arrived, self.state, scenario,
                                                         probes_sent)
        self.check_controller()

    def check_controller(self) -> None:
        if not self.controller.alive():
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


def _skeleton_results(scenario, run_id: str, caps, will, will_not) -> dict:
    return {
        "schema": results_module.SCHEMA_VERSION,
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "run_id": run_id,
        "seed": scenario.seed,
        "started": _now(),
        "finished": None,
        "status": "failed",
        "error": None,
        "environment": {
            "datapath": caps.datapath, "netem": caps.netem, "controller": caps.controller,
            "ovs": caps.ovs, "mininet": caps.mininet, "kernel": caps.kernel,
            "iperf3": caps.iperf3, "scapy": caps.scapy,
            "emulated": will, "not_emulated": list(will_not),
        },
        "reachability": [], "throughput": [], "rtt": [],
        "leakage": {"by_tier": {}, "by_path": {}},
        "timings_s": {},
    }


@contextmanager
def session(scenario, out_dir: Path | None = None, progress=print, caps=None) -> Iterator[LiveRun]:
    """Bring the scenario's network up, yield it, and always tear it down and write results."""
    caps = caps or caps_module.detect()
    if caps.problems:
        raise HermitError("this machine cannot run the emulation:\n  - "
                          + "\n  - ".join(caps.problems))
    stale = clean_stale_runs()
    if stale:
        progress(f"removed leftovers of earlier runs: {len(stale)} objects")
    run_id, tag = new_run_id()
    run_dir = Path(out_dir) if out_dir else default_out(scenario.name, run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_module.build(scenario, run_tag=tag, prefix=run_id)
    state = PolicyState.from_scenario(scenario)
    compiled = compile_policy(plan, state, 0.0)
    will, will_not = caps_module.describe(caps)
    for line in will:
        progress(f"emulated: {line}")
    for line in will_not:
        progress(f"NOT emulated: {line}")
    results = _skeleton_results(scenario, run_id, caps, will, will_not)
    live = LiveRun(scenario, plan, state, compiled, caps, run_dir, results, progress)
    manifest = manifest_module.Manifest.create(run_id, str(run_dir))
    try:
        with _sigterm_as_interrupt(), _emulation(live, manifest):
            yield live
        results["status"] = "ok"
    except KeyboardInterrupt:
        results["status"] = "interrupted"
        results["error"] = "interrupted"
        raise
    except HermitError as error:
        results["error"] = str(error)
        raise
    except Exception as error:
        results["error"] = f"{type(error).__name__}: {error}"
        raise
    finally:
        manifest_module.cleanup(manifest)
        results["finished"] = _now()
        _attach_counters(live)
        results_module.write(run_dir, results)
        report.write_html(results, run_dir)
        progress(f"results: {run_dir}")


@contextmanager
def _emulation(live: LiveRun, manifest) -> Iterator[None]:
    from hermitnet.emulation.controller import ControllerProcess
    from hermitnet.emulation.network import Emulation
    from hermitnet.workload import observer, servers

    plan, scenario, caps, progress = live.plan, live.scenario, live.caps, live.progress
    timings = live.results["timings_s"]
    clock = time.monotonic()
    live.controller = ControllerProcess(
        {"plan": plan.to_dict(), "policy": policy_state_to_dict(live.state),
         "started_at": time.time(), "counters_path": str(live.run_dir / "counters.jsonl"),
         "counters_interval_s": COUNTERS_INTERVAL_S},
        live.run_dir, manifest)
    progress(f"starting controller ({caps.controller}) on 127.0.0.1:{live.controller.of_port}")
    live.controller.start()
    manifest.controller_api = live.controller_api
    manifest.save()
    try:
        progress(f"building network: {len(plan.switches)} switches, {len(plan.hosts)} hosts, "
                 f"{caps.datapath} datapath")
        with Emulation(plan, caps, manifest, live.controller.of_port) as emu:
            live.emu = emu
            live.results["environment"]["not_emulated"] += emu.not_emulated
            timings["build"] = time.monotonic() - clock
            progress("waiting for every switch to connect and hold the policy")
            timings["policy_install"] = emu.wait_policy_installed(
                expected_flow_counts(live.compiled), POLICY_INSTALL_TIMEOUT_S, live.controller)
            _check_meters(live)
            servers.start_sites(emu, scenario, live.run_dir, {f.dst for f in scenario.flows})
            observer.install(emu, plan)
            for kind in ("uplink", "foreign-backhaul"):
                emu.capture(kind, live.run_dir / "capture.pcap")
            live.started_monotonic = time.monotonic()
            progress(f"network up; controller API {live.controller_api}")
            yield
    finally:
        live.controller.stop()


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
    """Fold the controller's counter time series (if it wrote one) into the results."""
    path = live.run_dir / "counters.jsonl"
    if not path.exists():
        return
    try:
        from hermitnet import counters
    except ImportError:
        return
    live.results["counters"] = counters.summarise(path, live.plan)


def run(scenario, out_dir: Path | None = None, progress=print, caps=None,
        after=None, watch=None) -> tuple[Path, dict]:
    """Run `scenario` and measure everything it asks for; returns (results folder, results).

    `after(live)`, if given, runs on the live network once everything is measured; `watch(live)`,
    a context manager (the live view), is entered once the network is up and left before it
    goes down."""
    with session(scenario, out_dir, progress, caps) as live, \
            (watch(live) if watch else nullcontext()):
        live.measure_all()
        if after is not None:
            after(live)
    return live.run_dir, live.results


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
