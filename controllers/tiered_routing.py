"""Tier policy controller: the OpenFlow 1.3 layer over hermitnet.policy, with a REST API.

Every decision is made in the pure package hermitnet.policy (its messages module builds the
OpenFlow messages for rules, meters and diffs); this app sends them: a joining switch is cleared
and gets its whole compiled policy (no packet-in at all); a change (a REST request: the run's
timeline plays its scheduled changes through the same API) is compiled reusing what it does not
touch, and each switch gets only its part of the diff, then a barrier; leased rules
(across the uplink) are renewed every lease_s / 3, so the border closes within lease_s of this
process dying; a port status from the border saying an uplink's link went down or up recompiles
with that uplink down or up (hermitnet.policy.compile: allowed traffic over the first uplink up)
and sends the border its diff, each change logged and kept for GET /v1/uplinks; flow, meter and
uplink port stats are polled into hermitnet.counters totals and appended to counters_path. An
exception in a handler, a periodic task or a REST view is logged with its traceback, counted
(GET /v1/health) and appended as {time_s, where, error} to errors_path, and the controller keeps
serving.

    HERMITNET_CONTROLLER_CONFIG=run/controller.json .venv/bin/hermitnet-ryu-manager \
        --ofp-listen-host 127.0.0.1 --wsapi-host 127.0.0.1 --wsapi-port 8080 \
        controllers/tiered_routing.py

The config holds {"plan": Plan.to_dict(), "policy": PolicyState.to_dict(), "started_at": epoch,
"counters_path", "counters_interval_s", "errors_path", "lease_s" (default 5), "api_token_path"
(optional)}; the live policy is kept next to it (hermitnet.policy.state). The REST API is
described in docs/openapi.yaml. With api_token_path, every request must carry
`Authorization: Bearer <the token in that file>` (else 401). Only the plan's own switches are
served: a connection from any other datapath id is closed, logged and counted (GET /v1/health).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
import time
from pathlib import Path

from ryu.app.wsgi import ControllerBase, Response, WSGIApplication
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3

from hermitnet.counters import CounterTotals
from hermitnet.plan import Plan
from hermitnet.policy import requests, views
from hermitnet.policy.compile import active_uplink, class_names, compile_policy
from hermitnet.policy.diff import diff
from hermitnet.policy.messages import (
    DEFAULT_LEASE_S,
    diff_messages,
    flow_mods,
    install_messages,
    stats_requests,
)
from hermitnet.policy.state import LIVE_STATE_NAME, PolicyState, load_live, save_live

# Flow stats the controller parses per second of polling interval at most: at 20,000 flows
# (200 subscribers, 200 sites) a poll every second kept the controller busy and slowed every
# policy change several-fold; the interval stretches instead (counters then come every 10 s).
COUNTER_FLOWS_PER_S = 2000

LOG = logging.getLogger("hermitnet.controller")
BARRIER_TIMEOUT_S = 10.0
MAX_RECORDED_EXCEPTIONS = 100     # in errors_path; a task failing every 0.25 s is counted on


def guarded(method):
    """An exception in `method` is logged with its traceback, counted and recorded
    (TieredRouting.record_exception); the controller keeps running."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            self.record_exception(method.__name__, error)
    return wrapper


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
        config = json.loads(Path(path).read_text())
        self.plan = Plan.from_dict(config["plan"])
        self.started_at = float(config.get("started_at", time.time()))
        self.epoch = time.time()
        self.lease_s = float(config.get("lease_s", DEFAULT_LEASE_S))
        self.counters_path = config.get("counters_path")
        self.counters_interval_s = float(config.get("counters_interval_s", 1.0))
        self.errors_path = config.get("errors_path")
        self.exceptions = 0
        self.api_token = _read_token(config.get("api_token_path"))
        self.refused_dpids: dict[int, int] = {}     # dpid not in the plan -> connections closed
        self.live_state_path = Path(path).with_name(LIVE_STATE_NAME)
        live = load_live(self.live_state_path, self.started_at)
        if live is not None:
            LOG.info("restarted: taking the live policy from %s", self.live_state_path)
        self.state = live or PolicyState.from_dict(config["policy"])
        self.switch_by_dpid = {s.dpid: s.name for s in self.plan.switches if s.controlled}
        self.uplink = self.plan.uplink_port()
        self.uplink_by_port = {where: name for name, where in self.plan.uplink_ports().items()}
        self.uplinks_down: frozenset[str] = frozenset()
        self.uplink_changes: list[dict] = []        # {t_s, uplink, down, active}
        self.datapaths: dict[int, object] = {}      # connected; each holds self.compiled
        self.barriers: dict[tuple[int, int], object] = {}
        self.openflow_errors: list[dict] = []
        self.lock = hub.Semaphore()
        self.compiled = compile_policy(self.plan, self.state, self.uplinks_down)
        self.totals = CounterTotals(class_names(self.plan))
        self._stats_parts: dict[tuple, list] = {}
        PolicyApi.register(kwargs["wsgi"], self)

    def start(self):
        thread = super().start()
        self.threads.append(hub.spawn(self._every, lambda: self.lease_s / 3, self.renew_leases))
        if self.counters_path:   # the requests spread over half the interval, then a pause
            self.threads.append(hub.spawn(self._every, lambda: self.poll_interval_s() / 2,
                                          lambda: self.poll_counters(self.poll_interval_s() / 2)))
        return thread

    def _every(self, interval_s, step) -> None:
        while True:
            hub.sleep(interval_s())
            step()

    def record_exception(self, where: str, error: Exception) -> None:
        """Call from an except block: log the traceback, count it, append it to errors_path
        (the first MAX_RECORDED_EXCEPTIONS)."""
        LOG.exception("exception in %s", where)
        self.exceptions += 1
        record = {"time_s": round(self.now_s(), 3), "where": where,
                  "error": f"{type(error).__name__}: {error}"}
        if self.errors_path and self.exceptions <= MAX_RECORDED_EXCEPTIONS:
            try:
                with open(self.errors_path, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
            except OSError as problem:
                LOG.error("cannot record the exception in %s: %s", self.errors_path, problem)

    def now_s(self) -> float:
        return time.time() - self.started_at

    # -- installing ------------------------------------------------------------------------------
    def apply(self, state: PolicyState, uplinks_down: frozenset[str] | None = None) -> dict:
        """Compile `state` with `uplinks_down` (default: as they are; raises before anything is
        sent if it is invalid), then send every connected switch its part of the diff.
        Returns {switch: barrier event}."""
        down = self.uplinks_down if uplinks_down is None else uplinks_down
        started = time.monotonic()
        compiled = compile_policy(self.plan, state, down, previous=self.compiled)
        with self.lock:
            compiled_at = time.monotonic()
            changes = diff(self.compiled, compiled)
            diffed_at = time.monotonic()
            self.state, self.compiled, self.uplinks_down = state, compiled, down
            try:
                save_live(self.live_state_path, state, self.started_at)
            except OSError as error:
                LOG.warning("cannot keep the live policy in %s: %s", self.live_state_path, error)
            waits = {}
            for dpid, datapath in list(self.datapaths.items()):
                switch = self.switch_by_dpid[dpid]
                messages = diff_messages(datapath, changes.for_switch(switch), self.lease_s)
                if messages:
                    waits[switch] = self._send(datapath, messages)
            LOG.info("change: compiled in %.1f ms, diff %.1f ms, %d switches' messages queued in "
                     "%.1f ms", 1000 * (compiled_at - started), 1000 * (diffed_at - compiled_at),
                     len(waits), 1000 * (time.monotonic() - diffed_at))
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

    @guarded
    def renew_leases(self) -> None:
        """Re-add every leased rule: an add of the same flow restarts its hard timeout and keeps
        its counters."""
        with self.lock:
            for dpid, datapath in list(self.datapaths.items()):
                leased = self.compiled.leased(self.switch_by_dpid[dpid])
                for message in flow_mods(datapath, leased, self.lease_s):
                    datapath.send_msg(message)

    # -- counters --------------------------------------------------------------------------------
    def poll_interval_s(self) -> float:
        """The configured interval, stretched on large networks so that parsing flow stats
        (about COUNTER_FLOWS_PER_S flows a second) never crowds out policy changes."""
        return max(self.counters_interval_s, len(self.compiled.rules) / COUNTER_FLOWS_PER_S)

    @guarded
    def poll_counters(self, spread_s: float = 0.0) -> None:
        """Append the totals, then ask each switch for its stats, one after the other over
        spread_s: parsing the replies holds the one thread, ~1 ms per 10 flows here, and 55
        switches answering together held it for seconds (OVS then dropped the connections)."""
        if self.datapaths:
            try:
                with open(self.counters_path, "a") as handle:
                    handle.write(json.dumps(self.counters_line(), separators=(",", ":")) + "\n")
            except OSError as error:
                LOG.warning("cannot write counters to %s: %s", self.counters_path, error)
        connected = list(self.datapaths.items())
        for index, (dpid, datapath) in enumerate(connected):
            if index and spread_s:
                hub.sleep(spread_s / len(connected))
            on_switch = self.uplink and self.uplink[0] == self.switch_by_dpid[dpid]
            for request in stats_requests(datapath, self.uplink[1] if on_switch else None):
                datapath.send_msg(request)

    def counters_line(self) -> dict:
        return self.totals.line(self.now_s(), self.epoch, len(self.datapaths))

    def _stats(self, ev) -> tuple[str | None, list | None]:
        """(switch, the whole multipart body once its last part has arrived, else None)."""
        msg = ev.msg
        parts = self._stats_parts.setdefault((msg.datapath.id, msg.xid), [])
        parts.extend(msg.body)
        if msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE:
            return None, None
        body = self._stats_parts.pop((msg.datapath.id, msg.xid))
        return self.switch_by_dpid.get(msg.datapath.id), body

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    @guarded
    def flow_stats(self, ev) -> None:
        switch, body = self._stats(ev)
        for stat in body if switch else ():
            self.totals.add_flow(switch, stat.table_id, stat.priority, repr(stat.match.items()),
                                 stat.cookie, stat.packet_count, stat.byte_count)

    @set_ev_cls(ofp_event.EventOFPMeterStatsReply, MAIN_DISPATCHER)
    @guarded
    def meter_stats(self, ev) -> None:
        switch, body = self._stats(ev)
        by_id = {m.meter_id: m for m in self.compiled.for_switch(switch)[1]} if switch else {}
        for stat in (s for s in body or () if s.meter_id in by_id):
            band = (stat.band_stats or [None])[0]
            self.totals.add_meter(by_id[stat.meter_id], band.packet_band_count if band else 0,
                                  band.byte_band_count if band else 0,
                                  stat.packet_in_count, stat.byte_in_count)

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    @guarded
    def port_stats(self, ev) -> None:
        switch, body = self._stats(ev)
        for stat in body if self.uplink and switch == self.uplink[0] else ():
            if stat.port_no == self.uplink[1]:
                self.totals.set_uplink(switch, stat.port_no, stat)

    # -- switches --------------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    @guarded
    def switch_features(self, ev) -> None:
        datapath = ev.msg.datapath
        switch = self.switch_by_dpid.get(datapath.id)
        if switch is None:
            self.refuse_datapath(datapath)
            return
        with self.lock:
            self._send(datapath, install_messages(datapath, self.compiled, switch, self.lease_s))
            self.datapaths[datapath.id] = datapath
        rules, meters = self.compiled.for_switch(switch)
        LOG.info("installed %d rules, %d meters on %s (dpid %016x)",
                 len(rules), len(meters), switch, datapath.id)

    def refuse_datapath(self, datapath) -> None:
        """A switch that is not one of this run's: close its connection before it gets any
        rule (Ryu's Datapath.close: DEAD state, the socket shut for writing)."""
        self.refused_dpids[datapath.id] = self.refused_dpids.get(datapath.id, 0) + 1
        if len(self.refused_dpids) > 100:
            del self.refused_dpids[next(iter(self.refused_dpids))]
        LOG.warning("refused switch %016x from %s: not one of this run's switches (%s); "
                    "connection closed", datapath.id, getattr(datapath, "address", "?"),
                    ", ".join(f"{d:016x}" for d in sorted(self.switch_by_dpid)))
        datapath.close()

    @set_ev_cls(ofp_event.EventOFPBarrierReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    @guarded
    def barrier_reply(self, ev) -> None:
        event = self.barriers.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if event is not None:
            event.set()

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @guarded
    def port_status(self, ev) -> None:
        """An uplink's link went down or came up: traffic moves to the first uplink up."""
        msg = ev.msg
        ofp = msg.datapath.ofproto
        name = self.uplink_by_port.get((self.switch_by_dpid.get(msg.datapath.id),
                                        msg.desc.port_no))
        if name is None:
            return
        down = bool(msg.desc.state & ofp.OFPPS_LINK_DOWN or msg.desc.config & ofp.OFPPC_PORT_DOWN)
        if down == (name in self.uplinks_down):
            return
        uplinks_down = self.uplinks_down | {name} if down else self.uplinks_down - {name}
        before = active_uplink(self.plan, self.uplinks_down)
        self.apply(self.state, frozenset(uplinks_down))
        active = active_uplink(self.plan, self.uplinks_down)
        self.uplink_changes.append({"t_s": round(self.now_s(), 3), "uplink": name, "down": down,
                                    "active": active})
        del self.uplink_changes[:-100]
        LOG.info("uplink %s %s: allowed traffic over %s%s", name, "down" if down else "up",
                 active, "" if active == before else f" (was {before})")

    def uplinks_view(self) -> dict:
        names = list(self.plan.uplink_ports())
        return {"uplinks": [{"name": n, "down": n in self.uplinks_down} for n in names],
                "active": active_uplink(self.plan, self.uplinks_down),
                "changes": list(self.uplink_changes)}

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    @guarded
    def state_change(self, ev) -> None:
        if ev.state == DEAD_DISPATCHER and self.datapaths.pop(ev.datapath.id, None) is not None:
            LOG.info("switch %s left", self.switch_by_dpid[ev.datapath.id])

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    @guarded
    def openflow_error(self, ev) -> None:
        msg = ev.msg
        switch = self.switch_by_dpid.get(msg.datapath.id, msg.datapath.id)
        self.openflow_errors.append({"switch": switch, "type": msg.type, "code": msg.code,
                                     "t_s": round(self.now_s(), 3)})
        del self.openflow_errors[:-100]
        LOG.error("OpenFlow error from %s: type=%d code=%d data=%s",
                  switch, msg.type, msg.code, msg.data[:64].hex())

    def health(self) -> dict:
        return views.health_view(self.now_s(), list(self.switch_by_dpid.values()),
                                 {self.switch_by_dpid[d] for d in self.datapaths}, self.lease_s,
                                 self.openflow_errors, self.exceptions,
                                 {f"{d:016x}": n for d, n in self.refused_dpids.items()})


def _read_token(path: str | None) -> str | None:
    if not path:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as error:
        raise SystemExit(f"cannot read the API token from {path}: {error}") from None
    if not token:
        raise SystemExit(f"the API token file {path} is empty")
    return token


# -- the REST API ------------------------------------------------------------------------------

def _read(make):
    return lambda app, req: make(app)


def _change(make_state):
    """A change: validate (RequestError -> 4xx), compile, install, wait for the barriers."""
    def answer(app, req, **path):
        state = make_state(app, requests.parse_body(req.body), **path)
        enforced = app.wait_enforced(app.apply(state))  # apply compiles before sending
        return views.change_view(app.plan, app.state, app.now_s(), enforced)
    return answer


ROUTES = {  # "METHOD path" -> answer(app, request, **path variables) -> JSON
    "GET /v1/policy": _read(lambda app: views.policy_view(app.plan, app.state, app.now_s())),
    "GET /v1/tiers": _read(lambda app: views.tiers_view(app.plan, app.state)),
    "GET /v1/counters": _read(lambda app: app.counters_line()),
    "GET /v1/health": _read(lambda app: app.health()),
    "GET /v1/uplinks": _read(lambda app: app.uplinks_view()),
    "POST /v1/blocklist": _change(
        lambda app, body: requests.block_site(app.plan, app.state, body)),
    "DELETE /v1/blocklist/{site}": _change(
        lambda app, body, site: requests.unblock_site(app.plan, app.state, site)),
    "DELETE /v1/blocklist/{site}/tiers/{tier}": _change(
        lambda app, body, site, tier: requests.unblock_site(app.plan, app.state, site, tier)),
    "PUT /v1/subscribers/{subscriber}/tier": _change(
        lambda app, body, subscriber: requests.move_subscriber(app.plan, app.state, subscriber,
                                                               body)),
    "PUT /v1/tiers/{tier}/zones": _change(
        lambda app, body, tier: requests.set_tier_zones(app.plan, app.state, tier, body)),
    "PUT /v1/tiers/{tier}/rate": _change(
        lambda app, body, tier: requests.set_tier_rate(app.plan, app.state, tier, body)),
}


def _json(data, status: int = 200) -> Response:
    return Response(status=status, content_type="application/json", charset="utf-8",
                    body=(json.dumps(data, indent=1) + "\n").encode())


class PolicyApi(ControllerBase):
    """JSON over HTTP on the controller's --wsapi-host/--wsapi-port (127.0.0.1 unless the run
    says otherwise, and then with a token)."""

    @classmethod
    def register(cls, wsgi: WSGIApplication, app: TieredRouting) -> None:
        """ROUTES, then (routes tries them in the order connected) a known path with another
        method -> 405, and any other path -> 404."""
        wsgi.register(cls, {"app": app})
        for route_key in ROUTES:
            method, path = route_key.split(" ")
            wsgi.mapper.connect(path, controller=cls, action="answer", route_key=route_key,
                                conditions={"method": [method]})
        for path in dict.fromkeys(key.split(" ")[1] for key in ROUTES):
            allowed = ", ".join(k.split(" ")[0] for k in ROUTES if k.endswith(" " + path))
            wsgi.mapper.connect(path, controller=cls, action="refuse", status=405,
                                allowed=allowed)
        wsgi.mapper.connect("/{anything:.*}", controller=cls, action="refuse", status=404,
                            allowed="")

    def unauthorized(self, req) -> Response | None:
        """With a token configured: 401 unless the request carries it as a Bearer token."""
        token = self.data["app"].api_token
        if token is None:
            return None
        scheme, _, given = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):
            return None
        message = ("missing or wrong API token: send 'Authorization: Bearer TOKEN' with the "
                   "token in the run's api-token file")
        response = _json(views.error_view(message, 401, "Authorization"), 401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    def answer(self, req, route_key, **path):
        app = self.data["app"]
        refused = self.unauthorized(req)
        if refused is not None:
            return refused
        try:
            return _json(ROUTES[route_key](app, req, **path))
        except requests.RequestError as error:
            return _json(error.to_dict(), error.status)
        except Exception as error:
            app.record_exception(f"REST {route_key}", error)
            return _json(views.error_view(f"{type(error).__name__}: {error}", 500), 500)

    def refuse(self, req, status, allowed, **path):
        unauthorized = self.unauthorized(req)
        if unauthorized is not None:
            return unauthorized
        status = int(status)
        message = (f"{req.method} is not allowed on {req.path}; allowed: {allowed}"
                   if status == 405 else f"no such path: {req.path}; see docs/openapi.yaml")
        response = _json(views.error_view(message, status), status)
        if allowed:
            response.headers["Allow"] = allowed
        return response
