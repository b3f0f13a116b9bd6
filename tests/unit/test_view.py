"""The live view without root: topology layout, rates, leakage events, snapshots, the server."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hermitnet import plan as plan_module
from hermitnet import runner, scenario
from hermitnet.policy.compile import compile_policy
from hermitnet.policy.state import PolicyState
from hermitnet.view import server, snapshot

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "hermitnet" / "view" / "static" / "vendor"


@pytest.fixture(scope="module")
def border_plan():
    return plan_module.build(scenario.load(REPO / "scenarios" / "border.yaml"), run_tag=7,
                             prefix="hnbv")


def test_topology_has_every_node_and_link_with_a_root_namespace_interface(baseline_plan):
    topo = snapshot.topology(baseline_plan)
    ids = [n["id"] for n in topo["nodes"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {s.name for s in baseline_plan.switches} | {
        h.name for h in baseline_plan.hosts}
    assert len(topo["edges"]) == len(baseline_plan.links)
    switch_ports = {f"{s.node}-eth{p}" for s in baseline_plan.switches
                    for p in range(1, 64)}
    for edge in topo["edges"]:
        assert edge["source"] in ids and edge["target"] in ids
        assert edge["interface"] in switch_ports, edge  # a switch end, never a host's
    uplink = next(e for e in topo["edges"] if e["kind"] == "uplink")
    assert (uplink["source"], uplink["target"]) == ("border", "global")
    assert uplink["bw_mbps"] == 10
    assert topo["tiers"] == ["citizen", "public", "elite", "visitor"]
    labels = {n["id"]: n["label"] for n in topo["nodes"]}
    assert labels["border"] == "border gateway" and labels["nb-pyongyang-1"].startswith("NodeB")


def test_topology_reads_left_to_right_and_groups_phones_by_cell(baseline_plan):
    nodes = {n["id"]: n for n in snapshot.topology(baseline_plan)["nodes"]}
    x = {name: node["x"] for name, node in nodes.items()}
    assert x["citizen-1"] < x["nb-pyongyang-1"] < x["rnc"] < x["core"] < x["border"] < x["global"]
    assert x["core"] < x["intranet"] < x["news"] < x["video"]
    phones = sorted((n for n in nodes.values() if n["kind"] == "mobile"), key=lambda n: n["y"])
    cells = [n["switch"] for n in phones]
    assert cells == sorted(cells, key=cells.index)  # each cell's phones are together
    on_first = [n["y"] for n in phones if n["switch"] == "nb-pyongyang-1"]
    assert min(on_first) <= nodes["nb-pyongyang-1"]["y"] <= max(on_first)


def test_topology_shows_foreign_cells_next_to_the_foreign_ran(border_plan):
    topo = snapshot.topology(border_plan, ("changbai-1", "changbai-2"))
    cells = [n for n in topo["nodes"] if n["kind"] == "foreign-cell"]
    assert [c["id"] for c in cells] == ["cell:changbai-1", "cell:changbai-2"]
    radio_edges = [e for e in topo["edges"] if e["kind"] == "foreign-radio"]
    assert {e["target"] for e in radio_edges} == {"foreign"}
    assert all(e["interface"] is None for e in radio_edges)


def test_link_rates_in_mbps_and_load_against_the_link_rate(baseline_plan):
    topo = snapshot.topology(baseline_plan)
    uplink = next(e for e in topo["edges"] if e["kind"] == "uplink")
    core = next(e for e in topo["edges"] if e["kind"] == "core")
    before = {uplink["interface"]: (1000, 0), core["interface"]: (0, 0)}
    # 0.5 s: uplink 625 000 bytes out = 10 Mbit/s (its whole rate), 62 500 in = 1 Mbit/s.
    after = {uplink["interface"]: (1000 + 62_500, 625_000), core["interface"]: (0, 625_000)}
    rates = snapshot.link_rates(topo, before, after, 0.5)
    assert rates[uplink["id"]] == {"rx_mbps": 1.0, "tx_mbps": 10.0, "load": 1.0}
    # Unshaped: against UNSHAPED_REFERENCE_MBPS.
    assert rates[core["id"]]["load"] == pytest.approx(10 / snapshot.UNSHAPED_REFERENCE_MBPS)
    assert len(rates) == 2  # links without two readings have no rate
    # A counter that went down (interface re-created) is no negative rate.
    assert snapshot.link_rates(topo, after, before, 0.5)[uplink["id"]]["load"] == 0


def test_leak_events_are_what_grew_and_what_the_rule_calls_leakage():
    before = {"video": {"citizen-1": {"packets": 1, "bytes": 100},
                        "elite-1": {"packets": 1, "bytes": 100}}}
    after = {"video": {"citizen-1": {"packets": 3, "bytes": 400},
                       "elite-1": {"packets": 9, "bytes": 900},
                       "probe:7": {"packets": 1, "bytes": 60}},
             "news": {"citizen-1": {"packets": 0, "bytes": 0}}}

    def judge(site, key):
        if key == "elite-1":
            return None
        probe = key.startswith("probe:")
        return {"source": "citizen-2" if probe else key, "sender_class": "citizen",
                "path": "tunnel" if probe else "uplink",
                "probe_kind": "tunnel-dns" if probe else None}

    events = snapshot.leak_events(before, after, judge, 12.34)
    assert events == [
        {"t_s": 12.3, "site": "video", "sender": "citizen-1", "tier": "citizen",
         "path": "uplink", "kind": "traffic", "bytes": 300},
        {"t_s": 12.3, "site": "video", "sender": "citizen-2", "tier": "citizen",
         "path": "tunnel", "kind": "tunnel-dns", "bytes": 60},
    ]
    assert snapshot.leak_events(after, after, judge, 13) == []


COUNTERS_LINE = {
    "t_s": 49.9, "epoch": 1.0, "switches": 7,
    "flows": {
        "citizen": {"classify": {"packets": 10, "bytes": 1}, "allow": {"packets": 6, "bytes": 1},
                    "denied": {"packets": 4, "bytes": 1}},
        "elite": {"allow": {"packets": 8, "bytes": 1}, "blocked": {"packets": 2, "bytes": 1}},
        "-": {"trunk": {"packets": 99, "bytes": 1}},
        "zone:intranet": {"allow": {"packets": 5, "bytes": 1}},
    },
    "meters": {}, "meters_by_subscriber": {},
    "uplink": {"switch": "border", "port": 2, "rx_bytes": 10, "tx_bytes": 20, "rx_packets": 1,
               "tx_packets": 2, "rx_dropped": 0, "tx_dropped": 0},
}
POLICY = {
    "now_s": 50.0,
    "tiers": {"citizen": {"zones": ["intranet"], "rate_mbps": None,
                          "members": [{"name": "citizen-1", "ip": "100.64.0.10"}]},
              "elite": {"zones": ["intranet", "global"], "rate_mbps": 1.5,
                        "members": [{"name": "elite-1", "ip": "100.64.2.10"},
                                    {"name": "citizen-2", "ip": "100.64.0.11"}]}},
    "blocklist": [{"site": "video", "tier": None, "reason": "2016 list"},
                  {"site": "social", "tier": "citizen", "reason": ""}],
    "sites": {"video": {"zone": "global", "ip": "198.18.0.12"}},
}


def test_snapshot_from_counters_and_policy(baseline_plan):
    topo = snapshot.topology(baseline_plan)
    radio = {"citizen-1": {"cell": None, "cell_kind": None, "rate_mbps": 0, "loss_pct": 100}}
    leakage = {"by_tier": {}, "by_path": {}, "events": [], "source": "test"}
    snap = snapshot.snapshot(topo, t_s=41.26, phase="network up", counters_line=COUNTERS_LINE,
                             policy=POLICY, rates={}, radio=radio, leakage=leakage)
    assert snap["t_s"] == 41.3 and snap["controller"] is True
    assert snap["counters"] == {
        "citizen": {"allow": 6, "denied": 4, "blocked": 0, "spoofed": 0},
        "elite": {"allow": 8, "denied": 0, "blocked": 2, "spoofed": 0},
    }
    assert snap["membership"] == {"citizen-1": "citizen", "elite-1": "elite",
                                  "citizen-2": "elite"}
    assert [(b["site"], b["tier"]) for b in snap["blocklist"]] == [("video", None),
                                                                   ("social", "citizen")]
    assert snap["tiers"]["elite"]["rate_mbps"] == 1.5
    assert snap["uplink"] == {"rx_bytes": 10, "tx_bytes": 20, "rx_dropped": 0, "tx_dropped": 0}
    assert snap["radio"] == radio
    json.dumps(snap)  # what the page receives


def test_snapshot_before_the_controller_answers(baseline_plan):
    snap = snapshot.snapshot(snapshot.topology(baseline_plan), t_s=0, phase="", rates={},
                             counters_line=None, policy=None, radio={}, leakage={})
    assert snap["controller"] is False and snap["blocklist"] == [] and snap["counters"] == {}
    assert snap["counters_t_s"] is None


def test_last_counters_line_skips_a_line_being_written(tmp_path):
    path = tmp_path / "counters.jsonl"
    assert server.last_counters_line(path) is None
    path.write_text(json.dumps({"t_s": 1}) + "\n" + json.dumps({"t_s": 2}) + "\n{\"t_s\": 3, ")
    assert server.last_counters_line(path) == {"t_s": 2}


def test_vendored_libraries_carry_licence_and_version():
    readme = (VENDOR / "README.md").read_text()
    for folder, version, header in (
            ("cytoscape", "3.35.0", "cytoscape.min.js"), ("uplot", "1.6.32", "uPlot.iife.min.js")):
        assert (VENDOR / folder / "LICENSE").read_text().count("Permission is hereby granted")
        assert re.search(rf"\| {folder}/ \|.*\| {re.escape(version)} \|", readme)
        assert version in (VENDOR / folder / header).read_text()
    page = (REPO / "hermitnet" / "view" / "static" / "index.html").read_text()
    for src in re.findall(r'(?:src|href)="/static/([^"]+)"', page):
        assert (REPO / "hermitnet" / "view" / "static" / src).is_file(), src
    assert "http" not in re.sub(r"https?://[^\s\"']*(github|npmjs)[^\s\"']*", "", page)


# -- the HTTP server, on a LiveRun that has no emulation: only its plan and results folder -----

class _NoController:
    """No controller process: its API port is closed, so the policy reads as unanswered."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.api_port = probe.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{self.api_port}"


