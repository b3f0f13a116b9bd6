"""`hermitnet policy`: against the real REST layer (Ryu's WSGI app over fake datapaths, served on
127.0.0.1 by wsgiref), and finding a run's API from its manifest."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from hermitnet import cli
from hermitnet.emulation import manifest as manifest_module
from hermitnet.policy.state import PolicyState
from tests.unit.fakedatapath import build_app, connect_all, replay, tiered_routing


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def policy_cli(run_cli, monkeypatch):
    if "policy" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "policy"))
    return lambda *args: run_cli("policy", *args)


@pytest.fixture
def served_api(baseline, baseline_plan, tmp_path, monkeypatch):
    app = build_app(baseline_plan, PolicyState.from_scenario(baseline), tmp_path, monkeypatch)
    datapaths = connect_all(app, baseline_plan)
    replay(baseline_plan, datapaths)
    wsgi = tiered_routing.WSGIApplication()
    tiered_routing.PolicyApi.register(wsgi, app)
    server = make_server("127.0.0.1", 0, wsgi, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_show_block_unblock(policy_cli, served_api):
    app, url = served_api
    code, out, err = policy_cli("--api", url, "show")
    assert code == 0, err
    assert "citizen" in out and "citizen-1, citizen-2" in out and "blocklist: empty" in out
    code, out, err = policy_cli("--api", url, "block", "video", "--reason", "2016 list")
    assert code == 0, err
    assert "video: every tier (2016 list)" in out
    code, out, err = policy_cli("--api", url, "block", "search", "--tier", "elite")
    assert code == 0 and "search: tier elite" in out, err
    code, out, err = policy_cli("--api", url, "unblock", "search", "--tier", "elite")
    assert code == 0 and "search" not in out, err
    assert "enforced on 7 switches" in out
    assert [b.site for b in app.state.blocklist] == ["video"]
    code, out, err = policy_cli("--api", url, "unblock", "video")
    assert code == 0 and "blocklist: empty" in out


def test_move_rate_counters(policy_cli, served_api):
    app, url = served_api
    code, out, _ = policy_cli("--api", url, "move", "elite-1", "citizen")
    assert code == 0 and app.state.membership["elite-1"] == "citizen"
    code, out, _ = policy_cli("--api", url, "rate", "citizen", "0.5")
    assert code == 0 and "0.5 Mbit/s" in out
    code, out, _ = policy_cli("--api", url, "rate", "citizen", "none")
    assert code == 0 and app.state.tier_rate_mbps["citizen"] is None
    code, out, _ = policy_cli("--api", url, "counters")
    assert code == 0 and "counters at t=10.0 s" in out


@pytest.mark.parametrize("args,words", [
    (("block", "nosuch"), ["HTTP 404", "site", "unknown site 'nosuch'"]),
    (("move", "elite-1", "royal"), ["HTTP 400", "tier", "unknown tier 'royal'"]),
    (("rate", "elite", "fast"), ["MBPS", "expected a number"]),
    (("block", "video", "--tier", "royal"), ["HTTP 400", "tier", "unknown tier 'royal'"]),
])
def test_errors_name_the_field_and_exit_non_zero(policy_cli, served_api, args, words):
    app, url = served_api
    before = app.state
    code, out, err = policy_cli("--api", url, *args)
    assert code == 2 and out == ""
    for word in words:
        assert word in err
    assert app.state == before


def test_finds_the_api_of_the_one_running_run(policy_cli, served_api, state_dir):
    app, url = served_api
    code, _, err = policy_cli("show")
    assert code == 2 and "no hermitnet run in progress" in err
    first = manifest_module.Manifest.create("hnt1", "/tmp/x")
    first.controller_api = url
    first.save()
    code, out, err = policy_cli("show")
    assert code == 0, err
    second = manifest_module.Manifest.create("hnt2", "/tmp/y")
    second.controller_api = "http://127.0.0.1:9"
    second.save()
    code, _, err = policy_cli("show")
    assert code == 2 and "several runs in progress: hnt1, hnt2" in err
    code, _, err = policy_cli("--run", "hnt1", "show")
    assert code == 0, err
    code, _, err = policy_cli("--run", "hnt2", "show")
    assert code == 2 and "cannot reach the controller API at http://127.0.0.1:9" in err


def test_health_in_words_and_as_json(policy_cli, served_api):
    import json

    _, url = served_api
    code, out, err = policy_cli("--api", url, "health")
    assert code == 0, err
    assert "controller at t=" in out and "7 of 7 switches connected" in out
    assert "{" not in out
    code, out, _ = policy_cli("--api", url, "--json", "health")
    assert code == 0 and all(json.loads(out)["switches"].values())
