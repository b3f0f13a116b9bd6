"""A fake OpenFlow 1.3 network that runs compiled rules on a packet and says where it goes.

After Faucet's FakeOFTable (clib/fakeoftable.py): tests ask where a packet ends up, not what the
rules say. `FakeSwitch` applies flow entries the way an OpenFlow 1.3 switch does (tables from 0,
highest priority wins, masked matches, write-metadata with mask, meter, apply-actions output,
goto-table; a table miss with no miss entry drops). Two matching entries of equal priority are an
error (OpenFlow leaves the choice undefined). Entries come either from hermitnet.policy.compile.Rule
objects (`from_rules`) or from OpenFlow 1.3 FlowMod messages parsed back from the bytes the
controller app serializes (`from_flow_mods`), so both the compiler and the app's translation can
be put through the same packets.

`FakeNetwork` joins one FakeSwitch per controlled switch along the plan's links and follows a
packet from the host that sends it to the host that receives it (or to where it is dropped). The
switch outside the national controller (the global zone) is modelled as what it is: a learning
switch that delivers to its hosts and sends everything else up the uplink (with several, the
first that is up: where the border's traffic comes from). An uplink in `uplinks_down` carries
nothing either way.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hermitnet.policy.compile import decode_cookie

IPV4 = 0x0800


@dataclass(frozen=True)
class Entry:
    table: int
    priority: int
    match: dict
    cookie: int
    meter: int | None = None
    output: int | None = None
    metadata: tuple[int, int] | None = None   # (value, mask) written
    goto: int | None = None


@dataclass
class Hop:
    switch: str
    in_port: int
    tables: list[tuple[int, str]] = field(default_factory=list)  # (table, decision)
    meters: list[int] = field(default_factory=list)
    output: int | None = None

    @property
    def decision(self) -> str:
        """The last decision taken on this switch (the one that dropped it, if dropped)."""
        return self.tables[-1][1] if self.tables else "no entry"


def _field_matches(name: str, want, have) -> bool:
    if have is None:
        return False
    if name in ("ipv4_src", "ipv4_dst"):
        if isinstance(want, tuple):
            network = ipaddress.ip_network(f"{want[0]}/{want[1]}", strict=True)
            return ipaddress.ip_address(have) in network
        return ipaddress.ip_address(have) == ipaddress.ip_address(want)
    if isinstance(want, tuple):
        value, mask = want
        return have & mask == value & mask
    return have == want


class FakeSwitch:
    def __init__(self, name: str, entries: list[Entry], meters: set[int] | None = None):
        self.name = name
        self.entries = entries
        self.meters = meters if meters is not None else None

    @classmethod
    def from_rules(cls, name: str, rules, meters=()) -> FakeSwitch:
        entries = [Entry(r.table, r.priority, dict(r.match), r.cookie, r.meter, r.output,
                         None if r.metadata is None else (r.metadata, 0xFF), r.goto)
                   for r in rules]
        return cls(name, entries, {m.meter_id for m in meters})

    @classmethod
    def from_flow_mods(cls, name: str, messages) -> FakeSwitch:
        """Apply parsed OpenFlow 1.3 FlowMod/MeterMod messages in order (add, delete, strict)."""
        switch = cls(name, [], set())
        for msg in messages:
            switch.apply_message(msg)
        return switch

    def apply_message(self, msg) -> None:
        ofp = msg.datapath.ofproto
        kind = type(msg).__name__
        if kind == "OFPBarrierRequest":
            return
        if kind == "OFPMeterMod":
            if msg.command == ofp.OFPMC_DELETE:
                if msg.meter_id == ofp.OFPM_ALL:
                    self.meters.clear()
                else:
                    self.meters.discard(msg.meter_id)
            elif msg.command == ofp.OFPMC_ADD:
                if msg.meter_id in self.meters:
                    raise AssertionError(f"{self.name}: meter {msg.meter_id} added twice")
                self.meters.add(msg.meter_id)
            elif msg.command == ofp.OFPMC_MODIFY and msg.meter_id not in self.meters:
                raise AssertionError(f"{self.name}: modify of unknown meter {msg.meter_id}")
            return
        if kind != "OFPFlowMod":
            raise AssertionError(f"{self.name}: unsupported message {kind}")
        match = dict(msg.match.items())
        if msg.command == ofp.OFPFC_DELETE and msg.table_id == ofp.OFPTT_ALL and not match:
            self.entries.clear()
            return
        if msg.command == ofp.OFPFC_DELETE_STRICT:
            self.entries = [e for e in self.entries if not (
                e.table == msg.table_id and e.priority == msg.priority and e.match == match)]
            return
        if msg.command != ofp.OFPFC_ADD:
            raise AssertionError(f"{self.name}: unsupported flow mod command {msg.command}")
        entry = Entry(msg.table_id, msg.priority, match, msg.cookie)
        changes: dict = {}
        for inst in msg.instructions:
            inst_kind = type(inst).__name__
            if inst_kind == "OFPInstructionMeter":
                if inst.meter_id not in self.meters:
                    raise AssertionError(f"{self.name}: flow uses meter {inst.meter_id} "
                                         "that does not exist")
                changes["meter"] = inst.meter_id
            elif inst_kind == "OFPInstructionActions":
                for action in inst.actions:
                    if type(action).__name__ != "OFPActionOutput":
                        raise AssertionError(f"unsupported action {action}")
                    changes["output"] = action.port
            elif inst_kind == "OFPInstructionWriteMetadata":
                changes["metadata"] = (inst.metadata, inst.metadata_mask)
            elif inst_kind == "OFPInstructionGotoTable":
                changes["goto"] = inst.table_id
            else:
                raise AssertionError(f"unsupported instruction {inst_kind}")
        entry = Entry(**{**entry.__dict__, **changes})
        self.entries = [e for e in self.entries if not (
            e.table == entry.table and e.priority == entry.priority and e.match == entry.match)]
        self.entries.append(entry)

    def lookup(self, table: int, packet: dict) -> Entry | None:
        best: list[Entry] = []
        for entry in self.entries:
            if entry.table != table:
                continue
            if all(_field_matches(k, v, packet.get(k)) for k, v in entry.match.items()):
                if not best or entry.priority > best[0].priority:
                    best = [entry]
                elif entry.priority == best[0].priority:
                    best.append(entry)
        if len(best) > 1:
            raise AssertionError(f"{self.name} table {table}: {len(best)} entries of priority "
                                 f"{best[0].priority} match {packet}: undefined")
        return best[0] if best else None

    def process(self, in_port: int, packet: dict) -> Hop:
        """One packet through the pipeline; Hop.output is None when it is dropped."""
        hop = Hop(self.name, in_port)
        fields = {**packet, "in_port": in_port, "metadata": 0}
        table = 0
        while table is not None:
            entry = self.lookup(table, fields)
            if entry is None:
                hop.tables.append((table, "no entry"))
                return hop
            hop.tables.append((table, decode_cookie(entry.cookie)[0]))
            if entry.meter is not None:
                hop.meters.append(entry.meter)
            if entry.metadata is not None:
                value, mask = entry.metadata
                fields["metadata"] = (fields["metadata"] & ~mask) | (value & mask)
            if entry.output is not None:
                hop.output = entry.output
            table = entry.goto
        return hop


@dataclass
class Trace:
    src: str
    dst_ip: str
    hops: list[Hop]
    delivered_to: str | None

    @property
    def dropped(self) -> bool:
        return self.delivered_to is None

    @property
    def drop(self) -> tuple[str, str] | None:
        """(switch, decision) where the packet was dropped, or None if delivered."""
        if self.delivered_to is not None or not self.hops:
            return None
        return self.hops[-1].switch, self.hops[-1].decision

    def crossed(self, switch: str, port: int) -> bool:
        return any(h.switch == switch and h.output == port for h in self.hops)


class FakeNetwork:
    """Fake switches for a plan's controlled switches, joined by the plan's links."""

    def __init__(self, plan, switches: dict[str, FakeSwitch], uplinks_down=frozenset()):
        self.plan = plan
        self.switches = switches
        self.ports: dict[tuple[str, int], tuple[str, int | None]] = {}
        names = {s.name for s in plan.switches}
        for link in plan.links:
            if link.kind == "uplink" and link.name in uplinks_down:
                continue
            if link.a in names and link.b in names:
                self.ports[(link.a, link.a_port)] = (link.b, link.b_port)
                self.ports[(link.b, link.b_port)] = (link.a, link.a_port)
            else:   # host (a) -- switch (b)
                self.ports[(link.b, link.b_port)] = (link.a, None)

    @classmethod
    def from_compiled(cls, plan, compiled, uplinks_down=frozenset()) -> FakeNetwork:
        switches = {}
        for switch in (s for s in plan.switches if s.controlled):
            rules, meters = compiled.for_switch(switch.name)
            switches[switch.name] = FakeSwitch.from_rules(switch.name, rules, meters)
        return cls(plan, switches, uplinks_down)

    def send(self, src: str, dst_ip: str, src_ip: str | None = None) -> Trace:
        """Host `src` sends an IPv4 packet to dst_ip (from src_ip, its own address if None)."""
        host = self.plan.host(src)
        packet = {"eth_type": IPV4, "ipv4_src": src_ip or host.ip, "ipv4_dst": dst_ip}
        hops: list[Hop] = []
        switch, port = host.switch, host.port
        for _ in range(32):
            if switch not in self.switches:      # the standalone global-zone switch
                target = next((h for h in self.plan.hosts_on(switch) if h.ip == dst_ip), None)
                if target is not None:
                    return Trace(src, dst_ip, hops, target.name)
                uplink = next(p for p, n in self.plan.trunk_ports(switch).items()
                              if (switch, p) in self.ports)
                if port == uplink:               # came from the uplink: nowhere else to go
                    return Trace(src, dst_ip, hops, None)
                switch, port = self.ports[(switch, uplink)]
                continue
            hop = self.switches[switch].process(port, packet)
            hops.append(hop)
            if hop.output is None or (switch, hop.output) not in self.ports:   # or link down
                return Trace(src, dst_ip, hops, None)
            peer, peer_port = self.ports[(switch, hop.output)]
            if peer_port is None:                # a host
                receiver = self.plan.host(peer)
                return Trace(src, dst_ip, hops, peer if receiver.ip == dst_ip else None)
            switch, port = peer, peer_port
        raise AssertionError(f"{src} -> {dst_ip}: forwarding loop: {hops}")
