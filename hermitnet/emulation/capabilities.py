"""What this machine can emulate: detected, never assumed, and recorded in every result."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata


@dataclass(frozen=True)
class Capabilities:
    root: bool
    ovs_running: bool
    ovs: str | None               # "Open vSwitch 3.1.0"
    kernel_datapath: bool         # the openvswitch kernel module is loaded
    netem: bool
    htb: bool
    nft: bool                     # nftables with numgen (loss without netem)
    mininet: str | None
    controller: str | None        # "ryu 4.34"
    iperf3: str | None
    scapy: str | None
    kernel: str
    problems: tuple[str, ...] = field(default=())
    dnsmasq: str | None = None    # the emulated resolvers ("dnsmasq 2.90")
    dig: str | None = None        # the fetches' DNS lookups ("dig 9.18.49")
    # The userspace delay line (emulation/delayline.py): TAP devices, tc clsact with the bpf
    # classifier and mirred redirect, AF_PACKET. delay_line_request: "auto", "netem", "userspace".
    userspace_delay: bool = False
    delay_line_request: str = "auto"

    @property
    def datapath(self) -> str:
        return "kernel" if self.kernel_datapath else "userspace"

    @property
    def delay_line(self) -> str | None:
        """What emulates delay, jitter and loss: "netem", "userspace" or None (nothing)."""
        netem = "netem" if self.netem else None
        userspace = "userspace" if self.userspace_delay else None
        if self.delay_line_request == "netem":
            return netem
        if self.delay_line_request == "userspace":
            return userspace
        return netem or userspace

    def to_dict(self) -> dict:
        return {**asdict(self), "datapath": self.datapath, "delay_line": self.delay_line,
                "problems": list(self.problems)}


DELAY_LINES = ("auto", "netem", "userspace")


def detect(delay_line: str = "auto") -> Capabilities:
    """What this machine has; `delay_line` asks for netem or the userspace delay line."""
    if delay_line not in DELAY_LINES:
        raise ValueError(f"delay_line: expected one of {', '.join(DELAY_LINES)}, "
                         f"got {delay_line!r}")
    problems = []
    root = os.geteuid() == 0
    if not root:
        problems.append("not root: emulation needs root (run with sudo)")
    ovs_version = _first_line(["ovs-vsctl", "--version"])
    ovs_running = ovs_version is not None and _ok(["ovs-vsctl", "--timeout=3", "show"])
    if ovs_version is None:
        problems.append("Open vSwitch is not installed (run: make setup)")
    elif not ovs_running:
        problems.append("Open vSwitch is not running "
                        "(start it: /usr/share/openvswitch/scripts/ovs-ctl start)")
    mininet = _mininet_version()
    if mininet is None:
        problems.append("Mininet is not importable (run: make setup)")
    controller = _dist_version("ryu")
    if controller is None:
        problems.append("the controller runtime (ryu) is not installed (run: make setup)")
    iperf3 = _first_line(["iperf3", "--version"])
    if iperf3 is None:
        problems.append("iperf3 is not installed (run: make setup)")
    dnsmasq = _version_word(_first_line(["dnsmasq", "--version"]), "dnsmasq")
    dig = _version_word(_first_line(["dig", "-v"]), "dig")
    for tool, found, package in (("dnsmasq", dnsmasq, "dnsmasq-base"),
                                 ("dig", dig, "bind9-dnsutils")):
        if found is None:
            problems.append(f"{tool} is not installed: the emulated DNS needs it (run: make "
                            f"setup, or apt-get install {package})")
    netem = root and _probe_qdisc("netem delay 1ms")
    userspace_delay = root and _probe_delay_line()
    if delay_line == "netem" and not netem:
        problems.append("--delay-line netem: the kernel has no netem qdisc")
    if delay_line == "userspace" and not userspace_delay:
        problems.append("--delay-line userspace: needs /dev/net/tun and tc clsact with the bpf "
                        "classifier and the mirred action")
    return Capabilities(
        root=root,
        ovs_running=ovs_running,
        ovs=_ovs_short(ovs_version),
        kernel_datapath=os.path.isdir("/sys/module/openvswitch"),
        netem=netem,
        htb=root and _probe_qdisc("htb default 1"),
        nft=root and _probe_nft(),
        mininet=mininet,
        controller=f"ryu {controller}" if controller else None,
        iperf3=_iperf3_short(iperf3),
        scapy=_dist_version("scapy"),
        dnsmasq=dnsmasq,
        dig=dig,
        kernel=platform.release(),
        problems=tuple(problems),
        userspace_delay=userspace_delay,
        delay_line_request=delay_line,
    )


def describe(caps: Capabilities) -> tuple[list[str], list[str]]:
    """(what a run will emulate, what it will not and why), in words for people."""
    will, will_not = [], []
    if caps.kernel_datapath:
        will.append("switches: Open vSwitch, kernel datapath")
    else:
        will.append("switches: Open vSwitch, userspace datapath (no openvswitch kernel module); "
                    "TX checksum offload is turned off on every link so TCP works")
    if caps.htb:
        will.append("link rates: HTB shaping (bw_mbps)")
    else:
        will_not.append("link rates (bw_mbps): the kernel has no HTB qdisc")
    if caps.delay_line == "netem":
        will.append("delay, jitter and loss: netem")
    elif caps.delay_line == "userspace":
        why = "netem not used (--delay-line userspace)" if caps.netem else "no netem"
        loss = "loss on switch-to-switch links" if caps.nft else "loss"
        will.append(f"delay, jitter and {loss}: the userspace delay line, one process, on the "
                    f"egress of every shaped link end before HTB ({why}; jitter: normal, "
                    "truncated at 0, reorders)")
        if caps.nft:
            will.append("loss on access links: nftables random drop on the host's interface "
                        "(netdev egress and ingress hooks; no netem)")
    else:
        will_not.append("delay_ms and jitter_ms: the kernel has no netem qdisc")
        if caps.nft:
            will.append("loss on access links: nftables random drop on the host's interface "
                        "(netdev egress and ingress hooks; no netem)")
            will_not.append("loss_pct on switch-to-switch links (uplink, backhaul): needs netem")
        else:
            will_not.append("loss_pct: neither netem nor nftables netdev egress hooks "
                            "(Linux >= 5.16) are available")
    will.append("tier rate limits: OpenFlow meters, one per subscriber (checked on the run's "
                "bridges; a run says if the datapath has none)")
    return will, will_not


def max_meters(bridge: str) -> int | None:
    """How many OpenFlow meters `bridge` offers (0: tier rate limits cannot be enforced)."""
    result = _run(["ovs-ofctl", "-O", "OpenFlow13", "--timeout=5", "meter-features", bridge])
    if result is None or result.returncode != 0:
        return None
    match = re.search(r"max_meter:(\d+)", result.stdout)
    return int(match.group(1)) if match else None


def probe_meters(kernel_datapath: bool) -> int | None:
    """Meters on a throwaway bridge of this machine's datapath type, removed afterwards."""
    bridge = f"hnprobe{os.getpid() % 100000}"
    datapath = "system" if kernel_datapath else "netdev"
    if not _ok(["ovs-vsctl", "--timeout=10", "add-br", bridge, "--", "set", "bridge", bridge,
                f"datapath_type={datapath}", "protocols=OpenFlow13", "fail_mode=secure"]):
        return None
    try:
        return max_meters(bridge)
    finally:
        _ok(["ovs-vsctl", "--timeout=10", "--if-exists", "del-br", bridge])
        if os.path.exists(f"/sys/class/net/{bridge}"):
            _ok(["ip", "link", "del", bridge])


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, **kw)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _ok(argv: list[str], **kw) -> bool:
    result = _run(argv, **kw)
    return result is not None and result.returncode == 0


