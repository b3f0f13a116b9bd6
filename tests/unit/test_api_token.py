"""The REST API's listening rule: loopback unless told otherwise, and then only with the run's
token. Requests go through Ryu's WSGI application (the real REST layer) over fake datapaths;
`hermitnet policy` talks to it over HTTP (wsgiref on 127.0.0.1)."""

from __future__ import annotations

import json
import stat
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from webob import Request

from hermitnet import cli
from hermitnet.emulation import manifest as manifest_module
from hermitnet.emulation.controller import API_TOKEN_NAME, ControllerProcess, write_token
from hermitnet.policy.state import PolicyState
from tests.unit.fakedatapath import build_app, connect_all, replay, tiered_routing

TOKEN = "s3cret-token_for-this-run"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / API_TOKEN_NAME
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def guarded_api(baseline, baseline_plan, tmp_path, monkeypatch, token_file):
    app = build_app(baseline_plan, PolicyState.from_scenario(baseline), tmp_path, monkeypatch,
                    api_token_path=str(token_file))
    datapaths = connect_all(app, baseline_plan)
    replay(baseline_plan, datapaths)
    wsgi = tiered_routing.WSGIApplication()
    tiered_routing.PolicyApi.register(wsgi, app)
    return app, wsgi, datapaths


def call(wsgi, method, path, body=None, authorization=None):
    request = Request.blank(path, method=method)
    if authorization is not None:
        request.headers["Authorization"] = authorization
    if body is not None:
        request.body = json.dumps(body).encode()
        request.content_type = "application/json"
    response = request.get_response(wsgi)
    assert response.content_type == "application/json"
    return response, json.loads(response.body)


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}"])
@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/v1/policy", None),
    ("GET", "/v1/health", None),
    ("POST", "/v1/blocklist", {"site": "video"}),
    ("PUT", "/v1/tiers/citizen/rate", {"rate_mbps": 1}),
    ("DELETE", "/v1/blocklist/video", None),
    ("POST", "/v1/policy", None),          # would be 405
    ("GET", "/v1/nothing", None),          # would be 404
])
def test_without_the_token_every_request_is_refused_with_401(guarded_api, method, path, body,
                                                             authorization):
    app, wsgi, datapaths = guarded_api
    before = app.state
    response, answer = call(wsgi, method, path, body, authorization)
    assert response.status_int == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert answer == {"error": answer["error"], "field": "Authorization", "status": 401}
    assert "Authorization: Bearer" in answer["error"] and TOKEN not in answer["error"]
    assert app.state == before
    assert all(d.wire == [] for d in datapaths.values())      # nothing sent to any switch


def test_with_the_token_the_api_answers(guarded_api):
    app, wsgi, datapaths = guarded_api
    for scheme in ("Bearer", "bearer"):
        response, policy = call(wsgi, "GET", "/v1/policy", authorization=f"{scheme} {TOKEN}")
        assert response.status_int == 200 and policy["blocklist"] == []
    response, answer = call(wsgi, "POST", "/v1/blocklist", {"site": "video"},
                            authorization=f"Bearer {TOKEN}")
    assert response.status_int == 200 and answer["enforced"]["all_confirmed"]
    assert [b.site for b in app.state.blocklist] == ["video"]
    response, _ = call(wsgi, "GET", "/v1/nothing", authorization=f"Bearer {TOKEN}")
    assert response.status_int == 404
    response, _ = call(wsgi, "POST", "/v1/policy", authorization=f"Bearer {TOKEN}")
    assert response.status_int == 405


def test_without_a_configured_token_no_header_is_needed(baseline, baseline_plan, tmp_path,
                                                        monkeypatch):
    app = build_app(baseline_plan, PolicyState.from_scenario(baseline), tmp_path, monkeypatch)
    wsgi = tiered_routing.WSGIApplication()
    tiered_routing.PolicyApi.register(wsgi, app)
    assert app.api_token is None
    response, _ = call(wsgi, "GET", "/v1/policy")
    assert response.status_int == 200


def test_an_unreadable_token_file_stops_the_controller(baseline, baseline_plan, tmp_path,
                                                       monkeypatch):
    state = PolicyState.from_scenario(baseline)
    with pytest.raises(SystemExit, match="cannot read the API token"):
        build_app(baseline_plan, state, tmp_path, monkeypatch,
                  api_token_path=str(tmp_path / "missing"))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SystemExit, match="is empty"):
        build_app(baseline_plan, state, tmp_path, monkeypatch,
                  api_token_path=str(tmp_path / "empty"))


# -- the controller process: where it listens, the token file -------------------------------

def _option(argv, name):
    return argv[argv.index(name) + 1]


def test_loopback_by_default_without_a_token(tmp_path):
    process = ControllerProcess({"plan": {}}, tmp_path, manifest=None)
    argv = process.argv()
    assert _option(argv, "--wsapi-host") == "127.0.0.1"
    assert _option(argv, "--ofp-listen-host") == "127.0.0.1"
    assert process.token_path is None
    assert process.api_url == f"http://127.0.0.1:{process.api_port}"
    process.write_config()
    assert "api_token_path" not in json.loads(process.config_path.read_text())
    assert not (tmp_path / API_TOKEN_NAME).exists()
    for host in ("127.0.0.2", "::1"):
        assert ControllerProcess({}, tmp_path, None, api_host=host).token_path is None


@pytest.mark.parametrize(("host", "url_host"), [("0.0.0.0", "127.0.0.1"),
                                                ("192.0.2.7", "192.0.2.7"), ("::", "[::1]")])
