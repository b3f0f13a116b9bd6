"""Interrupted anywhere, nothing is left behind and nothing measured is lost.

`hermitnet run` (a subprocess, this interpreter, this tree's code) runs a small radio scenario
with a short timeline; the test reads its progress lines and, when a chosen phase's line appears
(after a small seeded delay), sends it SIGINT, SIGTERM, or SIGKILL followed by `hermitnet clean`.
Afterwards nothing of the run may remain: bridges, interfaces, namespaces, qdiscs, nftables
tables, processes (controller, shells, servers, resolver, iperf3, tcpdump, curl, pings) and its
manifest; while a bridge, a namespace, a veth pair and a qdisc this test made itself (another
user's, with names hermitnet does not use) survive. results.json keeps what was measured before
the signal, with the status and the reason.

By default each phase is interrupted once, the signals dealt out by a seeded shuffle so that
all three occur (7 cases, a few minutes). The full matrix, every phase with every signal:

    HERMITNET_INTERRUPT_CASES=all pytest tests/integration/test_interrupts.py

HERMITNET_INTERRUPT_SEED (default 1) picks another deal of signals and delays.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hermitnet.emulation import manifest as manifest_module
from tests.integration.conftest import REPO, default_sigint, leftovers, netns_inode

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

# phase -> (progress line that starts it, longest seeded delay before the signal, in s)
PHASES = {
    "build": ("building network", 1.0),
    "policy-install": ("waiting for every switch to connect", 0.5),
    "servers": ("starting the sites' servers", 0.3),
    "reachability": ("* reachability at t=", 1.0),
    "throughput": ("* throughput ", 0.5),
    "timeline": ("s of radio replay", 2.0),
    "teardown": ("measured; taking the network down", 0.5),
}
SIGNALS = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}
SEED = int(os.environ.get("HERMITNET_INTERRUPT_SEED", "1"))
# What results.json must already hold when the signal comes at or after a phase. The radio
# replay runs on the run's clock from t = 0, beside probes, reachability and throughput.
MEASURED_BEFORE = {"throughput": ["reachability"]}


def _cases() -> list[tuple[str, str, float]]:
    rng = random.Random(SEED)
    if os.environ.get("HERMITNET_INTERRUPT_CASES") == "all":
        pairs = [(phase, sig) for phase in PHASES for sig in SIGNALS]
    else:
        deal = list(SIGNALS) * 3   # dropping 2 of 9 after the shuffle keeps every signal
        rng.shuffle(deal)
        pairs = list(zip(PHASES, deal[:len(PHASES)], strict=True))
    return [(phase, sig, round(rng.uniform(0, PHASES[phase][1]), 2)) for phase, sig in pairs]


CASES = _cases()


def _small_radio_scenario(path: Path) -> Path:
    """scenarios/border.yaml cut down: 3 phones, 1 terminal, 3 sites, 2 s throughput, 4 s of
    timeline."""
    doc = yaml.safe_load((REPO / "scenarios" / "border.yaml").read_text())
    doc["name"] = "interrupts"
    doc["sites"] = [s for s in doc["sites"] if s["name"] in ("news", "portal", "world-news")]
    doc["radio"]["ues"] = [u for u in doc["radio"]["ues"]
                           if u["name"] in ("citizen-1", "visitor-1", "smuggler-1")]
    doc["measure"] = {
        "reachability": {"connect_timeout_s": 1},
        "throughput": {"seconds": 2, "flows": [{"from": "citizen-1", "to": "news"}]},
        "timeline": {"duration_s": 4, "traffic": [{"from": "smuggler-1", "to": "world-news"},
                                                  {"from": "citizen-1", "to": "news"}]},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class OtherUser:
    """Network objects of someone else on this machine, which no cleanup may touch."""

    def __init__(self, tag: str):
        self.bridge, self.netns = f"xtbr{tag}", f"xtns{tag}"
        self.veth, self.peer = f"xtv{tag}a", f"xtv{tag}b"

    def create(self) -> None:
        for argv in (["ovs-vsctl", "--timeout=10", "add-br", self.bridge],
                     ["ip", "netns", "add", self.netns],
                     ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", self.peer],
                     ["ip", "link", "set", self.peer, "netns", self.netns],
                     ["ip", "link", "set", self.veth, "up"],
                     ["tc", "qdisc", "add", "dev", self.veth, "root", "handle", "1:", "htb"]):
            subprocess.run(argv, check=True, capture_output=True, timeout=30)

    def missing(self) -> list[str]:
        gone = []
        bridges = _out(["ovs-vsctl", "--timeout=5", "list-br"]).split()
        if self.bridge not in bridges:
            gone.append(f"bridge {self.bridge}")
        if self.netns not in _out(["ip", "netns", "list"]).split():
            gone.append(f"namespace {self.netns}")
        if not Path(f"/sys/class/net/{self.veth}").exists():
            gone.append(f"interface {self.veth}")
        elif "htb 1:" not in _out(["tc", "qdisc", "show", "dev", self.veth]):
            gone.append(f"qdisc htb on {self.veth}")
        if self.peer not in _out(["ip", "netns", "exec", self.netns, "ip", "-o", "link"]):
            gone.append(f"interface {self.peer} in {self.netns}")
        return gone

    def remove(self) -> None:
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        subprocess.run(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", self.bridge],
                       capture_output=True)


def _out(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout


def _root_state() -> dict[str, set[str]]:
    """Machine-wide objects outside any run's prefix: a run may neither add nor remove any."""
    return {"nftables": set(_out(["nft", "list", "tables"]).splitlines()),
            "namespaces": {line.split()[0] for line in _out(["ip", "netns", "list"]).splitlines()
                           if line.strip()}}


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "hermitnet.cli", *map(str, args)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture
def other_user():
    user = OtherUser(f"{os.getpid() % 10000:04d}")
    user.remove()
    user.create()
    yield user
    user.remove()