@pytest.fixture
def view(baseline, baseline_plan, tmp_path):
    state = PolicyState.from_scenario(baseline)
    live = runner.LiveRun(baseline, baseline_plan, state, compile_policy(baseline_plan, state),
                          None, tmp_path, {}, print, controller=_NoController())
    (tmp_path / "counters.jsonl").write_text(json.dumps(COUNTERS_LINE) + "\n")
    with server.serving(live) as running:
        yield running


def _get(url: str, host: str | None = None):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type"), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, None, error.read()


def test_server_serves_the_page_its_libraries_and_the_topology(view):
    status, kind, body = _get(view.url)
    assert status == 200 and kind.startswith("text/html") and b'id="blocklist"' in body
    status, kind, body = _get(view.url + "static/vendor/cytoscape/cytoscape.min.js")
    assert status == 200 and "javascript" in kind and len(body) > 100_000
    status, _, body = _get(view.url + "topology")
    assert status == 200 and json.loads(body)["scenario"] == "baseline"
    assert _get(view.url + "static/../server.py")[0] == 404
    assert _get(view.url + "static/%2e%2e/server.py")[0] == 404
    assert _get(view.url + "nothing")[0] == 404


def test_server_refuses_requests_addressed_elsewhere(view):
    status, _, body = _get(view.url, host="view.example:80")
    assert status == 403 and b"127.0.0.1" in body


