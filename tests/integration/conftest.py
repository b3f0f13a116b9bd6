"""Integration tests run the real emulator (Mininet, Open vSwitch, Ryu, iperf3) as root."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from hermitnet.emulation import capabilities

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    reason = _cannot_emulate_reason()
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _cannot_emulate_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: the emulation creates namespaces, veths and bridges (sudo make test)"
    caps = capabilities.detect()
    if caps.problems:
        return "this machine cannot emulate: " + "; ".join(caps.problems)
    return None


def leftovers(run_id: str, out: Path | None = None, netns_inodes=()) -> list[str]:
    """Everything of run `run_id` that still exists.

    Bridges, interfaces, named namespaces, qdiscs and nftables tables whose names start with the
    run's prefix, its processes (by host name in the command line; with `out`, any process whose
    command line or environment names the results folder, such as the controller and tcpdump;
    with `netns_inodes`, any process still inside one of the run's network namespaces: servers,
    resolver, iperf3, curl) and its manifest.
    """
    found = []
    bridges = subprocess.run(["ovs-vsctl", "--timeout=5", "list-br"], capture_output=True,
                             text=True, check=True).stdout.split()
    found += [f"bridge {b}" for b in bridges if b.startswith(run_id)]
    found += [f"interface {i}" for i in os.listdir("/sys/class/net") if i.startswith(run_id)]
    found += [f"namespace {n}" for n in _lines(["ip", "netns", "list"]) if n.startswith(run_id)]
    found += [f"qdisc {q}" for q in _lines(["tc", "qdisc", "show"]) if f"dev {run_id}" in q]
    found += [f"nftables {t}" for t in _lines(["nft", "list", "tables"]) if run_id in t]
    pattern = re.compile(rf"\b{run_id}[hs]\d+\b")
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    found += [f"process {line.strip()}" for line in ps.splitlines()
              if pattern.search(line) and "pytest" not in line]
    if out is not None or netns_inodes:
        found += [f"process {pid} {what}" for pid, what in _processes_of(out, set(netns_inodes))
                  if f" {pid} " not in " ".join(found)]
    state_dir = Path(os.environ.get("HERMITNET_STATE_DIR", "/run/hermitnet"))
    if (state_dir / f"{run_id}.json").exists():
        found.append(f"manifest {state_dir / f'{run_id}.json'}")
    return found


def default_sigint() -> None:
    """preexec_fn for a `hermitnet run` child: Ctrl-C works as in a terminal, even when pytest
    was started in the background (where the shell ignores SIGINT and the child would inherit
    that, so Python would keep ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def netns_inode(pid: int) -> str | None:
    """The network namespace of process `pid` ("net:[4026532...]"), or None if it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _processes_of(out: Path | None, inodes: set[str]) -> list[tuple[int, str]]:
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
            environ = Path(f"/proc/{entry}/environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if not cmdline or "pytest" in cmdline:
            continue
        names_out = out is not None and (str(out) in cmdline or str(out) in environ)
        if names_out or netns_inode(int(entry)) in inodes:
            found.append((int(entry), cmdline[:200]))
    return found


def _lines(argv: list[str]) -> list[str]:
    done = subprocess.run(argv, capture_output=True, text=True)
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]
