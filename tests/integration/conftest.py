"""Integration tests run the real emulator (Mininet, Open vSwitch, Ryu, iperf3) as root."""

from __future__ import annotations

import os
import re
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


def leftovers(run_id: str) -> list[str]:
    """Everything of run `run_id` that still exists: bridges, links, processes, manifest."""
    found = []
    bridges = subprocess.run(["ovs-vsctl", "--timeout=5", "list-br"], capture_output=True,
                             text=True, check=True).stdout.split()
    found += [f"bridge {b}" for b in bridges if b.startswith(run_id)]
    found += [f"interface {i}" for i in os.listdir("/sys/class/net") if i.startswith(run_id)]
    pattern = re.compile(rf"\b{run_id}[hs]\d+\b")
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    found += [f"process {line.strip()}" for line in ps.splitlines()
              if pattern.search(line) and "pytest" not in line]
    state_dir = Path(os.environ.get("HERMITNET_STATE_DIR", "/run/hermitnet"))
    if (state_dir / f"{run_id}.json").exists():
        found.append(f"manifest {state_dir / f'{run_id}.json'}")
    return found


