"""Will this machine hold the scenario's network? An estimate before anything is built.

    estimate(plan)                  hosts, switches, memory and bring-up time the plan needs
    check(plan, Machine.detect())   the estimate, or HermitError when the machine cannot hold it

The costs per host, per site and per switch were measured by bench/bench_bringup.py (the memory
the machine loses per emulated host, site and switch; the bring-up seconds per host on 2 cores)
and are recorded in docs/benchmarks.md. Memory is what refuses a run: a machine out of memory
kills processes at random mid-run. Open files and pseudo-terminals (Mininet keeps a terminal
per host and switch) are hard limits too. The time is said, not enforced: it depends on the
machine's load.

Phones beyond what one machine emulates belong to the radio population model (hermitnet.radio
`population`, docs/radio.md): it evaluates millions of phones' cell selection without
emulating them, so a scenario emulates a sample and the model answers for the country.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from hermitnet.errors import HermitError

# Measured (bench/bench_bringup.py, docs/benchmarks.md "Bring-up"): what the machine loses.
# 220 hosts (20 sites) on 26 switches took 489 MiB, bare Mininet 0.75-0.92 MiB per host; 50 hosts
# (10 sites) took 215 MiB: a site's servers cost about 15 MiB. Rounded up.
MEMORY_MIB_PER_HOST = 0.9          # namespace, veth pair, its Mininet shell, shaping
MEMORY_MIB_PER_SITE = 15.0         # a site's servers (HTTP and iperf3), beyond its host
MEMORY_MIB_PER_SWITCH = 1.0        # an OVS userspace bridge and its ports
MEMORY_MIB_FIXED = 100.0           # the controller, the delay line, captures
BRING_UP_S_PER_HOST = 0.07         # controller to t = 0, per host: 16.2 s for 220 hosts
BRING_UP_S_PER_SWITCH = 0.1
FILES_PER_NODE = 3                 # the runner's: a terminal's 2 ends per node, pipes
MEMORY_SHARE = 0.8                 # of MemAvailable a run may plan to use
POPULATION_HINT = (
    "Emulate a sample of the phones (a few hundred) and let the radio population model "
    "answer for the rest: it evaluates millions of phones on the radio map without emulating "
    "them (results.json radio.population; docs/radio.md, 'Population')")


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory_available_mib: float
    open_files_limit: int      # the hard limit: the runner raises its soft limit up to it
    terminals_free: int | None   # pseudo-terminals still available (None: unknown)

    @classmethod
    def detect(cls) -> Machine:
        return cls(os.cpu_count() or 1, _mem_available_mib(),
                   resource.getrlimit(resource.RLIMIT_NOFILE)[1], _terminals_free())


@dataclass(frozen=True)
class Estimate:
    hosts: int
    sites: int
    switches: int
    memory_mib: float
    bring_up_s: float
    open_files: int

    def text(self) -> str:
        return (f"{self.hosts} hosts ({self.sites} of them sites) on {self.switches} switches: "
                f"about {_mib(self.memory_mib)} of memory and {_duration(self.bring_up_s)} "
                f"to bring up (measured per host {MEMORY_MIB_PER_HOST:g} MiB and "
                f"{BRING_UP_S_PER_HOST:g} s, per site {MEMORY_MIB_PER_SITE:g} MiB more, "
                f"on 2 cores)")


def estimate(plan) -> Estimate:
    hosts = len(plan.hosts)
    sites = sum(1 for h in plan.hosts if h.kind == "server")
    switches = len(plan.switches)
    memory = (MEMORY_MIB_FIXED + hosts * MEMORY_MIB_PER_HOST + sites * MEMORY_MIB_PER_SITE
              + switches * MEMORY_MIB_PER_SWITCH)
    return Estimate(hosts, sites, switches, memory,
                    hosts * BRING_UP_S_PER_HOST + switches * BRING_UP_S_PER_SWITCH,
                    (hosts + switches) * FILES_PER_NODE + 64)


def check(plan, machine: Machine, source: str | None = None,
          field: str = "subscribers") -> Estimate:
    """The estimate, or HermitError (naming the scenario's `source` and `field`: where the
    hosts come from) when this machine cannot hold it. Pure: nothing is built."""
    need = estimate(plan)
    problems = []
    if need.memory_mib > MEMORY_SHARE * machine.memory_available_mib:
        problems.append(f"memory: {_mib(machine.memory_available_mib)} available, a run may "
                        f"plan to use {MEMORY_SHARE:.0%} of it")
    if need.open_files > machine.open_files_limit:
        problems.append(f"open files: about {need.open_files} needed, the limit is "
                        f"{machine.open_files_limit} (ulimit -Hn)")
    nodes = need.hosts + need.switches
    if machine.terminals_free is not None and nodes > machine.terminals_free:
        problems.append(f"pseudo-terminals: one per host and switch ({nodes}), "
                        f"{machine.terminals_free} free (/proc/sys/kernel/pty/max)")
    if problems:
        raise HermitError(
            f"this machine ({machine.cpus} CPUs) cannot emulate {need.text()}; "
            + "; ".join(problems) + ". " + POPULATION_HINT, source=source, field=field)
    return need


def raise_open_files_limit(need: Estimate) -> None:
    """Raise this process's soft limit on open files to what the run needs (up to the hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need.open_files:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need.open_files, soft)), hard))


def _mem_available_mib(meminfo: Path = Path("/proc/meminfo")) -> float:
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    raise HermitError(f"{meminfo}: no MemAvailable line")


def _terminals_free(folder: Path = Path("/proc/sys/kernel/pty")) -> int | None:
    try:
        return int((folder / "max").read_text()) - int((folder / "nr").read_text())
    except (OSError, ValueError):
        return None


def _mib(value: float) -> str:
    return f"{value / 1024:.1f} GiB" if value >= 1024 else f"{value:.0f} MiB"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
