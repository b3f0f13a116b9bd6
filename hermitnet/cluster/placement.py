"""Which machine of a cluster runs each switch and host of a plan: pure, decided before any build.

    machines = parse_cluster("lab1,lab2")          # or a cluster file (see parse_cluster)
    placement = place(layout, machines)
    placement.machine_of("nb-pyongyang-2")         # -> "lab2"

The rule follows the network's shape, so that only backhaul links cross between machines:

- the first machine (the one hermitnet runs on) holds the controller, the core, the RNC, the
  intranet and its sites, the fixed-line switch and its terminals, and the border gateway;
- each NodeB goes to one machine with all the phones on it: the cells are cut into evenly sized,
  consecutive bins over the machines in order by the Cluster Edition's own `SwitchBinPlacer.bin`;
- the global zone (its switch and sites, and the foreign operator's RAN with its handsets) goes on
  the first machine unless the cluster file says `global: MACHINE`.

A cluster file may also pin cells: `cells: {CELL: MACHINE}`; pinned cells are left out of the bins.
It may also ask for one tunnel kind (`tunnel: gretap | vxlan | ssh`) instead of the first one
that every machine offers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from mininet.examples.cluster import SwitchBinPlacer

from hermitnet.errors import HermitError

_FIRST_MACHINE_SWITCHES = ("core", "rnc", "intranet", "fixed", "border")
TUNNEL_KINDS = ("gretap", "vxlan", "ssh")      # in the order they are preferred
_GLOBAL_SWITCHES = ("global", "foreign")
_MACHINE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
# Events a cluster run cannot play: the Cluster Edition's node shells start a server through a
# forking `mnexec -d`, so the run holds no pid of a site's servers to stop or watch.
UNSUPPORTED_EVENTS = ("site_down", "site_up")


@dataclass(frozen=True)
class ClusterSpec:
    """The machines of a cluster, first = the machine hermitnet runs on, and what is pinned."""

    machines: tuple[str, ...]
    global_on: str | None = None
    cells: dict[str, str] = field(default_factory=dict)
    ssh_options: tuple[str, ...] = ()     # added to every ssh command (e.g. -o IdentityFile=...)
    tunnel: str | None = None             # gretap | vxlan | ssh; None: the first that works


@dataclass(frozen=True)
class Placement:
    machines: tuple[str, ...]
    nodes: dict[str, str]          # logical switch or host name -> machine

    @property
    def first(self) -> str:
        return self.machines[0]

    def machine_of(self, logical_name: str) -> str:
        return self.nodes[logical_name]

    def on(self, machine: str) -> list[str]:
        return [name for name, where in self.nodes.items() if where == machine]

    def crossing_links(self, layout) -> list:
        """The plan's links whose two ends are on different machines (made as tunnels)."""
        return [link for link in layout.links if self.nodes[link.a] != self.nodes[link.b]]

    def to_dict(self) -> dict:
        return {"machines": list(self.machines), "nodes": dict(self.nodes)}


def parse_cluster(text: str) -> ClusterSpec:
    """`--cluster` value: machine names separated by commas, or the path of a cluster file.

    A cluster file is YAML: `machines: [lab1, lab2]`, optional `global: lab2`, optional
    `cells: {pyongyang-2: lab2}`, optional `ssh_options: [-o, IdentityFile=/root/.ssh/lab]`,
    optional `tunnel: ssh` (gretap, vxlan or ssh).
    Machine names are host names or IPv4 addresses.
    """
    path = Path(text)
    if text.endswith((".yaml", ".yml")) or path.is_file():
        return _load_cluster_file(path)
    return _spec([part.strip() for part in text.split(",")], None)


