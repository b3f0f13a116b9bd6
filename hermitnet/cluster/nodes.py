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
- `tunnel_kind()`: gretap where every machine's kernel has it, else VXLAN.
"""

from __future__ import annotations

import shlex
import subprocess

from mininet.examples.cluster import RemoteGRELink, RemoteHost, RemoteMixin, RemoteOVSSwitch
from mininet.util import quietRun

from hermitnet.emulation.network import HermitSwitch
from hermitnet.errors import HermitError

TUNNEL_MTU = 1450        # 1500 - VXLAN's 50 bytes (outer IPv4 20, UDP 8, VXLAN 8, Ethernet 14)
VXLAN_PORT = 4789


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


LINKS = {"gretap": RemoteGRELink, "vxlan": RemoteVXLANLink}


def tunnel_kind(can_make) -> str:
    """gretap if every machine's kernel makes a gretap device, else vxlan if every one makes a
    VXLAN device. `can_make(kind)` -> list of machines that cannot make a `kind` device."""
    missing = {}
    for kind in ("gretap", "vxlan"):
        missing[kind] = can_make(kind)
        if not missing[kind]:
            return kind
    raise HermitError("no tunnel kind works on every machine: gretap is missing on "
                      f"{', '.join(missing['gretap'])}, vxlan on {', '.join(missing['vxlan'])}")


def probe_argv(kind: str, name: str) -> list[str]:
    """A shell command that makes and deletes a throwaway `kind` device named `name`."""
    device = {"gretap": "type gretap local 127.0.0.1 remote 127.0.0.2",
              "vxlan": f"type vxlan id 1 local 127.0.0.1 dstport {VXLAN_PORT}"}[kind]
    return ["sh", "-c", f"ip link add name {name} {device} && ip link del {name}"]
