"""Tier policy controller: a thin OpenFlow 1.3 layer over hermitnet.policy.

All decisions are made by the pure compiler (`hermitnet.policy.compile_policy`); this app only
turns its rules and meters into messages, installs them proactively when a switch connects,
re-installs on policy changes and blocklist window edges, and logs OpenFlow errors.

Run it through the project's launcher, which makes Ryu 4.34 work on current eventlet:

    HERMITNET_CONTROLLER_CONFIG=run/controller.json \
        .venv/bin/hermitnet-ryu-manager --ofp-listen-host 127.0.0.1 controllers/tiered_routing.py

The config file holds {"plan": Plan.to_dict(), "policy": PolicyState dict, "started_at": epoch}.
"""

from __future__ import annotations

import json
import logging
import os
import time

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from hermitnet.pipeline import METADATA_MASK
from hermitnet.plan import Plan
from hermitnet.policy import Compiled, PolicyState, compile_policy, policy_state_from_dict

LOG = logging.getLogger("hermitnet.controller")


def flow_mods(datapath, rules) -> list:
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
            instructions=instructions))
    return mods


def meter_mods(datapath, meters, command=None) -> list:
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    return [
        parser.OFPMeterMod(
            datapath, command=ofp.OFPMC_ADD if command is None else command,
            flags=ofp.OFPMF_KBPS | ofp.OFPMF_BURST | ofp.OFPMF_STATS, meter_id=meter.meter_id,
            bands=[parser.OFPMeterBandDrop(rate=meter.rate_kbps, burst_size=meter.burst_kbit)])
        for meter in meters
    ]


def clear_mods(datapath) -> list:
    """Remove every flow and meter: a switch is always brought to exactly the compiled state."""
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    return [
        parser.OFPFlowMod(datapath, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                          out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch()),
        parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=ofp.OFPM_ALL),
    ]


def install_messages(datapath, compiled: Compiled, switch: str) -> list:
    rules, meters = compiled.for_switch(switch)
    parser = datapath.ofproto_parser
    return [*clear_mods(datapath), parser.OFPBarrierRequest(datapath),
            *meter_mods(datapath, meters), *flow_mods(datapath, rules),
            parser.OFPBarrierRequest(datapath)]


class TieredRouting(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get("HERMITNET_CONTROLLER_CONFIG")
        if not path:
            raise SystemExit("HERMITNET_CONTROLLER_CONFIG is not set: it names the run's "
                             "controller.json (written by `hermitnet run`)")
        with open(path) as handle:
            config = json.load(handle)
        self.plan = Plan.from_dict(config["plan"])
        self.state: PolicyState = policy_state_from_dict(config["policy"])
        self.started_at = float(config.get("started_at", time.time()))
        self.switch_by_dpid = {s.dpid: s.name for s in self.plan.switches if s.controlled}
        self.datapaths: dict[int, object] = {}
        self.compiled = self._compile()
        self.edges_thread = hub.spawn(self._follow_blocklist_windows)

    def now_s(self) -> float:
        return time.time() - self.started_at

    def _compile(self) -> Compiled:
        return compile_policy(self.plan, self.state, self.now_s())

    def apply(self, state: PolicyState) -> Compiled:
        """Compile `state` (raises before anything is sent if it is invalid), then install it."""
        compiled = compile_policy(self.plan, state, self.now_s())
        self.state, self.compiled = state, compiled
        for datapath in list(self.datapaths.values()):
            self._install(datapath)
        return compiled

    def _install(self, datapath) -> None:
        switch = self.switch_by_dpid[datapath.id]
        for message in install_messages(datapath, self.compiled, switch):
            datapath.send_msg(message)
        rules, meters = self.compiled.for_switch(switch)
        LOG.info("installed %d rules, %d meters on %s (dpid %016x)",
                 len(rules), len(meters), switch, datapath.id)

    def _follow_blocklist_windows(self) -> None:
        while True:
            upcoming = [t for t in self.state.edges_s() if t > self.now_s()]
            if not upcoming:
                hub.sleep(1.0)
                continue
            hub.sleep(max(0.0, upcoming[0] - self.now_s()) + 0.01)
            LOG.info("blocklist window edge at t=%.1fs: re-installing", self.now_s())
            self.apply(self.state)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev) -> None:
        datapath = ev.msg.datapath
        if datapath.id not in self.switch_by_dpid:
            LOG.warning("switch %016x is not in this run's plan: ignored", datapath.id)
            return
        self.datapaths[datapath.id] = datapath
        self._install(datapath)

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change(self, ev) -> None:
        datapath = ev.datapath
        if ev.state == DEAD_DISPATCHER and datapath.id in self.datapaths:
            del self.datapaths[datapath.id]
            LOG.info("switch %s left", self.switch_by_dpid.get(datapath.id, datapath.id))

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def error(self, ev) -> None:
        msg = ev.msg
        LOG.error("OpenFlow error from %s: type=%d code=%d data=%s",
                  self.switch_by_dpid.get(msg.datapath.id, msg.datapath.id), msg.type, msg.code,
                  msg.data[:64].hex())