def _load_cluster_file(path: Path) -> ClusterSpec:
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise HermitError(f"cannot read it: {error.strerror}", source=source) from None
    except yaml.YAMLError as error:
        raise HermitError(f"not valid YAML: {error}", source=source) from None
    if not isinstance(data, dict) or "machines" not in data:
        raise HermitError("expected a mapping with a `machines` list", source=source)
    unknown = sorted(set(data) - {"machines", "global", "cells", "ssh_options", "tunnel"})
    if unknown:
        raise HermitError(f"unknown key(s) {', '.join(unknown)}; expected machines, global, "
                          "cells, ssh_options, tunnel", source=source)
    tunnel = data.get("tunnel")
    if tunnel is not None and tunnel not in TUNNEL_KINDS:
        raise HermitError(f"{tunnel!r} is not a tunnel kind; expected {', '.join(TUNNEL_KINDS)}",
                          source=source, field="tunnel")
    ssh_options = data.get("ssh_options") or []
    if not isinstance(ssh_options, list) or not all(isinstance(o, str) for o in ssh_options):
        raise HermitError("expected a list of ssh arguments", source=source, field="ssh_options")
    machines = data["machines"]
    if not isinstance(machines, list) or not all(isinstance(m, str) for m in machines):
        raise HermitError("expected a list of machine names", source=source, field="machines")
    cells = data.get("cells") or {}
    if not isinstance(cells, dict):
        raise HermitError("expected a mapping {cell: machine}", source=source, field="cells")
    spec = _spec(machines, source)
    for name, machine in (("global", data.get("global")), *((f"cells.{c}", m)
                                                            for c, m in cells.items())):
        if machine is not None and machine not in spec.machines:
            raise HermitError(f"{machine!r} is not one of the machines "
                              f"({', '.join(spec.machines)})", source=source, field=name)
    return ClusterSpec(spec.machines, data.get("global"), {str(c): m for c, m in cells.items()},
                       tuple(ssh_options), tunnel)


def _spec(machines: list[str], source: str | None) -> ClusterSpec:
    if len(machines) < 2:
        raise HermitError("a cluster needs at least two machines (this one first)", source=source)
    for machine in machines:
        if not _MACHINE_NAME.match(machine):
            raise HermitError(f"{machine!r} is not a host name or IPv4 address", source=source)
    if len(set(machines)) != len(machines):
        raise HermitError("a machine is named twice", source=source)
    return ClusterSpec(tuple(machines))


def refuse_unsupported(scenario) -> None:
    """A HermitError naming the first event a cluster run cannot play (UNSUPPORTED_EVENTS),
    before anything is built: a site that would stay up while the results say it went down."""
    from hermitnet.timeline.events import events

    for event in events(scenario):
        if event.kind in UNSUPPORTED_EVENTS:
            raise HermitError(
                f"{event.kind} is not played on a cluster run (the Cluster Edition's node "
                "shells hand back no pid of a site's servers, so they can be neither stopped "
                "nor watched); run this scenario on one machine, or leave the event out",
                source=scenario.source, field=event.field)


def place(layout, spec: ClusterSpec) -> Placement:
    """Every switch and host of `layout` (a hermitnet.plan.Plan) on one of `spec.machines`."""
    first = spec.machines[0]
    global_on = spec.global_on or first
    cell_names = [s.name.removeprefix("nb-") for s in layout.switches if s.role == "ran"]
    unknown = sorted(set(spec.cells) - set(cell_names))
    if unknown:
        raise HermitError(f"no such cell(s) in the scenario: {', '.join(unknown)}",
                          field="cells")
    free = [c for c in cell_names if c not in spec.cells]
    cell_machine = {**SwitchBinPlacer.bin(free, list(spec.machines)), **spec.cells}
    nodes: dict[str, str] = {}
    for switch in layout.switches:
        if switch.role == "ran":
            nodes[switch.name] = cell_machine[switch.name.removeprefix("nb-")]
        elif switch.name in _GLOBAL_SWITCHES:
            nodes[switch.name] = global_on
        elif switch.name in _FIRST_MACHINE_SWITCHES:
            nodes[switch.name] = first
        else:
            raise HermitError(f"no placement rule for switch {switch.name!r} (role {switch.role})")
    for host in layout.hosts:
        nodes[host.name] = nodes[host.switch]
    return Placement(spec.machines, nodes)


def describe(layout, placement: Placement) -> list[str]:
    """The placement in words, one line per machine and one per tunnel, for validate and run."""
    switch_names = {s.name for s in layout.switches}
    lines = [f"placement over {len(placement.machines)} machines (the controller runs on "
             f"{placement.first}):"]
    for machine in placement.machines:
        here = placement.on(machine)
        switches = [n for n in here if n in switch_names]
        hosts = [n for n in here if n not in switch_names]
        lines.append(f"  {machine}: {len(switches)} switches ({', '.join(switches) or '-'}); "
                     f"{len(hosts)} hosts ({', '.join(hosts) or '-'})")
    for link in placement.crossing_links(layout):
        lines.append(f"  tunnel: {link.a} ({placement.machine_of(link.a)}) <-> {link.b} "
                     f"({placement.machine_of(link.b)}), {link.kind} link")
    return lines
