"""Tier policy controller: a thin OpenFlow 1.3 layer over hermitnet.policy, with a REST API.

All decisions are made by the pure compiler (`hermitnet.policy.compile_policy`) and the pure
request validators next to it; this app only turns rules and meters into messages and sends them:

- on switch connect: clear the switch, then install its whole compiled policy (proactive; no
  packet-in at all: ARP is static in the emulation, anything unmatched is dropped);
- on a policy change (REST) or a blocklist window edge: recompile, then send each switch only
  the difference from what it holds (counters of unchanged flows survive), then a barrier;
- every lease_s / 3: renew the leased rules (the ones that cross the uplink, see
  hermitnet.policy): if this process dies, the border closes within lease_s;
- every counters_interval_s: poll flow stats (by cookie -> class/decision), meter stats (band
  drops) and the uplink port's stats, and append one JSON line to counters_path.

Run it through the project's launcher, which makes Ryu 4.34 work on current eventlet:

    HERMITNET_CONTROLLER_CONFIG=run/controller.json \
        .venv/bin/hermitnet-ryu-manager --ofp-listen-host 127.0.0.1 \
        --wsapi-host 127.0.0.1 --wsapi-port 8080 controllers/tiered_routing.py

The config file holds {"plan": Plan.to_dict(), "policy": PolicyState dict, "started_at": epoch,
"counters_path": path, "counters_interval_s": s, "lease_s": s (optional, default 5)}. The live
policy (after REST changes) is kept next to it in policy-live.json, so a restarted controller
reinstalls the policy as it was when it stopped. The REST API is described in docs/openapi.yaml.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from hermitnet import policy as policy_module
from hermitnet.pipeline import METADATA_MASK
from hermitnet.plan import Plan
from hermitnet.policy import (
    Compiled,
    PolicyState,
    RequestError,
    class_names,
    compile_policy,
    decode_cookie,
    policy_state_from_dict,
    policy_state_to_dict,
)

# Flow stats the controller parses per second of polling interval at most: at 20,000 flows
# (200 subscribers, 200 sites) a poll every second kept the controller busy and slowed every
# policy change several-fold; the interval stretches instead (counters then come every 10 s).
COUNTER_FLOWS_PER_S = 2000

LOG = logging.getLogger("hermitnet.controller")
DEFAULT_LEASE_S = 5.0
BARRIER_TIMEOUT_S = 10.0
LIVE_STATE_NAME = "policy-live.json"


# -- messages: pure functions of (datapath, rules) ---------------------------------------------

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


def clear_mods(datapath) -> list:
    """Remove every flow and meter: a switch is always brought to exactly the compiled state."""
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    return [
        parser.OFPFlowMod(datapath, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                          out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch()),
        parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=ofp.OFPM_ALL),
    ]


def install_messages(datapath, compiled: Compiled, switch: str,
                     lease_s: float = DEFAULT_LEASE_S) -> list:
    """Everything a freshly connected switch gets: clear, meters, flows, barrier."""
    rules, meters = compiled.for_switch(switch)
    parser = datapath.ofproto_parser
    return [*clear_mods(datapath), parser.OFPBarrierRequest(datapath),
            *meter_mods(datapath, meters), *flow_mods(datapath, rules, lease_s),
            parser.OFPBarrierRequest(datapath)]


def diff_messages(datapath, old: Compiled, new: Compiled, switch: str,
                  lease_s: float = DEFAULT_LEASE_S) -> list:
    """What takes a switch holding `old` to `new`, ending in a barrier (empty if no change).

    Order: new and changed meters; added and changed flows (an add replaces a flow with the same
    table, priority and match; a changed one restarts its counters under its new cookie);
    removed flows; removed meters. Each flow mod is atomic in the switch, so a packet sees either
    the old or the new rule for its match, never none.
    """
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    old_rules, old_meters = old.for_switch(switch)
    new_rules, new_meters = new.for_switch(switch)
    old_by_key = {r.key: r for r in old_rules}
    new_by_key = {r.key: r for r in new_rules}
    old_m = {m.meter_id: m for m in old_meters}
    new_m = {m.meter_id: m for m in new_meters}
    added = [r for k, r in new_by_key.items() if k not in old_by_key]
    changed = [r for k, r in new_by_key.items() if k in old_by_key and old_by_key[k] != r]
    removed = [r for k, r in old_by_key.items() if k not in new_by_key]
    meters_added = [m for i, m in new_m.items() if i not in old_m]
    meters_changed = [m for i, m in new_m.items() if i in old_m and old_m[i] != m]
    meters_removed = [m for i, m in old_m.items() if i not in new_m]
    messages = [
        *meter_mods(datapath, meters_added),
        *meter_mods(datapath, meters_changed, ofp.OFPMC_MODIFY),
        *flow_mods(datapath, added, lease_s),
        *flow_mods(datapath, changed, lease_s, reset_counts=True),
        *delete_mods(datapath, removed),
        *[parser.OFPMeterMod(datapath, command=ofp.OFPMC_DELETE, meter_id=m.meter_id)
          for m in meters_removed],
    ]
    return [*messages, parser.OFPBarrierRequest(datapath)] if messages else []


def stats_requests(datapath, uplink_port: int | None) -> list:
    ofp, parser = datapath.ofproto, datapath.ofproto_parser
    requests = [parser.OFPFlowStatsRequest(datapath, table_id=ofp.OFPTT_ALL),
                parser.OFPMeterStatsRequest(datapath, meter_id=ofp.OFPM_ALL)]
    if uplink_port is not None:
        requests.append(parser.OFPPortStatsRequest(datapath, port_no=uplink_port))
    return requests


class CounterTotals:
    """Totals since this controller started, from polled cumulative counters.

    Switch counters restart when a flow is replaced or removed; totals here never go down: per
    flow (switch, table, priority, match, cookie) and per meter, only the increase since the last
    poll is added (a counter found lower than before restarted, and counts from zero).
    """

    def __init__(self, names: dict[int, str]):
        self.names = names
        self.flows: dict[str, dict[str, dict[str, int]]] = {}
        self.meters: dict[str, dict[str, int]] = {}
        self.subscribers: dict[str, dict[str, int]] = {}
        self._last: dict[tuple, tuple[int, int]] = {}

    def _delta(self, key: tuple, packets: int, nbytes: int) -> tuple[int, int]:
        last = self._last.get(key)
        self._last[key] = (packets, nbytes)
        if last is None or packets < last[0] or nbytes < last[1]:
            return packets, nbytes
        return packets - last[0], nbytes - last[1]

    def add_flow(self, switch: str, table: int, priority: int, match_key, cookie: int,
                 packets: int, nbytes: int) -> None:
        dp, db = self._delta(("flow", switch, table, priority, match_key, cookie), packets, nbytes)
        decision, class_id, _ = decode_cookie(cookie)
        name = self.names.get(class_id, "-")
        cell = self.flows.setdefault(name, {}).setdefault(decision, {"packets": 0, "bytes": 0})
        cell["packets"] += dp
        cell["bytes"] += db

    def add_meter(self, switch: str, meter_id: int, subscriber: str, tier: str,
                  band_packets: int, band_bytes: int, in_packets: int, in_bytes: int) -> None:
        dp, db = self._delta(("band", switch, meter_id), band_packets, band_bytes)
        ip, ib = self._delta(("meter", switch, meter_id), in_packets, in_bytes)
        for table, name in ((self.meters, tier), (self.subscribers, subscriber)):
            cell = table.setdefault(name, {"band_drop_packets": 0, "band_drop_bytes": 0,
                                           "in_packets": 0, "in_bytes": 0})
            cell["band_drop_packets"] += dp
            cell["band_drop_bytes"] += db
            cell["in_packets"] += ip
            cell["in_bytes"] += ib


# -- the Ryu application -----------------------------------------------------------------------

class TieredRouting(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get("HERMITNET_CONTROLLER_CONFIG")
        if not path:
            raise SystemExit("HERMITNET_CONTROLLER_CONFIG is not set: it names the run's "
                             "controller.json (written by `hermitnet run`)")
        self.config_path = Path(path)
        config = json.loads(self.config_path.read_text())
        self.plan = Plan.from_dict(config["plan"])
        self.started_at = float(config.get("started_at", time.time()))
        self.epoch = time.time()
        self.lease_s = float(config.get("lease_s", DEFAULT_LEASE_S))
        self.counters_path = config.get("counters_path")
        self.counters_interval_s = float(config.get("counters_interval_s", 1.0))
        self.live_state_path = self.config_path.with_name(LIVE_STATE_NAME)
        self.state: PolicyState = self._initial_state(config)
        self.switch_by_dpid = {s.dpid: s.name for s in self.plan.switches if s.controlled}
        self.uplink = self._uplink_port()
        self.datapaths: dict[int, object] = {}
        self.installed: dict[str, Compiled] = {}      # switch -> what it holds
        self.barriers: dict[tuple[int, int], object] = {}
        self.errors: list[dict] = []
        self.lock = hub.Semaphore()
        self.compiled = self._compile()
        self.active_blocks = self._active_blocks()
        self.totals = CounterTotals(class_names(self.plan))
        self.uplink_stats: dict = {}
        self.latest_counters: dict | None = None
        self._stats_parts: dict[tuple, list] = {}
        kwargs["wsgi"].register(PolicyApi, {"app": self})

    def start(self):
        thread = super().start()
        self.threads.append(hub.spawn(self._follow_blocklist_windows))
        self.threads.append(hub.spawn(self._renew_leases))
        if self.counters_path:
            self.threads.append(hub.spawn(self._poll_counters))
        return thread

    def _initial_state(self, config: dict) -> PolicyState:
        """The scenario's policy, or the live one a previous process of this run left behind."""
        try:
            live = json.loads(self.live_state_path.read_text())
        except (OSError, ValueError):
            return policy_state_from_dict(config["policy"])
        if live.get("started_at") != self.started_at:
            return policy_state_from_dict(config["policy"])
        LOG.info("restarted: taking the live policy from %s", self.live_state_path)
        return policy_state_from_dict(live["policy"])

    def _uplink_port(self) -> tuple[str, int] | None:
        for switch in self.plan.switches:
            if not switch.controlled:
                continue
            for port, neighbour in self.plan.trunk_ports(switch.name).items():
                if not self.plan.switch(neighbour).controlled:
                    return switch.name, port
        return None

    def now_s(self) -> float:
        return time.time() - self.started_at

    def _compile(self, state: PolicyState | None = None) -> Compiled:
        return compile_policy(self.plan, state or self.state, self.now_s())

    def _active_blocks(self) -> frozenset[str]:
        now = self.now_s()
        return frozenset(b.site for b in self.state.blocklist if b.active(now))

    # -- installing ------------------------------------------------------------------------------
    def apply(self, state: PolicyState) -> dict:
        """Compile `state` (raises before anything is sent if it is invalid), then install the
        difference on every connected switch. Returns {switch: barrier event}."""
        compiled = compile_policy(self.plan, state, self.now_s())
        with self.lock:
            self.state, self.compiled = state, compiled
            self.active_blocks = self._active_blocks()
            self._save_live_state()
            waits = {}
            for dpid, datapath in list(self.datapaths.items()):
                switch = self.switch_by_dpid[dpid]
                messages = diff_messages(datapath, self.installed[switch], compiled, switch,
                                         self.lease_s)
                self.installed[switch] = compiled
                if messages:
                    waits[switch] = self._send(datapath, messages)
            return waits

    def _send(self, datapath, messages) -> object:
        """Send messages; returns an event set when the last one (a barrier) is answered."""
        event = hub.Event()
        last = messages[-1]
        if isinstance(last, datapath.ofproto_parser.OFPBarrierRequest):
            datapath.set_xid(last)      # known before it is sent: the reply cannot come first
            self.barriers[(datapath.id, last.xid)] = event
        for message in messages:
            datapath.send_msg(message)
        return event

    def wait_enforced(self, waits: dict, timeout_s: float = BARRIER_TIMEOUT_S) -> dict:
        started = time.monotonic()
        confirmed = []
        for switch, event in waits.items():
            remaining = max(0.0, timeout_s - (time.monotonic() - started))
            if event.wait(timeout=remaining):
                confirmed.append(switch)
        return {"switches_changed": sorted(waits), "confirmed": sorted(confirmed),
                "all_confirmed": len(confirmed) == len(waits),
                "seconds": round(time.monotonic() - started, 4)}

    def _install(self, datapath) -> None:
        switch = self.switch_by_dpid[datapath.id]
        with self.lock:
            self._send(datapath, install_messages(datapath, self.compiled, switch, self.lease_s))
            self.installed[switch] = self.compiled
        rules, meters = self.compiled.for_switch(switch)
        LOG.info("installed %d rules, %d meters on %s (dpid %016x)",
                 len(rules), len(meters), switch, datapath.id)

    def _save_live_state(self) -> None:
        data = {"started_at": self.started_at, "policy": policy_state_to_dict(self.state)}
        tmp = self.live_state_path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(data))
            tmp.replace(self.live_state_path)
        except OSError as error:
            LOG.warning("cannot keep the live policy in %s: %s", self.live_state_path, error)

    def _follow_blocklist_windows(self) -> None:
        while True:
            hub.sleep(0.25)
            if self._active_blocks() != self.active_blocks:
                LOG.info("blocklist window edge at t=%.1fs: re-installing", self.now_s())
                self.apply(self.state)

    def _renew_leases(self) -> None:
        while True:
            hub.sleep(self.lease_s / 3)
            self.renew_leases()

    def renew_leases(self) -> None:
        """Re-add every leased rule a switch holds: an add of the same flow restarts its hard
        timeout and keeps its counters."""
        with self.lock:
            for dpid, datapath in list(self.datapaths.items()):
                switch = self.switch_by_dpid[dpid]
                if switch not in self.installed:
                    continue
                rules, _ = self.installed[switch].for_switch(switch)
                for message in flow_mods(datapath, [r for r in rules if r.lease], self.lease_s):
                    datapath.send_msg(message)

    # -- counters --------------------------------------------------------------------------------
    def poll_interval_s(self) -> float:
        """The configured interval, stretched on large networks so that parsing flow stats
        (about COUNTER_FLOWS_PER_S flows a second) never crowds out policy changes."""
        return max(self.counters_interval_s, len(self.compiled.rules) / COUNTER_FLOWS_PER_S)

    def _poll_counters(self) -> None:
        while True:
            hub.sleep(self.poll_interval_s())
            if self.datapaths:
                self._write_counters()
            for dpid, datapath in list(self.datapaths.items()):
                switch = self.switch_by_dpid[dpid]
                uplink = self.uplink[1] if self.uplink and self.uplink[0] == switch else None
                for request in stats_requests(datapath, uplink):
                    datapath.send_msg(request)

    def counters_line(self) -> dict:
        return {"t_s": round(self.now_s(), 3), "epoch": self.epoch,
                "switches": len(self.datapaths), "flows": self.totals.flows,
                "meters": self.totals.meters, "meters_by_subscriber": self.totals.subscribers,
                "uplink": self.uplink_stats}

    def _write_counters(self) -> None:
        line = self.counters_line()
        self.latest_counters = line
        try:
            with open(self.counters_path, "a") as handle:
                handle.write(json.dumps(line, separators=(",", ":")) + "\n")
        except OSError as error:
            LOG.warning("cannot write counters to %s: %s", self.counters_path, error)

    def _parts(self, ev) -> list | None:
        """Multipart replies: the whole body once the last part has arrived."""
        msg = ev.msg
        key = (msg.datapath.id, msg.xid)
        parts = self._stats_parts.setdefault(key, [])
        parts.extend(msg.body)
        if msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            return None
        return self._stats_parts.pop(key)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev) -> None:
        body = self._parts(ev)
        switch = self.switch_by_dpid.get(ev.msg.datapath.id)
        if body is None or switch is None:
            return
        for stat in body:
            self.totals.add_flow(switch, stat.table_id, stat.priority, repr(stat.match.items()),
                                 stat.cookie, stat.packet_count, stat.byte_count)

    @set_ev_cls(ofp_event.EventOFPMeterStatsReply, MAIN_DISPATCHER)
    def meter_stats(self, ev) -> None:
        body = self._parts(ev)
        switch = self.switch_by_dpid.get(ev.msg.datapath.id)
        if body is None or switch is None:
            return
        by_id = {m.meter_id: m for m in self.installed[switch].for_switch(switch)[1]}
        for stat in body:
            meter = by_id.get(stat.meter_id)
            if meter is None:
                continue
            band = stat.band_stats[0] if stat.band_stats else None
            self.totals.add_meter(switch, stat.meter_id, meter.subscriber, meter.tier,
                                  band.packet_band_count if band else 0,
                                  band.byte_band_count if band else 0,
                                  stat.packet_in_count, stat.byte_in_count)

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def port_stats(self, ev) -> None:
        body = self._parts(ev)
        if not body or self.uplink is None:
            return
        for stat in body:
            if stat.port_no == self.uplink[1]:
                self.uplink_stats = {
                    "switch": self.uplink[0], "port": stat.port_no,
                    "rx_packets": stat.rx_packets, "rx_bytes": stat.rx_bytes,
                    "tx_packets": stat.tx_packets, "tx_bytes": stat.tx_bytes,
                    "rx_dropped": stat.rx_dropped, "tx_dropped": stat.tx_dropped}

    # -- switches --------------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev) -> None:
        datapath = ev.msg.datapath
        if datapath.id not in self.switch_by_dpid:
            LOG.warning("switch %016x is not in this run's plan: ignored", datapath.id)
            return
        self.datapaths[datapath.id] = datapath
        self._install(datapath)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def barrier_reply(self, ev) -> None:
        event = self.barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if event is not None:
            event.set()

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change(self, ev) -> None:
        datapath = ev.datapath
        if ev.state == DEAD_DISPATCHER and datapath.id in self.datapaths:
            del self.datapaths[datapath.id]
            self.installed.pop(self.switch_by_dpid[datapath.id], None)
            LOG.info("switch %s left", self.switch_by_dpid.get(datapath.id, datapath.id))

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def error(self, ev) -> None:
        msg = ev.msg
        switch = self.switch_by_dpid.get(msg.datapath.id, msg.datapath.id)
        self.errors.append({"switch": switch, "type": msg.type, "code": msg.code,
                            "t_s": round(self.now_s(), 3)})
        del self.errors[:-100]
        LOG.error("OpenFlow error from %s: type=%d code=%d data=%s",
                  switch, msg.type, msg.code, msg.data[:64].hex())

    # -- what the REST API reads ---------------------------------------------------------------
    def health(self) -> dict:
        connected = {self.switch_by_dpid[d] for d in self.datapaths}
        return {"now_s": round(self.now_s(), 3),
                "switches": {name: name in connected for name in self.switch_by_dpid.values()},
                "lease_s": self.lease_s, "openflow_errors": list(self.errors)}


