"""One run, end to end: scenario -> plan and policy -> emulation -> workload -> results on disk.

Every run writes results.json (status "ok", "failed" or "interrupted") and removes everything it
created, whatever happens. SIGTERM is treated like Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import signal
import time
from contextlib import contextmanager
from pathlib import Path

from hermitnet import plan as plan_module
from hermitnet import results as results_module
from hermitnet.emulation import capabilities as caps_module
from hermitnet.emulation import manifest as manifest_module
from hermitnet.errors import HermitError
from hermitnet.policy import PolicyState, compile_policy, policy_state_to_dict

LOG = logging.getLogger("hermitnet.run")
POLICY_INSTALL_TIMEOUT_S = 60


def new_run_id() -> tuple[str, int]:
    """A short id for names (two base-36 characters after 'hn') and a 16-bit tag for dpids."""
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


@contextmanager
def _sigterm_as_interrupt():
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(scenario, out_dir: Path | None = None, progress=print, caps=None) -> tuple[Path, dict]:
    """Run `scenario`; returns (results folder, results). Raises HermitError on failure, after
    writing results.json with status "failed"."""
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

    results = {
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
    manifest = manifest_module.Manifest.create(run_id, str(run_dir))
    try:
        with _sigterm_as_interrupt():
            _run_emulation(scenario, plan, state, compiled, caps, run_dir, manifest, results,
                           progress)
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
        results_module.write(run_dir, results)
        progress(f"results: {run_dir}")
    return run_dir, results


def _run_emulation(scenario, plan, state, compiled, caps, run_dir, manifest, results, progress):
    from hermitnet.emulation.controller import ControllerProcess
    from hermitnet.emulation.network import Emulation
    from hermitnet.workload import observer, reachability, servers, throughput

    timings = results["timings_s"]
    clock = time.monotonic()
    started_at = time.time()
    controller = ControllerProcess(
        {"plan": plan.to_dict(), "policy": policy_state_to_dict(state), "started_at": started_at},
        run_dir, manifest)
    progress(f"starting controller ({caps.controller}) on 127.0.0.1:{controller.of_port}")
    controller.start()
    try:
        progress(f"building network: {len(plan.switches)} switches, {len(plan.hosts)} hosts, "
                 f"{caps.datapath} datapath")
        with Emulation(plan, caps, manifest, controller.of_port, log_dir=run_dir) as emu:
            results["environment"]["not_emulated"] += emu.not_emulated
            timings["build"] = time.monotonic() - clock
            expected = {}
            for rule in compiled.rules:
                per_table = expected.setdefault(rule.switch, {})
                per_table[rule.table] = per_table.get(rule.table, 0) + 1
            progress("waiting for every switch to connect and hold the policy")
            timings["policy_install"] = emu.wait_policy_installed(
                expected, POLICY_INSTALL_TIMEOUT_S, controller)
            iperf_sites = {f.dst for f in scenario.flows}
            servers.start_sites(emu, scenario, run_dir, iperf_sites)
            observer.install(emu, plan)
            progress(f"reachability: {len(scenario.subscribers)} subscribers x "
                     f"{len(scenario.sites)} sites")
            clock = time.monotonic()
            results["reachability"] = reachability.measure(emu, scenario, run_dir)
            timings["reachability"] = time.monotonic() - clock
            clock = time.monotonic()
            results["throughput"], results["rtt"] = throughput.measure(
                emu, scenario, state, progress)
            timings["throughput"] = time.monotonic() - clock
            arrived = observer.read(emu, plan)
            results["leakage"] = results_module.leakage(
                results["reachability"], arrived, plan, state, scenario)
            if not controller.alive():
                raise HermitError("the controller died during the run:\n" + controller.log_tail())
    finally:
        controller.stop()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def is_root() -> bool:
    return os.geteuid() == 0
