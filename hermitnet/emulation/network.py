"""The emulated network of one run: Mininet + Open vSwitch, as a context manager that always stops.

    with Emulation(plan, caps, manifest, controller_port) as emu:
        emu.run("citizen-1", ["ping", "-c", "1", "10.1.0.10"])

On exit, whether the body returned, raised or was interrupted, every process started in a host,
every host, switch and link is removed, and then the manifest is applied once more so that
nothing the run recorded survives.
"""

from __future__ import annotations

import array
import fcntl
import logging
import shlex
import socket
import struct
import subprocess
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

from mininet.link import Link
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host, OVSSwitch, RemoteController

from hermitnet.emulation import delayline, shaping
from hermitnet.emulation import manifest as manifest_module
from hermitnet.emulation.process import run_checked
from hermitnet.emulation.topology import National3GTopo
from hermitnet.errors import HermitError

LOG = logging.getLogger("hermitnet.emulation")
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17    # linux/sockios.h, linux/ethtool.h


class HermitSwitch(OVSSwitch):
    """OVS bridge: controlled ones fail secure on OpenFlow 1.3; the global zone is standalone."""

    def __init__(self, name, controlled=True, datapath="user", **params):
        params.pop("hermit_name", None)
        params.pop("role", None)
        self.controlled = controlled
        super().__init__(name, failMode="secure" if controlled else "standalone",
                         datapath=datapath, protocols="OpenFlow13", **params)

    def start(self, controllers):
        super().start(controllers if self.controlled else [])

    def vsctl(self, *args, **kwargs) -> str:
        """ovs-vsctl as a process of its own, not typed into the switch's shell.

        Mininet sends one ovs-vsctl line with every port of a bridge through a terminal, whose
        line limit (4095 characters) silently cuts it for bridges of more than about 50 ports.
        """
        argv = ["ovs-vsctl", "--timeout=60", *shlex.split(" ".join(str(a) for a in args))]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=90)
        if done.returncode != 0:
            raise HermitError(f"ovs-vsctl failed for bridge {self.name}: {done.stderr.strip()}")
        return done.stdout


class HermitController(RemoteController):
    """The run's controller, already started and listening (hermitnet.emulation.controller).

    Mininet's own check types `telnet` into a shell and decodes what comes back as UTF-8; the
    controller's binary OpenFlow hello then fails the decoding now and again (UnicodeDecodeError
    during the build). A plain TCP connect checks the same thing.
    """

    def checkListening(self):
        try:
            socket.create_connection((self.ip, self.port), timeout=5).close()
        except OSError as error:
            raise HermitError(f"the controller does not listen at {self.ip}:{self.port}: "
                              f"{error}") from error


class HermitHost(Host):
    def __init__(self, name, **params):
        params.pop("hermit_name", None)
        super().__init__(name, **params)


