"""A userspace delay line: delay, jitter and loss on kernels without netem.

Each shaped link end (a veth) gets a bump in the wire on its egress, before its HTB qdisc:

    frame sent on X -> clsact egress on X: a classic-BPF filter matches every frame *without*
    the delay line's mark and mirred-redirects it to a TAP device -> the delay process reads it
    from the TAP, decides drop or departure time, and at that time sends it on X through an
    AF_PACKET socket whose frames carry the mark -> the filter lets them pass -> HTB -> veth.

So the order is netem's under HTB: the OpenFlow meters (in the switch, before the port) first,
then delay, jitter and loss, then the HTB rate. Delay applies to each end's egress, like netem,
so a link of delay_ms adds 2 * delay_ms to a round trip across it.

Jitter: departure = arrival + delay_ms + N(0, jitter_ms), the normal distribution truncated at
zero (netem's "distribution normal" uses jitter_ms as its sigma too). Frames whose draws cross
leave in departure order, so jitter reorders, as netem does; with no_reorder a frame never
leaves before the one read before it (departure = max(previous departure, drawn)), which keeps
the order at the price of a delay that is skewed upwards. Loss is Bernoulli per frame, drawn
from a seeded generator, one per direction. A direction holds at most QUEUE_LIMIT frames (netem's
default limit); more are dropped and counted.

Departures wake the loop through a timerfd. Waking up takes time (0.2-0.3 ms on a loaded
2-core VM even at real-time priority), so the timer fires early by an advance learnt from the
measured lateness of sends (an integral controller: mean lateness goes to zero, at most 2 ms).

One process serves every link end of a run with one epoll loop; the TAP devices are not
persistent, so they vanish with the process, and SIGTERM removes the clsact filters first.
`start()` runs it as `python -m hermitnet.emulation.delayline` with its configuration on stdin;
it prints "ready" on stdout once every end is attached and its counters as JSON when it stops.

`plan()` and `Direction` are pure; only `DelayLine` touches sockets.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import heapq
import json
import math
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from hermitnet.errors import HermitError

MARK = 0x48_4E_44_4C       # "HNDL": frames the delay line sends; the filter lets them pass
QUEUE_LIMIT = 1000         # frames held per direction (netem's default limit)
RT_PRIORITY = 10           # SCHED_FIFO priority of the delay process
MAX_ADVANCE_S = 0.002         # the timer fires at most this much before a departure ...
ADVANCE_GAIN = 0.05           # ... by an advance that follows the measured lateness of sends
READ_BATCH = 64            # frames read from one TAP before departures are served again

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SKF_AD_MARK = 0xFFFFF000 + 20   # classic BPF ancillary load of skb->mark
CLONE_NEWNET = 0x40000000
CLOCK_MONOTONIC = 1
TFD_NONBLOCK = 0o4000
TFD_CLOEXEC = 0o2000000
TFD_TIMER_ABSTIME = 1


# -- pure scheduling core --------------------------------------------------------------------

@dataclass(frozen=True)
class EndSpec:
    """One link end the delay line serves: frames leaving `intf` (in `node`'s namespace)."""

    intf: str
    node: str                # "" for the root namespace (switch ends)
    tap: str                 # the TAP device the frames are redirected to (same namespace)
    delay_ms: float
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    no_reorder: bool = False
    seed: int = 0


class Direction:
    """Departure times and drop decisions of the frames leaving one link end."""

    def __init__(self, delay_ms: float, jitter_ms: float = 0.0, loss_pct: float = 0.0,
                 no_reorder: bool = False, seed: int = 0):
        if delay_ms < 0 or jitter_ms < 0 or not 0 <= loss_pct <= 100:
            raise ValueError(f"delay_ms={delay_ms}, jitter_ms={jitter_ms}, loss_pct={loss_pct}")
        self.delay_s = delay_ms / 1000
        self.jitter_s = jitter_ms / 1000
        self.loss = loss_pct / 100
        self.no_reorder = no_reorder
        self._loss_rng = random.Random(seed * 2 + 1)
        self._jitter_rng = random.Random(seed * 2)
        self._last_departure = -math.inf

    def departure(self, now: float) -> float | None:
        """When a frame read at `now` leaves, or None if it is lost."""
        if self.loss and self._loss_rng.random() < self.loss:
            return None
        delay = self.delay_s
        if self.jitter_s:
            delay = max(0.0, self._jitter_rng.gauss(delay, self.jitter_s))
        departure = now + delay
        if self.no_reorder:
            departure = max(departure, self._last_departure)
            self._last_departure = departure
        return departure


def loss_in_delay_line(link, plan, nft: bool) -> bool:
    """Whether the delay line drops a link's loss_pct (else the nftables drop in the host does).

    The same rule as shaping.plan_link's: nftables takes the loss of access links when it can,
    because a phone's air-link loss changes at run time there; the delay line takes the rest.
    """
    host_names = {h.name for h in plan.hosts}
    has_host_end = link.a in host_names or link.b in host_names
    return bool(link.spec.loss_pct) and not (has_host_end and nft)


def plan(run_plan, *, nft: bool, seed: int = 0) -> list[EndSpec]:
    """The link ends of a run the delay line serves: both ends of every link with delay, jitter
    or loss that netem would have taken."""
    hosts = {h.name: h.node for h in run_plan.hosts}
    nodes = {**{s.name: s.node for s in run_plan.switches}, **hosts}
    ends = []
    for link in run_plan.links:
        spec = link.spec
        loss_pct = spec.loss_pct if loss_in_delay_line(link, run_plan, nft) else 0.0
        if not (spec.delay_ms or spec.jitter_ms or loss_pct):
            continue
        for name, port in ((link.a, link.a_port), (link.b, link.b_port)):
            index = len(ends)
            ends.append(EndSpec(
                intf=f"{nodes[name]}-eth{port}", node=nodes[name] if name in hosts else "",
                tap=f"{run_plan.prefix}d{index}", delay_ms=spec.delay_ms,
                jitter_ms=spec.jitter_ms, loss_pct=loss_pct, no_reorder=spec.no_reorder,
                seed=seed * 100_003 + index))
    return ends


def filter_bytecode(mark: int = MARK) -> str:
    """cBPF for tc's bpf classifier: match (-1) every frame whose skb mark is not `mark`."""
    program = [(0x20, 0, 0, SKF_AD_MARK),     # ld mark
               (0x15, 1, 0, mark),            # jeq #mark, skip the next
               (0x06, 0, 0, 0xFFFFFFFF),      # ret -1: match, redirect
               (0x06, 0, 0, 0)]               # ret 0: no match, on to the qdisc
    return ",".join([str(len(program))] + [" ".join(map(str, op)) for op in program])


def attach_cmds(intf: str, tap: str) -> list[list[str]]:
    return [["tc", "qdisc", "replace", "dev", intf, "clsact"],
            ["tc", "filter", "replace", "dev", intf, "egress", "prio", "1", "handle", "1",
             "protocol", "all", "bpf", "bytecode", filter_bytecode(),
             "action", "mirred", "egress", "redirect", "dev", tap]]


def detach_cmd(intf: str) -> list[str]:
    return ["tc", "qdisc", "del", "dev", intf, "clsact"]


# -- the process -----------------------------------------------------------------------------

@dataclass
class Counters:
    forwarded: int = 0
    lost: int = 0
    queue_full: int = 0
    send_errors: int = 0
    late_us_total: float = 0.0    # sum over forwarded frames of (sent - departure time)


@dataclass
class _End:
    spec: EndSpec
    direction: Direction
    tap_fd: int
    sock: socket.socket
    held: int = 0
    counters: Counters = field(default_factory=Counters)


_LIBC = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


class DelayLine:
    """The delay process: attach every end, then forward frames at their departure times."""

    def __init__(self, ends: list[EndSpec], netns: dict[str, str]):
        """`netns` names each end's node's namespace file (/proc/PID/ns/net)."""
        self.specs = ends
        self.netns = netns
        self.ends: list[_End] = []
        self.by_fd: dict[int, _End] = {}
        self.heap: list[tuple[float, int, int, bytes]] = []
        self.sequence = 0
        self.advance_s = 0.0        # how early the timer fires: the wake-up latency, learnt
        self.running = True
        self.root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)

    def attach(self) -> None:
        for spec in self.specs:
            path = self.netns.get(spec.node)
            target = os.open(path, os.O_RDONLY) if path else None
            try:
                if target is not None:
                    _setns(target)
                self._attach_here(spec)
            finally:
                if target is not None:
                    _setns(self.root_ns)
                    os.close(target)

    def _attach_here(self, spec: EndSpec) -> None:
        tap_fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(tap_fd, TUNSETIFF, struct.pack("16sH", spec.tap.encode(), IFF_TAP | IFF_NO_PI))
        # The TAP's own stack must send nothing (IPv6 autoconfiguration): all it carries is
        # what the filter redirects to it.
        with open(f"/proc/sys/net/ipv6/conf/{spec.tap}/disable_ipv6", "w") as knob:
            knob.write("1")
        _check(["ip", "link", "set", "dev", spec.tap, "arp", "off", "multicast", "off", "up"])
        # Protocol 0: the socket only sends, it receives nothing.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
        sock.bind((spec.intf, 0))
        sock.setblocking(False)
        for argv in attach_cmds(spec.intf, spec.tap):
            _check(argv)
        end = _End(spec, Direction(spec.delay_ms, spec.jitter_ms, spec.loss_pct,
                                   spec.no_reorder, spec.seed), tap_fd, sock)
        self.ends.append(end)
        self.by_fd[tap_fd] = end

    def detach(self) -> None:
        """Remove the filters (frames flow undelayed again), then close the TAPs."""
        for end in self.ends:
            path = self.netns.get(end.spec.node)
            try:
                target = os.open(path, os.O_RDONLY) if path else None
            except OSError:       # the host is gone, and its links with it
                target = None
                if path:
                    continue
            try:
                if target is not None:
                    _setns(target)
                subprocess.run(detach_cmd(end.spec.intf), capture_output=True, timeout=10)
            finally:
                if target is not None:
                    _setns(self.root_ns)
                    os.close(target)
        for end in self.ends:
            os.close(end.tap_fd)
            end.sock.close()

    def counters(self) -> dict:
        return {e.spec.intf: asdict(e.counters) for e in self.ends}

    def run(self) -> None:
        """Until stop(): serve departures that are due, sleep until the next one or a frame."""
        poller = select.epoll()
        for fd in self.by_fd:
            poller.register(fd, select.EPOLLIN)
        timer = Timer()
        poller.register(timer.fd, select.EPOLLIN)
        monotonic = time.monotonic
        heap = self.heap
        armed = None
        while self.running:
            now = monotonic()
            while heap and heap[0][0] - self.advance_s <= now:
                departure, _, fd, frame = heapq.heappop(heap)
                self._send(self.by_fd[fd], frame, departure)
            if heap and heap[0][0] - self.advance_s != armed:
                armed = heap[0][0] - self.advance_s
                timer.arm(armed)
            try:
                events = poller.poll(0.5)
            except InterruptedError:
                continue
            for fd, _ in events:
                if fd == timer.fd:
                    timer.clear()
                    armed = None
                else:
                    self._read(self.by_fd[fd])
        poller.close()
        timer.close()

    def _read(self, end: _End) -> None:
        for _ in range(READ_BATCH):
            try:
                frame = os.read(end.tap_fd, 65536)
            except BlockingIOError:
                return
            now = time.monotonic()
            departure = end.direction.departure(now)
            if departure is None:
                end.counters.lost += 1
                continue
            if end.held >= QUEUE_LIMIT:
                end.counters.queue_full += 1
                continue
            end.held += 1
            self.sequence += 1
            heapq.heappush(self.heap, (departure, self.sequence, end.tap_fd, frame))

    def _send(self, end: _End, frame: bytes, departure: float) -> None:
        end.held -= 1
        try:
            end.sock.send(frame)
            end.counters.forwarded += 1
            late_s = time.monotonic() - departure
            end.counters.late_us_total += 1e6 * late_s
            self.advance_s = min(MAX_ADVANCE_S, max(0.0, self.advance_s + ADVANCE_GAIN * late_s))
        except OSError as error:    # ENOBUFS under HTB backlog, ENXIO with the link going
            if error.errno not in (errno.ENOBUFS, errno.EAGAIN, errno.ENXIO, errno.ENETDOWN):
                raise
            end.counters.send_errors += 1

    def stop(self, *_args) -> None:
        self.running = False


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class Timer:
    """A timerfd on CLOCK_MONOTONIC (time.monotonic's clock): epoll wakes at a departure to the
    microsecond, where epoll's own timeout rounds up to whole milliseconds."""

    def __init__(self):
        self.fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create")

    def arm(self, at: float) -> None:
        seconds = int(at)
        spec = _Itimerspec(_Timespec(0, 0),
                           _Timespec(seconds, max(1, int((at - seconds) * 1e9))))
        if _LIBC.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 8)

    def close(self) -> None:
        os.close(self.fd)


