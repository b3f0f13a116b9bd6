"""The Ryu app on fake datapaths: its handlers run, every message is serialized to OpenFlow 1.3
bytes, parsed back, and replayed into fake switches to see where packets go. No switch, no
network: the REST API is called through Ryu's own WSGI application object."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from webob import Request

from hermitnet.policy import requests
from hermitnet.policy.compile import compile_policy, cookie, subscriber_meter_id
from hermitnet.policy.pipeline import CLASSIFY, FORWARD, POLICY
from hermitnet.policy.state import PolicyState
from tests.unit.fakedatapath import (
    FakeDatapath,
    WSGIApplication,
    build_app,
    connect_all,
    kind,
    ofp,
    parser,
    replay,
    tiered_routing,
)
from tests.unit.fakeswitch import FakeNetwork


@pytest.fixture
def make_app(baseline, baseline_plan, tmp_path, monkeypatch):
    def make(state=None, **extra):
        return build_app(baseline_plan, state or PolicyState.from_scenario(baseline), tmp_path,
                         monkeypatch, **extra)
    return make


def test_connect_installs_the_whole_compiled_policy(make_app, baseline, baseline_plan):
    app = make_app()
    compiled = compile_policy(baseline_plan, PolicyState.from_scenario(baseline))
    datapath = FakeDatapath(baseline_plan.switch("border").dpid, app)
    app.switch_features(SimpleNamespace(msg=SimpleNamespace(datapath=datapath)))
    messages = datapath.take()
    kinds = [kind(m) for m in messages]
    # clear flows and meters, barrier, meters, flows, barrier
    assert kinds[:3] == ["OFPFlowMod", "OFPMeterMod", "OFPBarrierRequest"]
    assert messages[0].command == ofp.OFPFC_DELETE and messages[0].table_id == ofp.OFPTT_ALL
    assert messages[1].command == ofp.OFPMC_DELETE and messages[1].meter_id == ofp.OFPM_ALL
    assert kinds[-1] == "OFPBarrierRequest"
    adds = [m for m in messages[3:-1] if kind(m) == "OFPFlowMod"]
    assert all(m.command == ofp.OFPFC_ADD for m in adds)
    rules, _ = compiled.for_switch("border")
    per_table = {t: sum(1 for m in adds if m.table_id == t) for t in (CLASSIFY, POLICY, FORWARD)}
    assert per_table == {t: sum(1 for r in rules if r.table == t)
                         for t in (CLASSIFY, POLICY, FORWARD)}
    assert {(m.table_id, m.priority, m.cookie) for m in adds} == {
        (r.table, r.priority, r.cookie) for r in rules}
    xids = [m.xid for m in messages]
    assert len(set(xids)) == len(xids)
    # leased rules carry the lease as a hard timeout, and only they do
    leased = {(m.table_id, m.priority, m.cookie) for m in adds if m.hard_timeout}
    assert leased == {(r.table, r.priority, r.cookie) for r in rules if r.lease}
    assert {m.hard_timeout for m in adds if m.hard_timeout} == {int(app.lease_s)}


def test_what_the_app_sends_forwards_packets_like_the_compiler(make_app, baseline_plan):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    net = FakeNetwork(baseline_plan, replay(baseline_plan, datapaths))
    ip = {h.name: h.ip for h in baseline_plan.hosts}
    assert net.send("citizen-1", ip["video"]).drop == ("nb-pyongyang-1", "denied")
    assert net.send("elite-1", ip["video"]).delivered_to == "video"
    assert net.send("video", ip["elite-1"]).delivered_to == "elite-1"
    assert net.send("video", ip["citizen-1"]).drop == ("border", "denied")
    assert net.send("library-1", ip["news"]).delivered_to == "news"
    assert net.send("cafe-1", ip["news"], src_ip=ip["elite-1"]).drop == ("fixed", "spoofed")


def test_policy_changes_send_only_the_difference(make_app, baseline_plan):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    switches = replay(baseline_plan, datapaths)
    net = FakeNetwork(baseline_plan, switches)
    ip = {h.name: h.ip for h in baseline_plan.hosts}

    waits = app.apply(requests.block_site(baseline_plan, app.state, {"site": "video"}))
    sent = {name: datapath.take() for name, datapath in datapaths.items()}
    for name, messages in sent.items():
        # one blocklist rule per tier, then a barrier; nothing cleared, nothing else resent
        tiers = len(baseline_plan.tier_index)
        assert [kind(m) for m in messages] == ["OFPFlowMod"] * tiers + ["OFPBarrierRequest"]
        assert {(m.command, m.table_id, m.priority) for m in messages[:-1]} == {
            (ofp.OFPFC_ADD, POLICY, 300)}
        for msg in messages:
            switches[name].apply_message(msg)
    assert app.wait_enforced(waits)["all_confirmed"]
    assert net.send("elite-1", ip["video"]).drop == ("nb-pyongyang-1", "blocked")

    app.apply(requests.unblock_site(baseline_plan, app.state, "video"))
    for name, datapath in datapaths.items():
        messages = datapath.take()
        assert [m.command for m in messages if kind(m) == "OFPFlowMod"] == [
            ofp.OFPFC_DELETE_STRICT] * len(baseline_plan.tier_index)
        for msg in messages:
            switches[name].apply_message(msg)
    assert net.send("elite-1", ip["video"]).delivered_to == "video"

    # a move replaces the subscriber's classify rule (counters restart under its new cookie)
    app.apply(requests.move_subscriber(baseline_plan, app.state, "elite-1", {"tier": "citizen"}))
    messages = datapaths["nb-pyongyang-1"].take()
    classify = [m for m in messages if kind(m) == "OFPFlowMod" and m.table_id == CLASSIFY]
    # its classify and spoofed rules now carry the citizen class
    assert len(classify) == 2 and all(m.flags & ofp.OFPFF_RESET_COUNTS for m in classify)
    for msg in messages:
        switches["nb-pyongyang-1"].apply_message(msg)
    replay(baseline_plan, datapaths, switches)
    assert net.send("elite-1", ip["video"]).drop == ("nb-pyongyang-1", "denied")


def test_rate_changes_add_modify_and_remove_meters(make_app, baseline_plan):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    switches = replay(baseline_plan, datapaths)
    elite_meter = subscriber_meter_id(baseline_plan, "elite-1")

    def change(rate):
        app.apply(requests.set_tier_rate(baseline_plan, app.state, "elite", {"rate_mbps": rate}))
        messages = datapaths["nb-pyongyang-1"].take()
        for msg in messages:
            switches["nb-pyongyang-1"].apply_message(msg)
        replay(baseline_plan, datapaths, switches)
        return [(kind(m), getattr(m, "command", None)) for m in messages]

    assert change(2) == [("OFPMeterMod", ofp.OFPMC_ADD), ("OFPFlowMod", ofp.OFPFC_ADD),
                         ("OFPBarrierRequest", None)]
    hop = switches["nb-pyongyang-1"].process(baseline_plan.host("elite-1").port,
                                             {"eth_type": 0x0800,
                                              "ipv4_src": baseline_plan.host("elite-1").ip,
                                              "ipv4_dst": baseline_plan.host("news").ip})
    assert hop.meters == [elite_meter]
    assert change(1) == [("OFPMeterMod", ofp.OFPMC_MODIFY), ("OFPBarrierRequest", None)]
    assert change(None) == [("OFPFlowMod", ofp.OFPFC_ADD), ("OFPMeterMod", ofp.OFPMC_DELETE),
                            ("OFPBarrierRequest", None)]
    assert switches["nb-pyongyang-1"].meters == set()


def test_meter_mods_carry_rate_and_burst(make_app, baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    state = state.with_changes(tier_rate_mbps={**state.tier_rate_mbps, "visitor": 1.5})
    app = make_app(state)
    datapath = FakeDatapath(baseline_plan.switch("nb-pyongyang-2").dpid, app)
    app.switch_features(SimpleNamespace(msg=SimpleNamespace(datapath=datapath)))
    (meter,) = [m for m in datapath.take() if kind(m) == "OFPMeterMod"
                and m.command == ofp.OFPMC_ADD]
    assert meter.meter_id == subscriber_meter_id(baseline_plan, "visitor-1")
    assert meter.flags == ofp.OFPMF_KBPS | ofp.OFPMF_BURST | ofp.OFPMF_STATS
    (band,) = meter.bands
    assert band.rate == 1500 and band.burst_size == 750


def test_lease_renewal_resends_only_leased_rules_to_border(make_app, baseline_plan):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    replay(baseline_plan, datapaths)
    app.renew_leases()
    sent = {name: datapath.take() for name, datapath in datapaths.items()}
    assert all(not messages for name, messages in sent.items() if name != "border")
    border = sent["border"]
    global_hosts = [h for h in baseline_plan.hosts if h.zone == "global"]
    # forwarding to every global-zone host, classifying the zone and the foreign resolver
    assert len(border) == len(global_hosts) + 2
    assert all(m.command == ofp.OFPFC_ADD and m.hard_timeout == int(app.lease_s)
               and not m.flags & ofp.OFPFF_RESET_COUNTS for m in border)


def test_switch_not_in_plan_is_ignored_and_leaving_switches_are_forgotten(make_app,
                                                                          baseline_plan):
    app = make_app()
    stranger = FakeDatapath(0xDEAD, app)
    app.switch_features(SimpleNamespace(msg=SimpleNamespace(datapath=stranger)))
    assert stranger.wire == [] and app.datapaths == {}
    datapaths = connect_all(app, baseline_plan)
    core = datapaths["core"]
    app.state_change(SimpleNamespace(datapath=core, state=tiered_routing.DEAD_DISPATCHER))
    assert core.id not in app.datapaths
    core.take()
    app.apply(requests.block_site(baseline_plan, app.state, {"site": "video"}))
    assert core.wire == []


def test_stats_polls_and_counter_totals(make_app, baseline_plan):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    replay(baseline_plan, datapaths)
    border = datapaths["border"]
    for request in tiered_routing.stats_requests(border, app.uplink[1]):
        border.send_msg(request)
    kinds = [m.stats_type for m in border.take()]
    assert kinds == [ofp.OFPMP_FLOW, ofp.OFPMP_METER, ofp.OFPMP_PORT_STATS]
    assert app.uplink == baseline_plan.uplink_port()


def test_flow_and_meter_stats_replies_feed_the_counters(make_app, baseline_plan, tmp_path):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    nb = datapaths["nb-pyongyang-1"]

    def reply(body, flags=0):
        return SimpleNamespace(msg=SimpleNamespace(datapath=nb, xid=77, flags=flags, body=body))

    match = parser.OFPMatch(in_port=1)
    stat = parser.OFPFlowStats(table_id=1, priority=10, cookie=cookie("denied", 1),
                               packet_count=7, byte_count=700, match=match)
    app.flow_stats(reply([stat], flags=ofp.OFPMPF_REPLY_MORE))
    assert app.totals.flows == {}                       # waits for the last part
    other = parser.OFPFlowStats(table_id=1, priority=11, cookie=cookie("denied", 1),
                                packet_count=7, byte_count=700, match=match)
    app.flow_stats(reply([other]))
    app.poll_counters()
    line = json.loads((tmp_path / "counters.jsonl").read_text().splitlines()[-1])
    assert line["flows"]["citizen"]["denied"] == {"packets": 14, "bytes": 1400}
    assert line["t_s"] == 10.0 and line["switches"] == len(datapaths)


def test_meter_and_port_stats_replies_feed_the_counters(make_app, baseline, baseline_plan):
    state = PolicyState.from_scenario(baseline)
    app = make_app(state.with_changes(tier_rate_mbps={**state.tier_rate_mbps, "elite": 2.0}))
    datapaths = connect_all(app, baseline_plan)
    elite = baseline_plan.host("elite-1")
    nb = datapaths[elite.switch]

    def reply(datapath, body):
        return SimpleNamespace(msg=SimpleNamespace(datapath=datapath, xid=9, flags=0, body=body))

    band = parser.OFPMeterBandStats(packet_band_count=5, byte_band_count=7500)
    app.meter_stats(reply(nb, [
        parser.OFPMeterStats(meter_id=subscriber_meter_id(baseline_plan, "elite-1"),
                             packet_in_count=40, byte_in_count=60000, band_stats=[band]),
        parser.OFPMeterStats(meter_id=999, packet_in_count=1, byte_in_count=1, band_stats=[])]))
    assert app.totals.meters == {"elite": {"band_drop_packets": 5, "band_drop_bytes": 7500,
                                           "in_packets": 40, "in_bytes": 60000}}
    assert app.totals.subscribers == {"elite-1": app.totals.meters["elite"]}
    switch, port = baseline_plan.uplink_port()
    stat = SimpleNamespace(port_no=port, rx_packets=1, rx_bytes=100, tx_packets=2, tx_bytes=200,
                           rx_dropped=0, tx_dropped=0)
    app.port_stats(reply(datapaths[switch], [stat]))
    assert app.counters_line()["uplink"] == {
        "switch": switch, "port": port, "rx_packets": 1, "rx_bytes": 100, "tx_packets": 2,
        "tx_bytes": 200, "rx_dropped": 0, "tx_dropped": 0}
    assert app.exceptions == 0


def test_openflow_errors_show_in_health(make_app, baseline_plan):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    msg = SimpleNamespace(datapath=datapaths["core"], type=1, code=2, data=b"\x04\x0e")
    app.openflow_error(SimpleNamespace(msg=msg))
    assert app.health()["openflow_errors"] == [{"switch": "core", "type": 1, "code": 2,
                                                "t_s": 10.0}]
    assert app.exceptions == 0


# -- the REST API through Ryu's WSGI application -----------------------------------------------

@pytest.fixture
def api(make_app, baseline_plan):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    replay(baseline_plan, datapaths)
    wsgi = WSGIApplication()
    tiered_routing.PolicyApi.register(wsgi, app)

    def call(method, path, body=None):
        request = Request.blank(path, method=method)
        if body is not None:
            request.body = body if isinstance(body, bytes) else json.dumps(body).encode()
            request.content_type = "application/json"
        response = request.get_response(wsgi)
        if response.content_type != "application/json":
            return response.status_int, None
        return response.status_int, json.loads(response.body)

    return SimpleNamespace(app=app, call=call, datapaths=datapaths, wsgi=wsgi)


def test_api_reads_policy_tiers_health_counters(api):
    status, policy = api.call("GET", "/v1/policy")
    assert status == 200 and policy["now_s"] == 10.0 and policy["blocklist"] == []
    status, tiers = api.call("GET", "/v1/tiers")
    assert status == 200 and {m["name"] for m in tiers["elite"]["members"]} == {"elite-1"}
    status, health = api.call("GET", "/v1/health")
    assert status == 200 and all(health["switches"].values())
    status, counters = api.call("GET", "/v1/counters")
    assert status == 200 and set(counters) >= {"t_s", "flows", "meters", "uplink"}


def test_api_block_is_installed_and_confirmed(api):
    status, body = api.call("POST", "/v1/blocklist", {"site": "video"})
    assert status == 200, body
    assert body["policy"]["blocklist"][0] == {"site": "video", "tier": None, "reason": ""}
    assert body["enforced"]["all_confirmed"]
    assert len(body["enforced"]["switches_changed"]) == len(api.datapaths)
    assert all(any(getattr(m, "priority", 0) == 300 for m in d.take())
               for d in api.datapaths.values())
    status, body = api.call("DELETE", "/v1/blocklist/video")
    assert status == 200 and body["policy"]["blocklist"] == []


def test_api_block_for_one_tier_and_change_zones(api):
    status, body = api.call("POST", "/v1/blocklist", {"site": "video", "tier": "elite"})
    assert status == 200 and body["policy"]["blocklist"] == [
        {"site": "video", "tier": "elite", "reason": ""}]
    status, body = api.call("DELETE", "/v1/blocklist/video/tiers/elite")
    assert status == 200 and body["policy"]["blocklist"] == []
    status, body = api.call("PUT", "/v1/tiers/visitor/zones", {"zones": ["national"]})
    assert status == 200 and body["policy"]["tiers"]["visitor"]["zones"] == ["national"]
    assert body["enforced"]["all_confirmed"]
    assert api.app.state.tier_zones["visitor"] == ("national",)


@pytest.mark.parametrize("method,path,body,status,field", [
    ("POST", "/v1/blocklist", {"site": "nosuch"}, 404, "site"),
    ("POST", "/v1/blocklist", {"site": "video", "until_s": 3}, 400, "until_s"),
    ("POST", "/v1/blocklist", {"site": "video", "tier": "royal"}, 400, "tier"),
    ("DELETE", "/v1/blocklist/video/tiers/elite", None, 404, "site"),
    ("PUT", "/v1/tiers/elite/zones", {"zones": ["mars"]}, 400, "zones"),
    ("PUT", "/v1/tiers/royal/zones", {"zones": []}, 404, "tier"),
    ("POST", "/v1/blocklist", b"{not json", 400, "body"),
    ("DELETE", "/v1/blocklist/video", None, 404, "site"),
    ("PUT", "/v1/subscribers/elite-1/tier", {"tier": "royal"}, 400, "tier"),
    ("PUT", "/v1/subscribers/nobody/tier", {"tier": "citizen"}, 404, "subscriber"),
    ("PUT", "/v1/tiers/elite/rate", {"rate_mbps": -1}, 400, "rate_mbps"),
    ("PUT", "/v1/tiers/royal/rate", {"rate_mbps": 1}, 404, "tier"),
])
def test_api_rejects_bad_requests_and_sends_nothing(api, method, path, body, status, field):
    before = api.app.state
    got, answer = api.call(method, path, body)
    assert (got, answer["field"]) == (status, field), answer
    assert answer["error"]
    assert api.app.state == before
    assert all(d.wire == [] for d in api.datapaths.values())


def test_api_move_and_rate(api, baseline_plan):
    status, body = api.call("PUT", "/v1/subscribers/elite-1/tier", {"tier": "visitor"})
    assert status == 200
    assert "elite-1" in {m["name"] for m in body["policy"]["tiers"]["visitor"]["members"]}
    status, body = api.call("PUT", "/v1/tiers/visitor/rate", {"rate_mbps": 0.5})
    assert status == 200 and body["policy"]["tiers"]["visitor"]["rate_mbps"] == 0.5
    meters = [m for d in api.datapaths.values() for m in d.take() if kind(m) == "OFPMeterMod"]
    assert {m.meter_id for m in meters} == {subscriber_meter_id(baseline_plan, "elite-1"),
                                            subscriber_meter_id(baseline_plan, "visitor-1")}


def test_live_policy_survives_a_restart_of_the_same_run_only(make_app, baseline_plan, tmp_path):
    app = make_app()
    app.apply(requests.block_site(baseline_plan, app.state, {"site": "video"}))
    again = make_app()
    assert [b.site for b in again.state.blocklist] == ["video"]
    other_run = make_app(started_at=2000.0)
    assert other_run.state.blocklist == ()


@pytest.mark.parametrize("method,path,status,allow", [
    ("GET", "/v1/nothing", 404, None),
    ("GET", "/", 404, None),
    ("GET", "/v1/blocklist/video/more", 404, None),
    ("POST", "/v1/policy", 405, "GET"),
    ("GET", "/v1/blocklist", 405, "POST"),
    ("PUT", "/v1/blocklist/video", 405, "DELETE"),
    ("GET", "/v1/tiers/elite/rate", 405, "PUT"),
])
def test_unknown_paths_and_methods_answer_json(api, method, path, status, allow):
    request = Request.blank(path, method=method)
    response = request.get_response(api.wsgi)
    assert response.status_int == status and response.content_type == "application/json"
    assert json.loads(response.body) == {"error": json.loads(response.body)["error"],
                                         "field": None, "status": status}
    assert response.headers.get("Allow") == allow
    assert all(d.wire == [] for d in api.datapaths.values())


def errors_recorded(tmp_path) -> list[dict]:
    path = tmp_path / "controller-errors.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_handler_exception_is_logged_counted_and_recorded(make_app, baseline_plan, tmp_path,
                                                            caplog):
    app = make_app()
    datapaths = connect_all(app, baseline_plan)
    nb = datapaths["nb-pyongyang-1"]
    # a flow stats reply whose entry lacks the fields the handler reads
    broken = SimpleNamespace(msg=SimpleNamespace(datapath=nb, xid=5, flags=0,
                                                 body=[SimpleNamespace(table_id=1)]))
    with caplog.at_level("ERROR", logger="hermitnet.controller"):
        app.flow_stats(broken)                      # does not raise: the app keeps serving
    assert app.exceptions == 1
    assert errors_recorded(tmp_path) == [
        {"time_s": 10.0, "where": "flow_stats",
         "error": "AttributeError: 'types.SimpleNamespace' object has no attribute 'priority'"}]
    (record,) = [r for r in caplog.records if r.name == "hermitnet.controller"]
    assert record.exc_info is not None and "flow_stats" in record.getMessage()
    assert app.health()["exceptions"] == 1
    # and the next reply is handled as usual
    stat = parser.OFPFlowStats(table_id=1, priority=10, cookie=cookie("denied", 1),
                               packet_count=3, byte_count=300, match=parser.OFPMatch(in_port=1))
    app.flow_stats(SimpleNamespace(msg=SimpleNamespace(datapath=nb, xid=6, flags=0,
                                                       body=[stat])))
    assert app.totals.flows["citizen"]["denied"]["packets"] == 3


def test_every_handler_and_periodic_task_is_guarded():
    handlers = [name for name in dir(tiered_routing.TieredRouting)
                if hasattr(getattr(tiered_routing.TieredRouting, name), "callers")]
    assert len(handlers) == 8
    for name in (*handlers, "renew_leases", "poll_counters"):
        method = getattr(tiered_routing.TieredRouting, name)
        assert method.__wrapped__ is not None, name      # wrapped by tiered_routing.guarded


def test_a_periodic_task_that_raises_is_recorded(make_app, baseline_plan, tmp_path):
    app = make_app()
    connect_all(app, baseline_plan)
    app.datapaths[0xBAD] = FakeDatapath(0xBAD, app)      # a datapath the plan does not know
    app.renew_leases()
    assert [e["where"] for e in errors_recorded(tmp_path)] == ["renew_leases"]
    assert errors_recorded(tmp_path)[0]["error"].startswith("KeyError")
    for _ in range(tiered_routing.MAX_RECORDED_EXCEPTIONS + 4):   # failing on every round
        app.renew_leases()
    assert app.exceptions == tiered_routing.MAX_RECORDED_EXCEPTIONS + 5
    assert len(errors_recorded(tmp_path)) == tiered_routing.MAX_RECORDED_EXCEPTIONS


def test_a_rest_view_that_raises_answers_500_and_is_recorded(api, tmp_path, monkeypatch):
    def broken():
        raise RuntimeError("counters unavailable")

    monkeypatch.setattr(api.app, "counters_line", broken)
    status, answer = api.call("GET", "/v1/counters")
    assert status == 500
    assert answer == {"error": "RuntimeError: counters unavailable", "field": None, "status": 500}
    assert errors_recorded(tmp_path) == [{"time_s": 10.0, "where": "REST GET /v1/counters",
                                          "error": "RuntimeError: counters unavailable"}]
    assert api.app.exceptions == 1
    status, _ = api.call("GET", "/v1/policy")              # the API keeps serving
    assert status == 200


def test_openapi_document_lists_exactly_the_routes_the_app_serves():
    import yaml

    document = yaml.safe_load((tiered_routing.Path(tiered_routing.__file__).parents[1] / "docs"
                               / "openapi.yaml").read_text())
    documented = {f"{method.upper()} {path}" for path, item in document["paths"].items()
                  for method in item}
    assert documented == set(tiered_routing.ROUTES)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "500" in operation["responses"], f"{method} {path}"
    assert {"NoSuchPath", "MethodNotAllowed", "Failed"} <= set(document["components"]["responses"])
    assert "404" in document["info"]["description"] and "405" in document["info"]["description"]


def test_recorded_exceptions_reach_results_and_fail_the_run(make_app, baseline_plan, tmp_path):
    import jsonschema

    from hermitnet import runner, schema_check
    from hermitnet.emulation.controller import ControllerProcess
    from hermitnet.errors import HermitError

    process = ControllerProcess({}, tmp_path, manifest=None)     # reads what the app wrote
    assert process.errors() == []
    app = make_app()
    app.datapaths[0xBAD] = FakeDatapath(0xBAD, app)
    app.renew_leases()
    with open(process.errors_path, "a") as handle:
        handle.write('{"time_s": 3')                              # cut short by a kill
    errors = process.errors()
    assert [e["where"] for e in errors] == ["renew_leases", "controller-errors.jsonl"]
    schema = schema_check.load_schema("results")["properties"]["controller"]
    jsonschema.validate({"errors": errors}, schema)
    with pytest.raises(HermitError, match=r"raised 2 exception\(s\).* in renew_leases: KeyError"):
        runner._fail_if_the_controller_raised(errors)
    runner._fail_if_the_controller_raised([])
