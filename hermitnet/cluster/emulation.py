"""The emulated network of one run spread over several machines, on Mininet's Cluster Edition.

    cluster = prepare(spec, plan, run_dir)        # reach, check and probe every machine
    with ClusterEmulation(plan, caps, manifest, controller_port, cluster) as emu:
        ...                                       # the same interface as hermitnet's Emulation

`MininetCluster` builds the network: it starts every node's shell on its machine over SSH and
makes the links between machines as tunnels (hermitnet.cluster.nodes). Placement comes from the
plan (hermitnet.cluster.placement) through a Cluster Edition `Placer`. The controller runs on the
first machine and listens for OpenFlow on that machine's address towards the others.

What the run makes on another machine is recorded in the manifest before it exists (bridges,
interfaces, tunnel ends) or as soon as it does (node shells, by PID and start time there), so
`hermitnet clean` on the first machine removes it over SSH (manifest.remote_cleanup_script).

Limits, said at run time: the userspace delay line runs on the first machine only, so delay,
jitter and loss of links whose ends are on another machine are listed as not emulated; the
results folder must be the same folder on every machine (a shared folder), since processes in
hosts there write into it, and hermitnet must be importable there by the same Python path.
"""

from __future__ import annotations

import secrets
import select
import shlex
import subprocess
from dataclasses import dataclass, field
from functools import partial

from mininet.examples.cluster import MininetCluster, Placer, RemoteMixin
from mininet.log import setLogLevel

from hermitnet.cluster import nodes as cluster_nodes
from hermitnet.cluster.placement import ClusterSpec, Placement, place
from hermitnet.emulation import delayline
from hermitnet.emulation import manifest as manifest_module
from hermitnet.emulation.network import Emulation, HermitController, flows_per_table
from hermitnet.emulation.process import run_checked
from hermitnet.emulation.topology import National3GTopo
from hermitnet.errors import HermitError

LOCAL = "localhost"      # the Cluster Edition's name for the machine it runs on


@dataclass(frozen=True)
class ClusterRun:
    spec: ClusterSpec
    placement: Placement
    addresses: dict[str, str]      # other machine -> its IPv4 address
    local_address: str             # the first machine's address towards the others
    tunnel: str                    # gretap | vxlan | ssh
    facts: dict = field(default_factory=dict)   # machine -> {kernel, ovs, kernel_datapath, ...}

    def ssh(self, machine: str) -> list[str]:
        return ["ssh", "-q", "-o", "BatchMode=yes", *self.spec.ssh_options,
                f"root@{self.addresses[machine]}"]

    def on(self, machine: str, argv: list[str]) -> list[str]:
        """argv as run on `machine` (root namespace) from the first machine."""
        if machine == self.placement.first:
            return list(argv)
        return [*self.ssh(machine), shlex.join(argv)]

    def server(self, machine: str) -> str:
        return LOCAL if machine == self.placement.first else self.addresses[machine]

    @property
    def others(self) -> list[str]:
        return list(self.placement.machines[1:])

    @property
    def kernel_datapath(self) -> bool:
        """OVS's kernel datapath only if every machine has it; else userspace everywhere."""
        return all(f.get("kernel_datapath") for f in self.facts.values()) and bool(self.facts)

    def environment(self) -> dict:
        """For results.json: the machines, what each offers, where each node runs, the tunnel."""
        datapath = "kernel" if self.kernel_datapath else "userspace"
        return {"machines": [{"name": m, "address": self.addresses.get(m, self.local_address),
                              "first": m == self.placement.first,
                              "nodes": len(self.placement.on(m)), "datapath": datapath,
                              **self.facts.get(m, {})}
                             for m in self.placement.machines],
                "tunnel": self.tunnel, "tunnel_choice": self.tunnel_choice,
                "placement": dict(self.placement.nodes)}

    @property
    def tunnel_choice(self) -> str:
        """Why this tunnel kind, in words (for the output and results.json)."""
        if self.spec.tunnel:
            return "asked for by the cluster file"
        slow = " (the slow fallback: neither gretap nor vxlan works on every machine)"
        return "the first kind every machine offers" + (slow if self.tunnel == "ssh" else "")


