"""hermitnet's hosts, switches and tunnels on Mininet's Cluster Edition (mininet.examples.cluster).

The Cluster Edition runs a node on another machine by starting its shell over SSH
(`RemoteHost`, `RemoteOVSSwitch`) and links nodes on two machines with a tunnel (`RemoteLink`:
SSH tap tunnels; `RemoteGRELink`: the kernel's gretap). What is added here:

- `ClusterHost`, `ClusterSwitch`: the Cluster Edition's nodes with hermitnet's switch rules
  (fail-secure OpenFlow 1.3 for controlled bridges, userspace datapath, ovs-vsctl as a process
  of its own rather than a line typed into the shell), SSH options of the cluster (a key and
  known-hosts file of its own), and commands quoted for the remote shell that SSH hands them to;
- `RemoteVXLANLink`: `RemoteGRELink` with the tunnel made by `ip link add ... type vxlan`, for
  kernels without gretap (this kind of machine); the same 1450-byte MTU on every link, and TX
  checksum offload off on the tunnel ends as the userspace datapath needs;
- `ClusterSSHLink`: the Cluster Edition's SSH link (`RemoteSSHLink`: a tap device on each end,
  joined by `ssh -w`) with the cluster's SSH options, a tap number of its own per tunnel (the
  Cluster Edition hard-wires tap9), a bounded wait for the tunnel, and its tap devices and ssh
  process handed to the run's manifest before (devices) or as soon as (process) they exist;
  frames ride inside SSH's TCP stream, so links keep their 1500-byte MTU;
- `tunnel_kind()`: gretap where every machine's kernel has it, else VXLAN, else SSH tunnels
  (the slow fallback), or the kind the cluster file asks for.
"""

from __future__ import annotations

import secrets
import select
import shlex
import subprocess

from mininet.examples.cluster import (
    RemoteGRELink,
    RemoteHost,
    RemoteMixin,
    RemoteOVSSwitch,
    RemoteSSHLink,
)
from mininet.util import quietRun

from hermitnet.cluster.placement import TUNNEL_KINDS
from hermitnet.emulation.network import HermitSwitch
from hermitnet.errors import HermitError

TUNNEL_MTU = 1450        # 1500 - VXLAN's 50 bytes (outer IPv4 20, UDP 8, VXLAN 8, Ethernet 14)
VXLAN_PORT = 4789
SSH_TUNNEL_WAIT_S = 30


class _ClusterNode:
    """Mixed in before the Cluster Edition's RemoteMixin: SSH options and quoted commands."""

    def __init__(self, name, ssh_options=(), **params):
        params.pop("hermit_name", None)
        # RemoteMixin builds its ssh command from sshbase (ends with -tt) before the shell starts
        self.sshbase = [*RemoteMixin.sshbase[:-1], *ssh_options, "-tt"]
        super().__init__(name, **params)

    def _popen(self, cmd, sudo=True, tt=True, **params):
        if self.isRemote:   # ssh joins its arguments with spaces for the remote shell
            words = cmd.split() if isinstance(cmd, str) else cmd
            cmd = [shlex.quote(str(word)) for word in words]
        return super()._popen(cmd, sudo=sudo, tt=tt, **params)

    def on_machine(self, argv: list[str]) -> list[str]:
        """argv as run in this node's machine's root namespace, from the first machine."""
        if not self.isRemote:
            return list(argv)
        ssh = [word for word in self.sshcmd if word != "-tt"]
        return [*ssh, shlex.join(argv)]


class ClusterHost(_ClusterNode, RemoteHost):
    pass


class ClusterSwitch(_ClusterNode, RemoteOVSSwitch, HermitSwitch):
    """A hermitnet switch (HermitSwitch) on any machine of the cluster."""

    def __init__(self, name, **params):
        super().__init__(name, **params)
        self.batch = False      # RemoteOVSSwitch batches ovs-vsctl; vsctl() runs it at once

    def vsctl(self, *args, **kwargs) -> str:
        argv = ["ovs-vsctl", "--timeout=60", *shlex.split(" ".join(str(a) for a in args))]
        done = subprocess.run(self.on_machine(argv), capture_output=True, text=True, timeout=90)
        if done.returncode != 0:
            raise HermitError(f"ovs-vsctl failed for bridge {self.name} on {self.server}: "
                              f"{done.stderr.strip()}")
        return done.stdout

    @classmethod
    def batchStartup(cls, switches, **_kwargs):
        return switches        # each switch was started by start() already (no batch)


class RemoteVXLANLink(RemoteGRELink):
    """The Cluster Edition's GRE link with a VXLAN tunnel between machines (no gretap here)."""

    VNI = 0

    def makeTunnel(self, node1, node2, intfname1, intfname2, addr1=None, addr2=None):
        assert node1.server != node2.server
        if node2.server == "localhost":
            return self.makeTunnel(node2, node1, intfname2, intfname1, addr2, addr1)
        ip1, ip2 = node1.serverIP, node2.serverIP
        if node1.server == "localhost":     # the local address that reaches the other machine
            ip1 = quietRun(f"ip route get {ip2}").split(" src ")[1].split()[0]
        type(self).VNI += 1
        for node, intf, addr, local, remote in ((node1, intfname1, addr1, ip1, ip2),
                                                (node2, intfname2, addr2, ip2, ip1)):
            node.rcmd(f"ip link delete {intf}")
            result = node.rcmd(f"ip link add name {intf} type vxlan id {type(self).VNI} "
                               f"local {local} remote {remote} dstport {VXLAN_PORT}")
            if result.strip():
                raise HermitError(f"cannot make the VXLAN tunnel end {intf} on {node.server}: "
                                  f"{result.strip()}")
            if addr:
                node.rcmd(f"ip link set {intf} address {addr}")
            node.rcmd(f"ip link set dev {intf} mtu {TUNNEL_MTU} up")
            node.rcmd(f"ethtool -K {intf} tx off")
            if not self.moveIntf(intf, node):
                raise HermitError(f"cannot move {intf} into {node} on {node.server}")
        return None


