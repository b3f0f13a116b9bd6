"""The censors of a run in the emulation: each a host bridging its two ports, filtering with
iptables (string matching, NFQUEUE), tc (HTB) and the injector process (hermitnet.censor).

    running = start(emu, scenario, run_dir)     # after the sites' servers
    ...
    results["censors"] = collect(emu, running)  # before the network goes down

The processes (injector, block page server) are recorded in the manifest like every other, and
so is each censor's filter table, which cleanup removes while the host still exists.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hermitnet.censor import rules as censor_rules
from hermitnet.errors import HermitError
from hermitnet.workload.servers import HTTP_PORT

BRIDGE = "censor0"          # the bridge inside the censor host (its namespace only)
INJECTOR_START_TIMEOUT_S = 15


@dataclass
class RunningCensor:
    plan: object              # hermitnet.plan.CensorPlan
    rules: tuple              # hermitnet.censor.rules.Rule
    counts_path: Path
    injector: subprocess.Popen | None
    ports: tuple[str, str]    # (inside, outside) interfaces


def start(emu, scenario, run_dir: Path) -> list[RunningCensor]:
    return [_start_one(emu, scenario, censor, run_dir) for censor in scenario.censors]


def _start_one(emu, scenario, censor, run_dir: Path) -> RunningCensor:
    plan = emu.plan
    where = plan.censor(censor.name)
    rules = censor_rules.resolve(censor, scenario, plan)
    inside, outside = f"{where.node}-eth0", f"{where.node}-eth1"
    name = censor.name
    for argv in (
            ["ip", "link", "add", "name", BRIDGE, "type", "bridge", "stp_state", "0",
             "forward_delay", "0"],
            ["ip", "link", "set", BRIDGE, "address", where.mac],
            ["ip", "link", "set", inside, "master", BRIDGE],
            ["ip", "link", "set", outside, "master", BRIDGE],
            ["ip", "link", "set", inside, "up"], ["ip", "link", "set", outside, "up"],
            ["ip", "addr", "add", f"{where.ip}/{where.prefix_len}", "dev", BRIDGE],
            ["ip", "link", "set", BRIDGE, "up"],
            ["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"]):
        emu.check(name, argv)
    if not emu.caps.kernel_datapath:   # as on every veth of the userspace datapath
        for intf in (inside, outside):
            emu.check(name, ["ethtool", "-K", intf, "tx", "off"])
    holder = emu.node(name).pid
    emu.manifest.add_table(holder, "ip", "filter", f"filter table of censor {name}")
    try:
        emu.check(name, ["iptables-restore"], censor_rules.iptables_script(rules))
    except HermitError as error:
        raise HermitError(f"censor {name}: the kernel refused its iptables rules (string "
                          f"match, NFQUEUE): {error}") from error
    for argv in censor_rules.throttle_commands(rules, inside, outside):
        emu.check(name, argv)

    folder = run_dir / "censors" / name
    folder.mkdir(parents=True, exist_ok=True)
    page = censor_rules.blockpage_html(name)
    (folder / "index.html").write_text(page)
    if any(r.action == "dns-blockpage" for r in rules):
        answer = folder / "blockpage.http"
        answer.write_bytes(censor_rules.blockpage_response(page))
        emu.popen(name, [sys.executable, "-c", censor_rules.BLOCKPAGE_SERVER, where.ip,
                         str(HTTP_PORT), str(answer)], "block page server",
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    counts_path = folder / "injector-counts.json"
    injector = None
    if any(r.queued for r in rules):
        config_path = folder / "injector.json"
        config_path.write_text(json.dumps(censor_rules.injector_config(
            where, rules, plan, str(counts_path), page), indent=1))
        counts_path.unlink(missing_ok=True)
        injector = emu.popen(name, [sys.executable, "-m", "hermitnet.censor.injector",
                                    str(config_path)], "censor injector",
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait_bound(name, injector, counts_path)
    return RunningCensor(where, rules, counts_path, injector, (inside, outside))


def _wait_bound(name: str, injector: subprocess.Popen, counts_path: Path) -> None:
    """The injector writes its counts file once it holds the queue; until then the kernel
    would drop what it queues."""
    deadline = time.monotonic() + INJECTOR_START_TIMEOUT_S
    while not counts_path.exists():
        if injector.poll() is not None:
            raise HermitError(f"censor {name}: the injector stopped before it bound NFQUEUE "
                              f"{censor_rules.QUEUE} (this kernel may lack nfnetlink_queue): "
                              f"{injector.stderr.read().strip()[-2000:]}")
        if time.monotonic() > deadline:
            raise HermitError(f"censor {name}: the injector did not bind NFQUEUE within "
                              f"{INJECTOR_START_TIMEOUT_S} s")
        time.sleep(0.05)


def collect(emu, running: list[RunningCensor]) -> list[dict]:
    """What each censor did, rule by rule (results.json `censors`)."""
    return [_collect_one(emu, censor) for censor in running]


def _collect_one(emu, censor: RunningCensor) -> dict:
    name = censor.plan.name
    saved = emu.run(name, ["iptables-save", "-c", "-t", "filter"])
    kernel = censor_rules.kernel_counts(saved.stdout)
    shaped = []
    if any(r.action == "throttle" for r in censor.rules):
        for intf in censor.ports:
            out = emu.run(name, ["tc", "-s", "class", "show", "dev", intf]).stdout
            shaped.append(censor_rules.shaped_counts(out, censor.rules))
    injected, injector = {}, None
    if censor.injector is not None:
        alive = censor.injector.poll() is None
        counts = json.loads(censor.counts_path.read_text()) if censor.counts_path.exists() \
            else {}
        injected = counts.get("rules", {})
        injector = {"running": alive, "exit_code": censor.injector.returncode,
                    "packets_passed": counts.get("passed", 0)}
        if not alive:
            injector["error"] = (censor.injector.stderr.read() or "").strip()[-2000:]
    return {"name": name, "path": censor.plan.path, "node": censor.plan.node,
            "address": censor.plan.ip, "injector": injector,
            "rules": [censor_rules.rule_record(censor.plan, rule, kernel, injected, shaped)
                      for rule in censor.rules]}