def test_elsewhere_a_new_root_only_token_per_run(tmp_path, host, url_host):
    process = ControllerProcess({"plan": {}}, tmp_path, manifest=None, api_host=host)
    argv = process.argv()
    assert _option(argv, "--wsapi-host") == host
    assert _option(argv, "--ofp-listen-host") == "127.0.0.1"     # OpenFlow stays local
    assert process.api_url == f"http://{url_host}:{process.api_port}"
    process.write_config()
    config = json.loads(process.config_path.read_text())
    token_path = tmp_path / API_TOKEN_NAME
    assert config["api_token_path"] == str(token_path) == str(process.token_path)
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    first = token_path.read_text().strip()
    assert len(first) >= 43 and first not in process.config_path.read_text()
    process.write_config()                                       # a new run, a new token
    assert token_path.read_text().strip() != first
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    process.stop()                                               # the token ends with the run
    assert not token_path.exists()


def test_write_token_never_widens_a_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("old")
    path.chmod(0o644)
    token = write_token(path)
    assert path.read_text() == token + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_run_refuses_an_api_host_that_is_not_an_address(run_cli):
    code, out, err = run_cli("run", "baseline", "--api-host", "every-interface")
    assert code == 2 and "--api-host" in err and "expected an IP address" in err


# -- hermitnet policy sends the run's token ------------------------------------------------------

class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(guarded_api):
    app, wsgi, _ = guarded_api
    server = make_server("127.0.0.1", 0, wsgi, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def policy_cli(run_cli, monkeypatch):
    if "policy" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "policy"))
    return lambda *args: run_cli("policy", *args)


def test_policy_reads_the_token_of_the_run_from_its_manifest(policy_cli, served, token_file,
                                                             tmp_path):
    app, url = served
    manifest = manifest_module.Manifest.create("hnt1", str(tmp_path))
    manifest.controller_api = url
    manifest.save()
    code, out, err = policy_cli("block", "video")              # no token known: refused
    assert code == 2 and "HTTP 401" in err and "Authorization" in err
    assert app.state.blocklist == ()
    manifest.api_token_path = str(token_file)
    manifest.save()
    code, out, err = policy_cli("block", "video")
    assert code == 0, err
    assert [b.site for b in app.state.blocklist] == ["video"]
    manifest.api_token_path = str(tmp_path / "gone")
    manifest.save()
    code, out, err = policy_cli("show")
    assert code == 2 and "cannot read the API token" in err and "gone" in err


def test_policy_with_api_and_token_file(policy_cli, served, token_file):
    _, url = served
    code, _, err = policy_cli("--api", url, "show")
    assert code == 2 and "HTTP 401" in err
    code, out, err = policy_cli("--api", url, "--token-file", str(token_file), "show")
    assert code == 0 and "citizen" in out, err


# -- the real controller process (ryu-manager, no network: nothing needs root) -----------------

def _openflow_stranger(port: int, dpid: int, timeout_s: float = 10.0) -> bool:
    """Connect as an OpenFlow 1.3 switch with `dpid`; True if the controller closes on us."""
    import socket
    import struct
    import time

    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(struct.pack("!BBHI", 4, 0, 8, 1))                     # hello
        pending = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            data = sock.recv(4096)
            if not data:
                return True
            pending += data
            while len(pending) >= 8:
                _, msg_type, length, xid = struct.unpack_from("!BBHI", pending)
                if len(pending) < length:
                    break
                if msg_type == 5:                                          # features request
                    sock.sendall(struct.pack("!BBHIQIBB2xII", 4, 6, 32, xid, dpid, 0, 1, 0, 0, 0))
                elif msg_type == 2:                                        # echo request
                    sock.sendall(struct.pack("!BBHI", 4, 3, 8, xid))
                pending = pending[length:]
    return False


def test_the_real_controller_wants_its_token_and_refuses_strangers(baseline, baseline_plan,
                                                                   tmp_path, monkeypatch):
    import time
    import urllib.error
    import urllib.request

    from hermitnet.emulation import controller as controller_module

    if not controller_module.LAUNCHER.exists():
        pytest.skip(f"no controller launcher at {controller_module.LAUNCHER} (make setup)")

    monkeypatch.setenv("HERMITNET_STATE_DIR", str(tmp_path / "state"))
    manifest = manifest_module.Manifest.create("hntoken", str(tmp_path))
    process = ControllerProcess(
        {"plan": baseline_plan.to_dict(), "policy": PolicyState.from_scenario(baseline).to_dict(),
         "started_at": time.time()}, tmp_path, manifest, api_host="0.0.0.0")
    process.start()
    try:
        def health(headers):
            request = urllib.request.Request(process.api_url + "/v1/health", headers=headers)
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        return response.status, json.loads(response.read())
                except urllib.error.HTTPError as error:
                    return error.code, json.loads(error.read())
                except urllib.error.URLError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)

        assert stat.S_IMODE(process.token_path.stat().st_mode) == 0o600
        token = process.token_path.read_text().strip()
        assert health({})[0] == 401
        assert health({"Authorization": "Bearer not-the-token"})[0] == 401
        status, answer = health({"Authorization": f"Bearer {token}"})
        assert status == 200 and answer["refused_datapaths"] == 0
        assert _openflow_stranger(process.of_port, 0xFEED)      # counted before it is closed
        _, answer = health({"Authorization": f"Bearer {token}"})
        assert answer["refused_dpids"] == {"000000000000feed": 1}
        assert answer["exceptions"] == 0
        assert [p["what"] for p in manifest_module.Manifest.load(manifest.path).processes] == [
            "controller"]
    finally:
        process.stop()
    assert not process.alive() and not process.token_path.exists()
    assert "refused switch 000000000000feed" in process.log_path.read_text()