@pytest.mark.parametrize("phase,sig,delay_s", CASES,
                         ids=[f"{phase}-{sig}-{delay:g}s" for phase, sig, delay in CASES])
def test_an_interrupted_run_leaves_nothing_and_keeps_what_it_measured(
        tmp_path, other_user, phase, sig, delay_s):
    source = _small_radio_scenario(tmp_path / "interrupts.yaml")
    out = tmp_path / "run"
    before = _root_state()
    process = subprocess.Popen(_cli("run", source, "--out", out), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=REPO, env=_env(),
                               preexec_fn=default_sigint)
    seen, run_id, inodes = [], None, set()
    root_netns = netns_inode(os.getpid())
    marker = PHASES[phase][0]
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            run_id, inodes = _note_run(out, run_id, inodes, root_netns)
            if marker in line:
                time.sleep(delay_s)
                run_id, inodes = _note_run(out, run_id, inodes, root_netns)
                process.send_signal(SIGNALS[sig])
                break
        else:
            pytest.fail("the run took too long")
        assert marker in "".join(seen), f"never saw {marker!r}:\n{''.join(seen)}"
        rest, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(seen) + rest
    assert run_id, f"the run never recorded a manifest:\n{output}"

    results = json.loads((out / "results.json").read_text())
    if sig == "sigkill":
        assert process.returncode == -signal.SIGKILL
        assert results["status"] == "running"
        assert leftovers(run_id, out, inodes), "SIGKILL leaves the run's objects behind"
        done = subprocess.run(_cli("clean"), capture_output=True, text=True, cwd=REPO,
                              env=_env(), timeout=120)
        assert done.returncode == 0, done.stderr
        assert run_id in done.stdout
        results = json.loads((out / "results.json").read_text())
        assert results["status"] == "interrupted"
        assert results["error"] == "killed (SIGKILL or crash); cleaned by hermitnet clean"
    elif phase == "teardown" and process.returncode == 0:
        assert results["status"] == "ok", output   # the signal came after the run had finished
    else:
        assert process.returncode == 130, output
        # During teardown the signal may land while the network is still being taken down
        # (the run says "interrupted") or after (everything was measured: "ok").
        expected = {"ok", "interrupted"} if phase == "teardown" else {"interrupted"}
        assert results["status"] in expected, output
        if results["status"] == "interrupted":
            assert results["error"] == "interrupted"
    assert results["finished"]
    for measured in MEASURED_BEFORE.get(phase, []):
        assert results[measured], f"{measured} was measured before the signal but not kept"

    assert leftovers(run_id, out, inodes) == []
    assert _root_state() == before
    assert other_user.missing() == []


def _note_run(out: Path, run_id, inodes: set[str], root_netns) -> tuple[str | None, set[str]]:
    """The run's id and the network namespaces of its hosts, from its manifest as it grows."""
    manifest = next((m for m in manifest_module.list_manifests()
                     if m.results_dir == str(out)), None)
    if manifest is None:
        return run_id, inodes
    for proc in manifest.processes:
        inode = netns_inode(proc["pid"])
        if inode and inode != root_netns:
            inodes.add(inode)
    return manifest.run_id, inodes