def _check(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if done.returncode != 0 or done.stderr.strip():
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")


def realtime() -> bool:
    """Run at a real-time priority, as netem runs in the kernel's softirq: on a busy machine a
    normal process wakes up milliseconds late, which every frame would add to its delay. The
    kernel's RT throttling leaves the rest of the machine 5 % of each core at worst."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
    except OSError as error:
        print(f"delay line: no real-time priority ({error}); delays will be late under load",
              file=sys.stderr, flush=True)
        return False
    return True


def config_json(ends: list[EndSpec], netns: dict[str, str]) -> str:
    return json.dumps({"ends": [asdict(e) for e in ends], "netns": netns})


def start(ends: list[EndSpec], netns: dict[str, str], manifest=None, timeout_s: float = 20
          ) -> subprocess.Popen:
    """Start the delay process for `ends`, recorded in a run's `manifest` (with the
    root-namespace TAPs) before it creates anything; returns once every end is attached.

    `netns` maps each host node of `ends` to its namespace file. The caller stops the process
    (SIGTERM); the manifest's cleanup does if the caller cannot.
    """
    if manifest is not None:
        manifest.add_interfaces([e.tap for e in ends if not e.node])
    process = subprocess.Popen(
        [sys.executable, "-m", "hermitnet.emulation.delayline"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    if manifest is not None:
        manifest.add_process(process.pid, f"delay line for {len(ends)} link ends")
    process.stdin.write(config_json(ends, netns) + "\n")
    process.stdin.close()
    process.stdin = None      # so that communicate() does not flush it
    answer = select.poll()      # not select(): a runner of 1,000 hosts holds fds above 1023
    answer.register(process.stdout, select.POLLIN)
    ready = answer.poll(timeout_s * 1000)
    line = process.stdout.readline().strip() if ready else ""
    if line != "ready":
        process.kill()
        _, err = process.communicate(timeout=10)
        raise HermitError(f"the delay line did not start: {err.strip() or 'no answer'}")
    return process


def main(argv: list[str]) -> int:
    """Read the configuration (config_json) from stdin, attach, forward until SIGTERM."""
    if argv:
        print("usage: python -m hermitnet.emulation.delayline < CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(sys.stdin.readline())
    line = DelayLine([EndSpec(**e) for e in config["ends"]], config["netns"])
    signal.signal(signal.SIGTERM, line.stop)
    signal.signal(signal.SIGINT, line.stop)
    realtime()
    try:
        line.attach()
        print("ready", flush=True)
        line.run()
    finally:
        line.detach()
        print(json.dumps(line.counters()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