def prepare(spec: ClusterSpec, layout, run_dir) -> ClusterRun:
    """Place the plan, then check every other machine before anything is built there."""
    placement = place(layout, spec)
    addresses = {}
    for machine in spec.machines[1:]:
        address = RemoteMixin.findServerIP(machine)
        if not address:
            raise HermitError(f"cannot resolve machine {machine!r} to an IPv4 address",
                              field="--cluster")
        addresses[machine] = address
    route = subprocess.run(["ip", "route", "get", addresses[spec.machines[1]]],
                           capture_output=True, text=True).stdout
    if " src " not in route:
        raise HermitError(f"no route to {spec.machines[1]} ({addresses[spec.machines[1]]})")
    local_address = route.split(" src ")[1].split()[0]
    partial_run = ClusterRun(spec, placement, addresses, local_address, "")
    token = secrets.token_hex(8)
    marker = run_dir / ".cluster-check"
    marker.write_text(token)
    try:
        for machine in spec.machines[1:]:
            _check_machine(partial_run, machine, marker, token)
    finally:
        marker.unlink(missing_ok=True)

    facts = {m: _facts(partial_run, m) for m in spec.machines}

    def missing(kind: str) -> list[str]:
        if kind == "ssh":     # probed only when wanted: it opens a tunnel to every machine
            failed = [f"{m} ({why})" for m in spec.machines[1:]
                      if (why := _ssh_tunnel_fails(partial_run, m))]
            for machine in ([] if failed else spec.machines):
                facts[machine]["tunnels"].append("ssh")
            return failed
        return [m for m in spec.machines if kind not in facts[m]["tunnels"]]

    return ClusterRun(spec, placement, addresses, local_address,
                      cluster_nodes.tunnel_kind(missing, spec.tunnel), facts)


