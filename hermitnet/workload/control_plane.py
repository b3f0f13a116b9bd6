"""When the control plane was gone, and what crossed the border meanwhile (results' control_plane).

The controller's outages come from the run's watchdog (hermitnet.emulation.watchdog) on the run's
clock. The rules that cross the uplink are leased for `lease_s` and renewed every lease_s / 3,
so once the controller is gone the border closes within lease_s; Open vSwitch expires hard
timeouts on its own schedule, so `grace_s` more is allowed. The uplink capture (taken by every
run, hermitnet.workload.observer) is the far side's witness: for each outage, every frame a host
of the national network sent across the uplink while the controller was down, by time.

    crossed           outbound frames while it was down
    forbidden         of those, frames whose source may not reach their destination (must be 0)
    last_crossing_s   seconds after down_at_s of the last one (None: none crossed)
    after_lease       frames later than lease_s + grace_s after down_at_s (must be 0)

`frames()` reads a capture; `summary()` is pure.
"""

from __future__ import annotations

from pathlib import Path

from hermitnet import zones

LEASE_GRACE_S = 1.0     # Open vSwitch looks at hard timeouts about once a second


def frames(pcap: Path, plan, policy, t0_wall: float) -> list[tuple[float, bool]]:
    """(t_s on the run's clock, forbidden) of every frame a national host sent across the
    uplink (its source MAC is a host's on a controlled switch), in capture order. Forbidden:
    by every policy in force at the frame's time (`policy`: the run's policy timeline,
    hermitnet.policy.timeline, or a PolicyState)."""
    from scapy.all import IP, Ether, PcapReader

    from hermitnet.policy import timeline as policy_timeline

    timeline = policy_timeline.of(policy)
    ends = zones.endpoints(plan, timeline.initial)
    by_ip = {e.ip: e for e in ends.values()}
    controlled = {s.name for s in plan.switches if s.controlled}
    national_macs = {h.mac for h in plan.hosts if h.switch in controlled}
    found = []
    with PcapReader(str(pcap)) as reader:
        for packet in reader:
            if Ether not in packet or packet[Ether].src not in national_macs:
                continue
            forbidden = False
            t_s = round(float(packet.time) - t0_wall, 6)
            if IP in packet:
                src = by_ip.get(packet[IP].src) or zones.unlisted(packet[IP].src)
                dst = by_ip.get(packet[IP].dst) or zones.unlisted(packet[IP].dst)
                forbidden = timeline.judge(
                    lambda state, src=src, dst=dst: zones.allowed(src, dst, state),
                    t_s) == "forbidden"
            found.append((t_s, forbidden))
    return found


def summary(outages: list[dict], lease_s: float, uplink_frames: list[tuple[float, bool]] | None,
            grace_s: float = LEASE_GRACE_S, capture_error: str | None = None) -> dict:
    """The results' control_plane block: every controller outage with what crossed during it.

    `uplink_frames` None: the capture could not be read (`capture_error` says why); the
    crossings are then not measured (None), never 0."""
    mine = [dict(o) for o in outages if o["component"] == "controller"]
    for outage in mine:
        outage.pop("component")
        if uplink_frames is None:
            outage.update(crossed=None, forbidden=None, last_crossing_s=None, after_lease=None)
            continue
        end = outage["down_at_s"] + outage["gap_s"] if outage["gap_s"] is not None else None
        during = [(t, bad) for t, bad in uplink_frames
                  if t >= outage["down_at_s"] and (end is None or t <= end)]
        closed_at = outage["down_at_s"] + lease_s + grace_s
        outage["crossed"] = len(during)
        outage["forbidden"] = sum(bad for _, bad in during)
        outage["last_crossing_s"] = (round(during[-1][0] - outage["down_at_s"], 3)
                                     if during else None)
        outage["after_lease"] = sum(t > closed_at for t, _ in during)
    block = {"lease_s": lease_s, "grace_s": grace_s, "outages": mine,
             "down_s": round(sum(o["gap_s"] or 0.0 for o in mine), 3)}
    if capture_error:
        block["capture_error"] = capture_error
    if uplink_frames is not None:
        block["border_closed"] = all(o["after_lease"] == 0 and o["forbidden"] == 0
                                     for o in mine)
    return block
