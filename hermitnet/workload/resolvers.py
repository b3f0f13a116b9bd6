"""Real DNS in the emulated network: dnsmasq in each resolver host, and each host's resolv.conf.

    dns-national   authoritative for the national names (intranet and national sites),
                   forwards every other name to dns-foreign (tiers that resolve foreign names)
    dns-walled     authoritative for the national names, NXDOMAIN for every other name
    dns-foreign    authoritative for the global sites' names, NXDOMAIN for the rest
    dns-operator   the foreign operator's resolver: forwards everything to dns-foreign

A host's resolver (`resolver_of`) is the one its tier is handed (PolicyState.resolver_for); a
foreign handset's is dns-operator; the control vantages use dns-national (national side) and
dns-foreign (global side). The resolvers are processes of the emulation (recorded in the run's
manifest, stopped with it).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from hermitnet.errors import HermitError

DNS_PORT = 53
NATIONAL_ZONES = ("intranet", "national")


def dnsmasq_config(name: str, plan, scenario, log_path: Path) -> str:
    """The dnsmasq configuration of resolver host `name`."""
    host = plan.host(name)
    lines = ["no-resolv", "no-hosts", "keep-in-foreground", f"listen-address={host.ip}",
             "bind-interfaces", "user=root", "group=root", "pid-file=", "log-queries",
             f"log-facility={log_path}"]
    ip_of = {h.name: h.ip for h in plan.hosts}
    national = name in ("dns-national", "dns-walled")
    for site in scenario.sites:
        if (site.zone in NATIONAL_ZONES) == national and name != "dns-operator":
            lines.append(f"host-record={site.hostname},{ip_of[site.name]}")
    if name in ("dns-national", "dns-operator"):
        lines.append(f"server={plan.host('dns-foreign').ip}")
    else:
        lines.append("address=/#/")          # every other name: NXDOMAIN
    return "\n".join(lines) + "\n"


def resolver_of(plan, state, host_name: str) -> str:
    host = plan.host(host_name)
    if host.name == "control-national":
        return "dns-national"
    if host.name == "control-global":
        return "dns-foreign"
    if host.switch == "foreign":
        return "dns-operator"
    return state.resolver_for(state.membership[host_name])


def write_resolv_conf(plan, state, host_name: str, directory: Path,
                      timeout_s: float) -> Path:
    """RUN/resolv/HOST.conf: the resolver configuration a device of this host has."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{host_name}.conf"
    resolver = plan.host(resolver_of(plan, state, host_name))
    path.write_text(f"# {host_name}: {resolver.name}\nnameserver {resolver.ip}\n"
                    f"options timeout:{max(1, round(timeout_s))} attempts:1\n")
    return path


def start(emu, scenario, run_dir: Path) -> dict[str, subprocess.Popen]:
    """dnsmasq in every resolver host of the plan; returns once each listens on port 53."""
    for tool, package in (("dnsmasq", "dnsmasq-base"), ("dig", "bind9-dnsutils")):
        if shutil.which(tool) is None:
            raise HermitError(f"{tool} is not installed: the DNS of the emulation needs it "
                              f"(run: make setup, or apt-get install {package})")
    directory = run_dir / "dns"
    directory.mkdir(parents=True, exist_ok=True)
    running = {}
    for host in (h for h in emu.plan.services() if h.kind == "resolver"):
        config = directory / f"{host.name}.conf"
        config.write_text(dnsmasq_config(host.name, emu.plan, scenario,
                                         directory / f"{host.name}.log"))
        running[host.name] = emu.popen(host.name, ["dnsmasq", "-C", str(config)],
                                       "dnsmasq", stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
    for name, process in running.items():
        _wait_listening(emu, name, process)
    return running


def _wait_listening(emu, name: str, process, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while f":{DNS_PORT} " not in emu.run(name, ["ss", "-Hlun"]).stdout:
        if process.poll() is not None:
            raise HermitError(f"dnsmasq in {name} exited: {process.stderr.read().strip()}")
        if time.monotonic() > deadline:
            raise HermitError(f"dnsmasq in {name} did not listen on port {DNS_PORT} "
                              f"within {timeout_s:g} s")
        time.sleep(0.1)