def test_events_stream_snapshots(view):
    with urllib.request.urlopen(view.url + "events", timeout=10) as stream:
        assert stream.headers.get("Content-Type") == "text/event-stream"
        data = None
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("data: "):
                data = json.loads(line[6:])
                break
    assert data["controller"] is False  # nothing listens on the API port
    assert data["counters"]["elite"]["blocked"] == 2
    assert set(data["radio"]) == set()  # baseline has no radio map


def test_no_two_nodes_share_a_place(border_plan):
    topo = snapshot.topology(border_plan, ("changbai-1", "changbai-2", "linjiang-1"))
    places = [(n["x"], n["y"]) for n in topo["nodes"]]
    assert len(places) == len(set(places))
    nodes = {n["id"]: n for n in topo["nodes"]}
    column_1 = [n["y"] for n in topo["nodes"] if n["x"] == snapshot.COLUMN_SPACING
                and n["kind"] != "foreign-cell"]
    assert nodes["cell:changbai-1"]["y"] > max(column_1)
    smugglers = [n for n in topo["nodes"] if n["kind"] == "foreign-handset"]
    assert smugglers and all(s["y"] == max(n["y"] for n in topo["nodes"] if n["x"] == 0)
                             or s["y"] > nodes["library-1"]["y"] for s in smugglers)


def test_timeline_steps_reach_the_next_snapshot(view):
    assert view.collector.live.on_timeline_step == view.collector.radio_step
    row = {"t_s": 12.0, "ues": {"walker-1": {"cell": "hyesan-1", "cell_kind": "national",
                                             "rate_mbps": 1.9, "loss_pct": 0.0,
                                             "sinr_db": 3.1}}}
    view.collector.radio_step(row)
    sequence, _ = view.collector.wait_newer(view.collector.sequence, 10)
    _, current = view.collector.wait_newer(sequence, 10)
    assert current["phase"] == "radio timeline t = 12 s"
    assert current["radio"] == {"walker-1": {"cell": "hyesan-1", "cell_kind": "national",
                                             "rate_mbps": 1.9, "loss_pct": 0.0}}