def _version_word(line: str | None, tool: str) -> str | None:
    """'Dnsmasq version 2.90  Copyright...' / 'DiG 9.18.49-1~deb12u3-Debian' -> 'TOOL 2.90'."""
    if line is None:
        return None
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", line)
    return f"{tool} {match.group(1)}" if match else tool


def _first_line(argv: list[str]) -> str | None:
    result = _run(argv)
    if result is None or result.returncode != 0:
        return None
    return (result.stdout or result.stderr).strip().splitlines()[0]


def _probe_qdisc(qdisc: str) -> bool:
    """Add the qdisc to lo in a throwaway network namespace (gone when the command exits)."""
    return _ok(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", *qdisc.split()])


def _probe_delay_line() -> bool:
    """What the userspace delay line needs, tried on lo in a throwaway network namespace."""
    from hermitnet.emulation.delayline import attach_cmds

    if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        return False
    script = " && ".join(" ".join(f"'{a}'" for a in argv) for argv in attach_cmds("lo", "lo"))
    return _ok(["unshare", "--net", "sh", "-c", script])


def _probe_nft() -> bool:
    """nftables with netdev egress/ingress hooks and numgen (Linux >= 5.16): loss without netem."""
    script = (
        "table netdev probe {\n"
        '  chain e { type filter hook egress device "lo" priority 0; '
        "numgen random mod 100 < 1 drop; }\n"
        '  chain i { type filter hook ingress device "lo" priority 0; '
        "numgen random mod 100 < 1 drop; }\n"
        "}\n"
    )
    return _ok(["unshare", "--net", "nft", "-f", "-"], input=script)


def _mininet_version() -> str | None:
    try:
        from mininet.net import VERSION
    except ImportError:
        return None
    return VERSION


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _ovs_short(line: str | None) -> str | None:
    match = re.search(r"(\d+\.\d+\.\d+)", line or "")
    return f"Open vSwitch {match.group(1)}" if match else None


def _iperf3_short(line: str | None) -> str | None:
    match = re.search(r"iperf (\d+\.\d+(?:\.\d+)?)", line or "")
    return f"iperf3 {match.group(1)}" if match else None
