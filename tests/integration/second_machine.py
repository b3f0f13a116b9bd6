"""A second "machine" on this one, for the cluster tests: its own network, /run, sshd and OVS.

    with SecondMachine(tmp_path / "m2") as machine:
        machine.ssh(["ovs-vsctl", "show"])     # runs inside it, as root, over SSH

It is a named network namespace plus a mount namespace with a fresh tmpfs on /run (so its
Open vSwitch database socket, its OpenFlow management sockets, its sshd privilege-separation
directory and its hermitnet state directory are its own), holding:

- one end of a veth pair, 100.64.250.2/30; the other end, 100.64.250.1/30, in this machine's
  root namespace. Reserved (shared address space) addresses on a link of its own: the machine's
  real interfaces are never used, and nothing routes these addresses anywhere else;
- an sshd listening on 100.64.250.2 only, which accepts only a key made for this machine (the
  key and the known-hosts file live in the machine's folder; root's own ~/.ssh is not touched);
- ovsdb-server and ovs-vswitchd of its own (database in the machine's folder); bridges there
  use the userspace datapath as here.

Every process of the machine shares its mount namespace: stopping the machine kills every
process in that mount namespace, deletes the network namespace (and with it every interface
in it) and the veth pair; `leftovers()` says what would remain.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

LOCAL_IP = "100.64.250.1"
REMOTE_IP = "100.64.250.2"
PREFIX_LEN = 30


class SecondMachine:
    def __init__(self, folder: Path, name: str = "hncm2"):
        self.folder = Path(folder)
        self.name = name                       # network namespace; veth <name>a / <name>b
        self.local_intf = f"{name}a"
        self.key = self.folder / "id_ed25519"
        self.known_hosts = self.folder / "known_hosts"
        self.holder: subprocess.Popen | None = None
        self.mount_ns: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> SecondMachine:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def ssh_options(self) -> list[str]:
        """What an ssh client needs to reach this machine (the Cluster Edition's ssh too)."""
        return ["-o", f"IdentityFile={self.key}", "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)])
        host_key = self.folder / "host_key"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)])
        (self.folder / "authorized_keys").write_text(
            (self.folder / "id_ed25519.pub").read_text())
        self.known_hosts.write_text(
            f"{REMOTE_IP} {(self.folder / 'host_key.pub').read_text().split(' ', 2)[0]} "
            f"{(self.folder / 'host_key.pub').read_text().split(' ', 2)[1]}\n")
        (self.folder / "sshd_config").write_text(_sshd_config(self.folder))
        db = self.folder / "conf.db"
        _run(["ovsdb-tool", "create", str(db), "/usr/share/openvswitch/vswitch.ovsschema"])

        _run(["ip", "netns", "add", self.name])
        _run(["ip", "link", "add", self.local_intf, "type", "veth", "peer", "name",
              f"{self.name}b", "netns", self.name])
        _run(["ip", "addr", "add", f"{LOCAL_IP}/{PREFIX_LEN}", "dev", self.local_intf])
        _run(["ip", "link", "set", self.local_intf, "up"])
        inside = ["ip", "netns", "exec", self.name]
        _run([*inside, "ip", "addr", "add", f"{REMOTE_IP}/{PREFIX_LEN}", "dev", f"{self.name}b"])
        _run([*inside, "ip", "link", "set", f"{self.name}b", "up"])
        _run([*inside, "ip", "link", "set", "lo", "up"])
        # TX checksum offload off: the veth would otherwise hand the tunnel unfinished checksums.
        for argv in (["ethtool", "-K", self.local_intf, "tx", "off"],
                     [*inside, "ethtool", "-K", f"{self.name}b", "tx", "off"]):
            _run(argv)

        boot = "\n".join([
            "set -e",
            "mount -t tmpfs -o mode=0755 tmpfs /run",
            "mkdir -p /run/sshd /run/openvswitch /run/hermitnet",
            f"ovsdb-server {shlex.quote(str(db))} --remote=punix:/run/openvswitch/db.sock "
            "--pidfile=/run/openvswitch/ovsdb-server.pid --detach "
            f"--log-file={shlex.quote(str(self.folder / 'ovsdb-server.log'))}",
            "ovs-vsctl --no-wait init",
            "ovs-vswitchd unix:/run/openvswitch/db.sock "
            "--pidfile=/run/openvswitch/ovs-vswitchd.pid --detach "
            f"--log-file={shlex.quote(str(self.folder / 'ovs-vswitchd.log'))}",
            f"exec /usr/sbin/sshd -D -e -f {shlex.quote(str(self.folder / 'sshd_config'))}",
        ])
        log = open(self.folder / "holder.log", "wb")  # noqa: SIM115 - lives with the holder
        self.holder = subprocess.Popen(
            [*inside, "unshare", "--mount", "--propagation", "private", "sh", "-c", boot],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while True:
            if self.holder.poll() is not None:
                raise RuntimeError("the second machine did not start:\n"
                                   + (self.folder / "holder.log").read_text())
            done = self.ssh(["ovs-vsctl", "--timeout=2", "show"], check=False, timeout=5)
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the second machine's sshd/OVS did not answer within 20 s:\n"
                                   + done.stderr + (self.folder / "holder.log").read_text())
            time.sleep(0.3)
        self.mount_ns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")

    def ssh(self, argv: list[str], *, check: bool = True, timeout: float = 60,
            input_text: str | None = None) -> subprocess.CompletedProcess:
        """Run argv inside the machine, over SSH, as root."""
        done = subprocess.run(["ssh", *self.ssh_options(), f"root@{REMOTE_IP}",
                               shlex.join(argv)], capture_output=True, text=True,
                              timeout=timeout, input=input_text)
        if check and done.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} on the second machine: {done.stderr}")
        return done

    def processes(self) -> list[int]:
        """Every process of the machine (same mount namespace as its holder)."""
        if self.mount_ns is None:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/ns/mnt") == self.mount_ns:
                        found.append(int(entry))
        return found

    def daemons(self) -> list[int]:
        """The machine's own sshd (the holder execs it) and Open vSwitch daemons."""
        if self.holder is None:
            return []
        found = [self.holder.pid]
        run = Path(f"/proc/{self.holder.pid}/root/run/openvswitch")   # its /run, seen from here
        for name in ("ovsdb-server.pid", "ovs-vswitchd.pid"):
            with contextlib.suppress(OSError, ValueError):
                found.append(int((run / name).read_text().strip()))
        return found

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 3
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.holder is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.holder.wait(timeout=3)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.local_intf], capture_output=True)

    def leftovers(self) -> list[str]:
        found = [f"process {pid}" for pid in self.processes()]
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        found += [f"namespace {self.name}" for line in names.splitlines()
                  if line.split() and line.split()[0] == self.name]
        if Path(f"/sys/class/net/{self.local_intf}").exists():
            found.append(f"interface {self.local_intf}")
        return found


def _sshd_config(folder: Path) -> str:
    return "\n".join([
        f"ListenAddress {REMOTE_IP}",
        f"HostKey {folder / 'host_key'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PidFile /run/sshd.pid",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "UseDNS no",
        "StrictModes no",
        "PermitTunnel yes",             # the SSH-tunnel fallback (ssh -w) needs it
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "MaxSessions 200",
        "MaxStartups 200",
        "",
    ])


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)}: {done.stderr.strip()}")