def _ssh_tunnel_fails(run: ClusterRun, machine: str) -> str:
    """Why `ssh -w` cannot open an Ethernet tunnel to `machine`, or "" if it can. ssh stays up
    while its tunnel does, so the probe waits for the remote `echo @`, then ends it."""
    probe = subprocess.Popen(cluster_nodes.ssh_probe_argv(run.ssh(machine)),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([probe.stdout], [], [], 30)
        said = probe.stdout.read(1) if ready else ""
    finally:
        probe.kill()
        _, err = probe.communicate()
    if said == "@":
        return ""
    return (err.strip() or "ssh -w did not answer within 30 s")[-200:]


_FACTS = """uname -r
ovs-vsctl --version | head -n 1
[ -d /sys/module/openvswitch ] && echo yes || echo no
"""


def _facts(run: ClusterRun, machine: str) -> dict:
    """What a machine could emulate: kernel, OVS, OVS kernel datapath, tunnel kinds."""
    done = subprocess.run(run.on(machine, ["sh", "-c", _FACTS]), capture_output=True,
                          text=True, timeout=30)
    lines = [*done.stdout.splitlines(), "", "", ""]
    name = f"hnt{secrets.token_hex(3)}"
    tunnels = [kind for kind in ("gretap", "vxlan") if subprocess.run(
        run.on(machine, cluster_nodes.probe_argv(kind, name)), capture_output=True,
        timeout=30).returncode == 0]
    return {"kernel": lines[0].strip(), "ovs": lines[1].strip(),
            "kernel_datapath": lines[2].strip() == "yes", "tunnels": tunnels}


def _check_machine(run: ClusterRun, machine: str, marker, token: str) -> None:
    import sys

    checks = [
        (["true"], "reach it as root over SSH (BatchMode: a key, no password)"),
        (["cat", str(marker)], f"see the results folder {marker.parent} (the same folder on "
                               "every machine: a shared folder)"),
        ([sys.executable, "-c", "import hermitnet, mininet"],
         f"import hermitnet and mininet with {sys.executable} (install it the same way there)"),
        (["ovs-vsctl", "--timeout=5", "show"], "reach its Open vSwitch"),
        (["sudo", "-n", "true"], "run sudo (the Cluster Edition's nodes use it)"),
    ]
    for argv, what in checks:
        done = subprocess.run(run.on(machine, argv), capture_output=True, text=True, timeout=30)
        if done.returncode != 0 or (argv[0] == "cat" and done.stdout.strip() != token):
            said = (done.stderr or done.stdout).strip()[-300:] or f"exit {done.returncode}"
            raise HermitError(f"machine {machine}: cannot {what}: "
                              f"{shlex.join(run.on(machine, argv))} -> {said}", field="--cluster")


class PlanPlacer(Placer):
    """A Cluster Edition placer that follows a hermitnet placement (emulated name -> server)."""

    def __init__(self, *args, server_of: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.server_of = server_of

    def place(self, node):
        return self.server_of[node]


class _Cluster(MininetCluster):
    def __init__(self, *args, ssh_options=(), **kwargs):
        self.sshcmd = [*MininetCluster.sshcmd, *ssh_options]     # its precheck's ssh
        super().__init__(*args, **kwargs)


class ClusterEmulation(Emulation):
    def __init__(self, plan, caps, manifest, controller_port: int, cluster: ClusterRun):
        super().__init__(plan, caps, manifest, controller_port)
        self.cluster = cluster

    @property
    def kernel_datapath(self) -> bool:
        """The kernel datapath only where every machine has it."""
        return self.caps.kernel_datapath and self.cluster.kernel_datapath

    def machine_of(self, logical_name: str) -> str:
        return self.cluster.placement.machine_of(logical_name)

    def _start(self) -> None:
        setLogLevel("warning")
        plan, cluster = self.plan, self.cluster
        first = cluster.placement.first
        bridges = {m: [s.node for s in plan.switches if self.machine_of(s.name) == m]
                   for m in cluster.placement.machines}
        interfaces = self._switch_ends_by_machine()
        self.manifest.add_bridges(bridges[first])
        self.manifest.add_interfaces(interfaces[first])
        for machine in cluster.others:
            self.manifest.add_machine_objects(machine, cluster.ssh(machine),
                                              bridges=bridges[machine],
                                              interfaces=interfaces[machine])
        nodes = {s.name: s.node for s in plan.switches} | {h.name: h.node for h in plan.hosts}
        server_of = {nodes[name]: cluster.server(machine)
                     for name, machine in cluster.placement.nodes.items()}
        options = list(cluster.spec.ssh_options)
        datapath = "kernel" if self.kernel_datapath else "user"
        servers = [cluster.server(m) for m in cluster.placement.machines]
        link = cluster_nodes.LINKS[cluster.tunnel]
        if cluster.tunnel == "ssh":
            link = partial(link, ssh_options=options, record=self._record_tunnel)
        self.net = _Cluster(
            topo=National3GTopo(plan=plan), servers=servers, user="root",
            serverIP={LOCAL: cluster.local_address, **{a: a for a in cluster.addresses.values()}},
            placement=partial(PlanPlacer, server_of=server_of), ssh_options=options,
            switch=partial(cluster_nodes.ClusterSwitch, datapath=datapath, ssh_options=options),
            host=partial(cluster_nodes.ClusterHost, ssh_options=options),
            link=link, controller=None, build=False,
            autoSetMacs=False, waitConnected=False, inNamespace=False)
        self.net.addController(f"{plan.prefix}c", controller=HermitController,
                               ip=cluster.local_address, port=self.controller_port)
        try:
            self.net.build()
        finally:
            self._record_shells()
        self.net.start()
        self._prepare_interfaces()

    def _stop_network(self, settle_s: float = 10.0) -> None:
        self.net.stop()   # Mininet's own stop: every node on its machine

    def _switch_ends_by_machine(self) -> dict[str, list[str]]:
        nodes = {s.name: s.node for s in self.plan.switches}
        ends: dict[str, list[str]] = {m: [] for m in self.cluster.placement.machines}
        for link in self.plan.links:
            for name, port in ((link.a, link.a_port), (link.b, link.b_port)):
                if name in nodes:
                    ends[self.machine_of(name)].append(f"{nodes[name]}-eth{port}")
        return ends

    def _record_tunnel(self, server: str, *, interfaces=(), pid=None, what="") -> None:
        """An SSH tunnel's tap devices (before they exist) and its ssh process (here)."""
        if server == LOCAL:
            self.manifest.add_interfaces(interfaces)
            if pid is not None:
                self.manifest.add_process(pid, what)
            return
        machine = {a: m for m, a in self.cluster.addresses.items()}[server]
        self.manifest.add_machine_objects(machine, self.cluster.ssh(machine),
                                          interfaces=interfaces)

    def _record_shells(self) -> None:
        """The node shells by PID and start time, and the hosts' network namespaces, on each
        machine (manifest.cleanup finds what runs in a host through its namespace)."""
        remote: dict[str, list] = {}
        hosts = set(self.net.hosts)
        for node in (*self.net.hosts, *self.net.switches):
            if node.shell is None or not node.pid:
                continue
            if node.isRemote:
                self.manifest.add_process(node.shell.pid, f"ssh for the shell of {node.name}")
                remote.setdefault(node.server, []).append((node.pid, node.name, node in hosts))
            else:
                self.manifest.add_process(node.pid, f"shell of {node.name}")
        self.manifest.add_namespaces((h.name, h.pid) for h in self.net.hosts
                                     if h.shell is not None and h.pid and not h.isRemote)
        by_address = {a: m for m, a in self.cluster.addresses.items()}
        for address, shells in remote.items():
            machine = by_address[address]
            script = "".join(f"echo {p} $(sed 's/.*) //' /proc/{p}/stat | cut -d' ' -f20) "
                             f"$(readlink /proc/{p}/ns/net)\n" for p, _, _ in shells)
            done = subprocess.run([*self.cluster.ssh(machine), "sh", "-s"], input=script,
                                  capture_output=True, text=True, timeout=60)
            found = {int(w[0]): w for w in (line.split() for line in done.stdout.splitlines())
                     if len(w) == 3}
            processes = [{"pid": pid, "start": int(found[pid][1]), "what": "node shell"}
                         for pid, _, _ in shells if pid in found]
            namespaces = [{"inode": found[pid][2], "node": name}
                          for pid, name, is_host in shells if is_host and pid in found]
            self.manifest.add_machine_objects(machine, self.cluster.ssh(machine),
                                              processes=processes, namespaces=namespaces)

    # Hosts are prepared as on one machine (a script through each host's shell); the switch
    # ends in the root namespace of their own machine, one machine at a time.
    def _switch_offload_off(self) -> None:
        by_machine: dict[str, list[str]] = {}
        for switch in self.net.switches:
            machine = self.machine_of(self._switch_name(switch))
            by_machine.setdefault(machine, []).extend(
                intf.name for intf in switch.intfList() if intf.name != "lo")
        for machine, intfs in by_machine.items():
            script = " && ".join(f"ethtool -K {i} tx off >/dev/null" for i in intfs)
            run_checked(self.cluster.on(machine, ["sh", "-c", script]), where=f"on {machine}")

    def _shape_switch_ends(self, ends) -> None:
        for end in ends:
            self._apply(end)

    def _switch_name(self, switch) -> str:
        return next(s.name for s in self.plan.switches if s.node == switch.name)

    def _apply(self, end) -> None:
        if end.node:
            return super()._apply(end)
        machine = self._machine_of_intf(end.intf)
        for argv in end.tc:
            run_checked(self.cluster.on(machine, list(argv)), where=f"on {machine}")
        if end.nft:
            run_checked(self.cluster.on(machine, ["nft", "-f", "-"]), input_text=end.nft,
                        where=f"on {machine}")
        return None

    def _machine_of_intf(self, intf: str) -> str:
        node = intf.rsplit("-eth", 1)[0]
        logical = next(item.name for item in (*self.plan.switches, *self.plan.hosts)
                       if item.node == node)
        return self.machine_of(logical)

    def _start_delay_line(self) -> None:
        """The delay line on the first machine, for the link ends there; the rest is said."""
        ends = delayline.plan(self.plan, nft=self.caps.nft)
        first = self.cluster.placement.first
        here = [e for e in ends if self._machine_of_intf(e.intf) == first]
        for end in ends:
            if end not in here:
                self.not_emulated.append(
                    f"delay/jitter/loss on {end.intf} ({self._machine_of_intf(end.intf)}): the "
                    "userspace delay line runs on the first machine only")
        if here:
            netns = {h.node: f"/proc/{self.net.get(h.node).pid}/ns/net" for h in self.plan.hosts
                     if self.machine_of(h.name) == first}
            self.processes.append(delayline.start(here, netns, self.manifest))

    def flow_counts(self, switch: str) -> dict[int, int]:
        bridge = self.plan.switch(switch).node
        argv = ["ovs-ofctl", "-O", "OpenFlow13", "--timeout=5", "dump-flows", bridge]
        done = subprocess.run(self.cluster.on(self.machine_of(switch), argv),
                              capture_output=True, text=True, timeout=30)
        return flows_per_table(done.stdout)

    def _stop_host_processes(self) -> None:
        manifest_module.stop_strays([h.pid for h in self.net.hosts
                                     if h.shell and h.pid and not h.isRemote])
        for entry in self.manifest.machines.values():
            script = manifest_module.remote_cleanup_script(entry, strays_only=True)
            subprocess.run([*entry["ssh"], "sh", "-s"], input=script, capture_output=True,
                           text=True, timeout=60)

    def tunnel_counters(self) -> dict[str, dict[str, int]]:
        """{tunnel end: {rx_packets, tx_packets}} of every link between machines, both sides."""
        nodes = {s.name: s.node for s in self.plan.switches}
        counters = {}
        for link in self.cluster.placement.crossing_links(self.plan):
            for name, port in ((link.a, link.a_port), (link.b, link.b_port)):
                intf = f"{nodes[name]}-eth{port}"
                argv = ["cat", f"/sys/class/net/{intf}/statistics/rx_packets",
                        f"/sys/class/net/{intf}/statistics/tx_packets"]
                out = subprocess.run(self.cluster.on(self.machine_of(name), argv),
                                     capture_output=True, text=True, timeout=30).stdout.split()
                if len(out) == 2:
                    counters[f"{intf}@{self.machine_of(name)}"] = {
                        "rx_packets": int(out[0]), "tx_packets": int(out[1])}
        return counters