# -- the REST API ------------------------------------------------------------------------------

API = "/v1"


def _json(data, status: int = 200) -> Response:
    return Response(status=status, content_type="application/json", charset="utf-8",
                    body=(json.dumps(data, indent=1) + "\n").encode())


def _handled(method):
    """Validation errors -> 4xx naming the field; anything else -> 500; both as JSON."""
    def wrapper(self, req, **kwargs):
        try:
            return method(self, req, **kwargs)
        except RequestError as error:
            return _json(error.to_dict(), error.status)
        except Exception as error:  # a bug: say so, and keep serving
            LOG.exception("REST %s %s failed", req.method, req.path)
            return _json({"error": f"{type(error).__name__}: {error}", "field": None,
                          "status": 500}, 500)
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class PolicyApi(ControllerBase):
    """JSON over HTTP on the controller's --wsapi-host/--wsapi-port (127.0.0.1)."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app: TieredRouting = data["app"]

    def _change(self, req, make_state) -> Response:
        app = self.app
        state = make_state(policy_module.parse_body(req.body) if req.body else {})
        waits = app.apply(state)          # compiles first: raises before anything is sent
        enforced = app.wait_enforced(waits)
        return _json({"policy": policy_module.policy_view(app.plan, app.state, app.now_s()),
                      "enforced": enforced})

    @route("policy", API + "/policy", methods=["GET"])
    @_handled
    def get_policy(self, req, **kwargs):
        app = self.app
        return _json(policy_module.policy_view(app.plan, app.state, app.now_s()))

    @route("tiers", API + "/tiers", methods=["GET"])
    @_handled
    def get_tiers(self, req, **kwargs):
        return _json(policy_module.tiers_view(self.app.plan, self.app.state))

    @route("counters", API + "/counters", methods=["GET"])
    @_handled
    def get_counters(self, req, **kwargs):
        return _json(self.app.counters_line())

    @route("health", API + "/health", methods=["GET"])
    @_handled
    def get_health(self, req, **kwargs):
        return _json(self.app.health())

    @route("block", API + "/blocklist", methods=["POST"])
    @_handled
    def block(self, req, **kwargs):
        app = self.app
        return self._change(req, lambda body: policy_module.block_site(
            app.plan, app.state, body, app.now_s()))

    @route("unblock", API + "/blocklist/{site}", methods=["DELETE"])
    @_handled
    def unblock(self, req, site, **kwargs):
        app = self.app
        return self._change(req, lambda body: policy_module.unblock_site(
            app.plan, app.state, site))

    @route("move", API + "/subscribers/{subscriber}/tier", methods=["PUT"])
    @_handled
    def move(self, req, subscriber, **kwargs):
        app = self.app
        return self._change(req, lambda body: policy_module.move_subscriber(
            app.plan, app.state, subscriber, body))

    @route("rate", API + "/tiers/{tier}/rate", methods=["PUT"])
    @_handled
    def rate(self, req, tier, **kwargs):
        app = self.app
        return self._change(req, lambda body: policy_module.set_tier_rate(
            app.plan, app.state, tier, body))
