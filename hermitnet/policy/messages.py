"""OpenFlow 1.3 messages for compiled rules, meters and diffs (the controller app sends them).

Built with the datapath's own `ofproto` and `ofproto_parser` (Ryu's, or a test's): no Ryu
import here, no socket, nothing sent.
"""

from __future__ import annotations

from hermitnet.policy.compile import Compiled
from hermitnet.policy.diff import SwitchDiff
from hermitnet.policy.pipeline import METADATA_MASK

DEFAULT_LEASE_S = 5.0


def flow_mods(datapath, rules, lease_s: float = DEFAULT_LEASE_S, reset_counts: bool = False):
    """Rules -> OFPFlowMod (add), instructions in the order OpenFlow 1.3 requires."""
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    mods = []
    for rule in rules:
        instructions = []
        if rule.meter is not None:
            instructions.append(parser.OFPInstructionMeter(rule.meter))
        if rule.output is not None:
            instructions.append(parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(rule.output)]))
        if rule.metadata is not None:
            instructions.append(parser.OFPInstructionWriteMetadata(rule.metadata, METADATA_MASK))
        if rule.goto is not None:
            instructions.append(parser.OFPInstructionGotoTable(rule.goto))
        mods.append(parser.OFPFlowMod(
            datapath, cookie=rule.cookie, table_id=rule.table, command=ofp.OFPFC_ADD,
            priority=rule.priority, match=parser.OFPMatch(**dict(rule.match)),
            hard_timeout=int(lease_s) if rule.lease else 0,
            flags=ofp.OFPFF_RESET_COUNTS if reset_counts else 0,
            instructions=instructions))
    return mods


def delete_mods(datapath, rules) -> list:
    """Remove exactly these flows (table, priority and match), whatever their instructions."""
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    return [parser.OFPFlowMod(datapath, table_id=rule.table, command=ofp.OFPFC_DELETE_STRICT,
                              priority=rule.priority, match=parser.OFPMatch(**dict(rule.match)),
                              out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY)
            for rule in rules]


def meter_mods(datapath, meters, command=None) -> list:
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    return [
        parser.OFPMeterMod(
            datapath, command=ofp.OFPMC_ADD if command is None else command,
            flags=ofp.OFPMF_KBPS | ofp.OFPMF_BURST | ofp.OFPMF_STATS, meter_id=meter.meter_id,
            bands=[parser.OFPMeterBandDrop(rate=meter.rate_kbps, burst_size=meter.burst_kbit)])
        for meter in meters
    ]


def install_messages(datapath, compiled: Compiled, switch: str,
                     lease_s: float = DEFAULT_LEASE_S) -> list:
    """Everything a freshly connected switch gets: clear flows and meters, meters, flows,
    barrier: a switch is always brought to exactly the compiled state."""
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    rules, meters = compiled.for_switch(switch)
    clear = [parser.OFPFlowMod(datapath, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                               out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                               match=parser.OFPMatch()),
             parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=ofp.OFPM_ALL)]
    return [*clear, parser.OFPBarrierRequest(datapath), *meter_mods(datapath, meters),
            *flow_mods(datapath, rules, lease_s), parser.OFPBarrierRequest(datapath)]


def diff_messages(datapath, changes: SwitchDiff, lease_s: float = DEFAULT_LEASE_S) -> list:
    """A switch's part of a policy diff, ending in a barrier (empty if it has no change).

    Order: new and changed meters; added and changed flows (an add replaces the flow with the
    same table, priority and match; a changed one restarts its counters); removed flows;
    removed meters. Each flow mod is atomic in the switch: a packet sees the old or the new rule.
    """
    if not changes:
        return []
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    return [*meter_mods(datapath, changes.meter_adds),
            *meter_mods(datapath, changes.meter_modifies, ofp.OFPMC_MODIFY),
            *flow_mods(datapath, changes.flow_adds, lease_s),
            *flow_mods(datapath, changes.flow_modifies, lease_s, reset_counts=True),
            *delete_mods(datapath, changes.flow_deletes),
            *[parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=m.meter_id)
              for m in changes.meter_deletes],
            parser.OFPBarrierRequest(datapath)]


def stats_requests(datapath, uplink_port: int | None) -> list:
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    messages = [parser.OFPFlowStatsRequest(datapath, table_id=ofp.OFPTT_ALL),
                parser.OFPMeterStatsRequest(datapath, meter_id=ofp.OFPM_ALL)]
    if uplink_port is not None:
        messages.append(parser.OFPPortStatsRequest(datapath, port_no=uplink_port))
    return messages