class Emulation:
    def __init__(self, plan, caps, manifest, controller_port: int):
        self.plan = plan
        self.caps = caps
        self.manifest = manifest
        self.controller_port = controller_port
        self.net: Mininet | None = None
        self.not_emulated: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self.delay_line: subprocess.Popen | None = None   # the userspace delay process

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Emulation:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def kernel_datapath(self) -> bool:
        return self.caps.kernel_datapath

    def _start(self) -> None:
        setLogLevel("warning")
        plan = self.plan
        self.manifest.add_bridges([s.node for s in plan.switches])
        self.manifest.add_interfaces(self._switch_interfaces())
        topo = National3GTopo(plan=plan)
        datapath = "kernel" if self.kernel_datapath else "user"
        self.net = Mininet(
            topo=topo, switch=partial(HermitSwitch, datapath=datapath),
            host=HermitHost, link=Link, controller=None, build=False, autoSetMacs=False,
            waitConnected=False, inNamespace=False)
        self.net.addController(f"{plan.prefix}c", controller=HermitController, ip="127.0.0.1",
                               port=self.controller_port)
        try:
            self.net.build()
        finally:
            for node in (*self.net.hosts, *self.net.switches):
                if node.shell is not None and node.pid:
                    self.manifest.add_process(node.pid, f"shell of {node.name}")
            self.manifest.add_namespaces((h.name, h.pid) for h in self.net.hosts
                                         if h.shell is not None and h.pid)
        self.net.start()
        self._prepare_interfaces()

    def stop(self) -> None:
        if self.net is not None:  # whatever runs in a host goes first, recorded or not
            self._stop_host_processes()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.net is not None:
            try:
                self._stop_network()
            except Exception as error:  # cleanup below removes whatever this missed
                LOG.warning("network stop: %s", error)
            self.net = None
        manifest_module.cleanup(self.manifest)

    def _stop_network(self, settle_s: float = 10.0) -> None:
        """What Mininet's stop() does, in fewer steps. Mininet deletes each link with two `ip
        link del` typed into node shells (most of its stop time at a few hundred links); here
        one ovs-vsctl removes every bridge, then the hosts' shells go, and with the last
        process of each host its namespace: the kernel removes the veth ends inside together
        with their peers, in batches. The links between switches (both ends in the root
        namespace), and any host link whose peer outlives `settle_s`, are deleted with one
        `ip -batch`."""
        net = self.net
        if net.switches:
            type(net.switches[0]).batchShutdown(net.switches)
        hosts = set(net.hosts)
        for host in net.hosts:
            host.terminate()
        to_hosts, between_switches = [], []
        for link in net.links:
            ends = [intf for intf in (link.intf1, link.intf2) if intf is not None]
            rooted = [intf.name for intf in ends if not intf.node.inNamespace]
            (to_hosts if any(intf.node in hosts for intf in ends) else between_switches).extend(
                rooted)
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline and any(_exists(n) for n in to_hosts):
            time.sleep(0.1)
        pending = [n for n in (*between_switches, *to_hosts) if _exists(n)]
        if pending:
            subprocess.run(["ip", "-force", "-batch", "-"], capture_output=True, text=True,
                           input="".join(f"link del {n}\n" for n in pending), timeout=120)

    # -- access ------------------------------------------------------------------------------
    def node(self, logical_name: str):
        for item in (*self.plan.hosts, *self.plan.switches, *self.plan.censors):
            if item.name == logical_name:
                return self.net.get(item.node)
        raise KeyError(logical_name)

    def popen(self, logical_name: str, argv: list[str], what: str, *, record: bool = True,
              **kw) -> subprocess.Popen:
        """Start a process inside a host; stopped with the emulation. `record` also writes it
        into the manifest; a command waited for (`run`) is not written there: it runs in a
        host's namespace, and the manifest's cleanup stops everything in the namespaces of the
        recorded host shells (rewriting the manifest for each of thousands of short commands
        cost more than the commands)."""
        process = self.node(logical_name).popen(argv, **kw)
        self.processes.append(process)
        if record:
            self.manifest.add_process(process.pid, f"{what} in {logical_name}")
        return process

    def capture(self, link_kind: str, path: Path, snaplen: int = 256,
                max_packets: int = 200_000) -> list[str]:
        """tcpdump on the switch end of every link of `link_kind` (e.g. the uplink) into pcaps.

        Headers only (snaplen), bounded in packets; stopped with the emulation. Returns the
        interfaces captured.
        """
        nodes = {s.name: s.node for s in self.plan.switches}
        captured = []
        for i, link in enumerate(lk for lk in self.plan.links if lk.kind == link_kind):
            intf = f"{nodes[link.a]}-eth{link.a_port}"
            second = f"-{link.name}" if i else ""       # a second uplink between the same two
            pcap = path.with_name(f"{path.stem}-{link.a}-{link.b}{second}{path.suffix}")
            process = subprocess.Popen(
                ["tcpdump", "-i", intf, "-w", str(pcap), "-s", str(snaplen), "-c",
                 str(max_packets), "-U", "-Z", "root", "-n"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            self.processes.append(process)
            self.manifest.add_process(process.pid, f"tcpdump on {intf}")
            captured.append(intf)
        return captured

    def run(self, logical_name: str, argv: list[str], *, input_text: str | None = None,
            timeout_s: float = 60) -> subprocess.CompletedProcess:
        """Run a command inside a host and wait for it."""
        process = self.popen(logical_name, argv, argv[0], record=False, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = process.communicate(input_text, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise HermitError(f"{' '.join(argv)} in {logical_name} did not finish within "
                              f"{timeout_s:g} s") from None
        self.processes.remove(process)
        return subprocess.CompletedProcess(argv, process.returncode, out, err)

    def _stop_host_processes(self) -> None:
        manifest_module.stop_strays([h.pid for h in self.net.hosts if h.shell and h.pid])

    # -- setup steps -------------------------------------------------------------------------
    def _switch_interfaces(self) -> list[str]:
        nodes = self.plan.nodes()
        names = []
        for link in self.plan.links:
            names += [f"{nodes[link.a]}-eth{link.a_port}", f"{nodes[link.b]}-eth{link.b_port}"]
        return names

    def _prepare_interfaces(self) -> None:
        """Checksum offload, static ARP and shaping of every interface, in few processes.

        - Userspace datapath: TCP silently fails unless TX checksum offload is off on each
          veth; the switch ends are set here with one ioctl each (no process).
        - Every host knows every other host's MAC: no ARP crosses the policy pipeline.
        - Shaping (shaping.plan_link) of the switch ends: one `tc -batch` for all of them.
        Each host gets its offload, neighbours, shaping and loss in one script (one process).
        """
        offload_off = not self.kernel_datapath
        if offload_off:
            self._switch_offload_off()
        host_ends, switch_ends = defaultdict(list), []
        for link in self.plan.links:
            planned = shaping.plan_link(link, self.plan, self.caps)
            self.not_emulated.extend(planned.not_emulated)
            for end in planned.ends:
                if end.node:
                    host_ends[end.node].append(end)
                else:
                    switch_ends.append(end)
        self._shape_switch_ends(switch_ends)
        for host in self.plan.hosts:
            intf = f"{host.node}-eth0"
            ends = host_ends.get(host.node, [])
            nft = "".join(end.nft for end in ends if end.nft)
            script = shaping.host_setup_script(
                intf, tx_checksum_off=offload_off, tc=[c for end in ends for c in end.tc],
                neighbours=[f"neigh replace {other.ip} lladdr {other.mac} dev {intf} "
                            "nud permanent" for other in self.plan.hosts if other is not host],
                nft=nft or None)
            self.check(host.name, ["sh", "-e"], script)
        if self.caps.delay_line == "userspace":
            self._start_delay_line()

    def _switch_offload_off(self) -> None:
        for switch in self.net.switches:
            for intf in switch.intfList():
                if intf.name != "lo":
                    _tx_checksum_off(intf.name)

    def _shape_switch_ends(self, ends) -> None:
        """The switch ends' shaping (root namespace, no nftables there): one `tc -batch`."""
        commands = [c for end in ends for c in end.tc]
        if commands:
            run_checked(["tc", "-batch", "-"], input_text=shaping.tc_batch(commands),
                        where="(switch ends)")

    def _start_delay_line(self) -> None:
        """One delay process for every link end with delay, jitter or loss (no netem)."""
        ends = delayline.plan(self.plan, nft=self.caps.nft)
        if ends:
            netns = {h.node: f"/proc/{self.net.get(h.node).pid}/ns/net" for h in self.plan.hosts}
            self.delay_line = delayline.start(ends, netns, self.manifest)
            self.processes.append(self.delay_line)

    def set_air_link(self, logical_host: str, spec) -> None:
        """Give a phone's air link new settings (a LinkSpec from plan.air_link_spec), both ways.

        The commands come from shaping.air_link_update, which says what this machine's kernel
        can do and refuses a loss it could not emulate.
        """
        link = next(lk for lk in self.plan.links if lk.a == logical_host)
        for end in shaping.air_link_update(link, self.plan, spec, self.caps):
            self._apply(end)

    def _apply(self, end) -> None:
        inside = self._logical(end.node) if end.node else None
        for argv in end.tc:
            self._check_at(inside, list(argv))
        if end.nft:
            self._check_at(inside, ["nft", "-f", "-"], end.nft)

    def _logical(self, node: str) -> str:
        return next(h.name for h in self.plan.hosts if h.node == node)

    def _check_at(self, logical_host: str | None, argv: list[str],
                  input_text: str | None = None) -> None:
        """Run a command inside a host, or in the root namespace (switch ends) for None."""
        if logical_host is None:
            run_checked(argv, input_text=input_text)
        else:
            self.check(logical_host, argv, input_text)

    def check(self, logical_host: str, argv: list[str], input_text: str | None = None) -> None:
        """Run a command in a host; any non-zero exit or error output is a failure."""

        def in_host(argv, input_text):
            done = self.run(logical_host, argv, input_text=input_text, timeout_s=30)
            return done.stdout, done.stderr, done.returncode

        run_checked(argv, runner=in_host, input_text=input_text,
                            where=f"in {logical_host}")

    # -- readiness ---------------------------------------------------------------------------
    def wait_policy_installed(self, expected: dict[str, dict[int, int]], timeout_s: float,
                              controller=None) -> float:
        """Wait until every controlled bridge holds the compiled number of flows per table."""
        started = time.monotonic()
        pending = dict(expected)
        while pending:
            for switch in list(pending):
                if self.flow_counts(switch) == pending[switch]:
                    del pending[switch]
            if not pending:
                break
            if controller is not None and not controller.alive():
                raise HermitError("the controller died while installing the policy:\n"
                                  + controller.log_tail())
            if time.monotonic() - started > timeout_s:
                raise HermitError(f"policy not installed within {timeout_s:g} s on: "
                                  f"{', '.join(sorted(pending))}")
            time.sleep(0.2)
        return time.monotonic() - started

    def flow_counts(self, switch: str) -> dict[int, int]:
        """{table: flows} installed on a logical switch."""
        return installed_flow_counts(self.plan.switch(switch).node)


def _exists(intf: str) -> bool:
    return Path(f"/sys/class/net/{intf}").exists()


def _tx_checksum_off(intf: str) -> None:
    """`ethtool -K intf tx off` (and what depends on it, TSO) in the root namespace, by ioctl."""
    value = array.array("B", struct.pack("II", ETHTOOL_STXCSUM, 0))
    request = struct.pack("16sP", intf.encode(), value.buffer_info()[0]).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            fcntl.ioctl(sock, SIOCETHTOOL, request)
        except OSError as error:
            raise HermitError(f"TX checksum offload could not be turned off on {intf}: "
                              f"{error}") from None


def installed_flow_counts(bridge: str) -> dict[int, int]:
    done = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "--timeout=5", "dump-flows", bridge],
                          capture_output=True, text=True, timeout=15)
    return flows_per_table(done.stdout)


def flows_per_table(dump_flows: str) -> dict[int, int]:
    """{table: number of flows} from `ovs-ofctl dump-flows` output."""
    counts: dict[int, int] = {}
    for line in dump_flows.splitlines():
        if "table=" in line:
            table = int(line.split("table=", 1)[1].split(",", 1)[0])
            counts[table] = counts.get(table, 0) + 1
    return counts