class ClusterSSHLink(RemoteSSHLink):
    """The Cluster Edition's SSH link (tap devices joined by `ssh -w`), for machines where
    neither gretap nor VXLAN works. `ssh_options`: the cluster's; `record(server, interfaces=,
    pid=, what=)`: hands the tunnel's objects to the run's manifest."""

    def __init__(self, node1, node2, ssh_options=(), record=None, **kwargs):
        self.ssh_options, self.record = tuple(ssh_options), record
        super().__init__(node1, node2, **kwargs)

    def makeTunnel(self, node1, node2, intfname1, intfname2, addr1=None, addr2=None):
        assert node1.server != node2.server
        if node2.server == "localhost":     # the ssh client runs on the first machine
            return self.makeTunnel(node2, node1, intfname2, intfname1, addr2, addr1)
        number = 1000 + secrets.randbelow(8000)
        tap = f"tap{number}"
        for node in (node1, node2):
            self._record(node.server, interfaces=[tap])
            result = node.rcmd(f"ip tuntap add dev {tap} mode tap user {node.user}")
            if result.strip():
                raise HermitError(f"cannot make the tap device {tap} on {node.server}: "
                                  f"{result.strip()}")
        argv = ["ssh", "-n", *self.ssh_options, "-o", "BatchMode=yes", "-o", "Tunnel=ethernet",
                "-o", "ExitOnForwardFailure=yes", "-w", f"{number}:{number}",
                f"{node2.user}@{node2.serverIP}", "echo @"]
        self.cmd = argv
        tunnel = node1.rpopen(argv, sudo=False)
        self._record(node1.server, pid=tunnel.pid,
                     what=f"ssh tunnel {intfname1} <-> {intfname2}@{node2.server}")
        ready, _, _ = select.select([tunnel.stdout], [], [], SSH_TUNNEL_WAIT_S)
        said = tunnel.stdout.read(1).decode() if ready else ""
        if said != "@":
            tunnel.kill()
            said += tunnel.communicate()[0].decode(errors="replace") if ready else ""
            raise HermitError(f"the SSH tunnel to {node2.server} did not come up within "
                              f"{SSH_TUNNEL_WAIT_S} s ({shlex.join(argv)}): "
                              f"{said.strip() or 'no answer'} (its sshd needs PermitTunnel yes)")
        for node, intf, addr in ((node1, intfname1, addr1), (node2, intfname2, addr2)):
            address = f" address {addr}" if addr else ""
            result = node.rcmd(f"ip link set {tap} name {intf}{address}")
            if result.strip():
                raise HermitError(f"cannot rename {tap} to {intf} on {node.server}: "
                                  f"{result.strip()}")
            node.rcmd(f"ip link set dev {intf} up")
            node.rcmd(f"ethtool -K {intf} tx off")
            # a tap has carrier only while a process (ssh there, sshd here) holds it open
            if node.rcmd(f"cat /sys/class/net/{intf}/carrier").strip() != "1":
                tunnel.kill()
                raise HermitError(f"the SSH tunnel to {node2.server} is not attached to {intf} "
                                  f"on {node.server} ({shlex.join(argv)})")
            if not self.moveIntf(intf, node):
                raise HermitError(f"cannot move {intf} into {node} on {node.server}")
        return tunnel

    def _record(self, server: str, **objects) -> None:
        if self.record is not None:
            self.record(server, **objects)


LINKS = {"gretap": RemoteGRELink, "vxlan": RemoteVXLANLink, "ssh": ClusterSSHLink}


def tunnel_kind(can_make, wanted: str | None = None) -> str:
    """The first of gretap, vxlan, ssh that every machine can make, or `wanted` (the cluster
    file's `tunnel:`) if every machine can. `can_make(kind)` -> the machines that cannot."""
    missing = {}
    for kind in ((wanted,) if wanted else TUNNEL_KINDS):
        missing[kind] = can_make(kind)
        if not missing[kind]:
            return kind
    if wanted:
        raise HermitError(f"the cluster file asks for {wanted} tunnels, which "
                          f"{', '.join(missing[wanted])} cannot make", field="tunnel")
    raise HermitError("no tunnel kind works on every machine: "
                      + "; ".join(f"{kind} is missing on {', '.join(machines)}"
                                  for kind, machines in missing.items()))


def ssh_probe_argv(ssh: list[str]) -> list[str]:
    """`ssh` (the command that reaches a machine) opening a throwaway Ethernet tunnel: tap
    devices on both ends, gone again when ssh exits; exits at once if the sshd there refuses
    it, else prints @ and stays up with the tunnel."""
    return [*ssh[:-1], "-o", "Tunnel=ethernet", "-o", "ExitOnForwardFailure=yes",
            "-w", "any:any", ssh[-1], "echo @"]


def probe_argv(kind: str, name: str) -> list[str]:
    """A shell command that makes and deletes a throwaway `kind` device named `name`."""
    device = {"gretap": "type gretap local 127.0.0.1 remote 127.0.0.2",
              "vxlan": f"type vxlan id 1 local 127.0.0.1 dstport {VXLAN_PORT}"}[kind]
    return ["sh", "-c", f"ip link add name {name} {device} && ip link del {name}"]
