"""Fuzzing the REST API from docs/openapi.yaml (schemathesis) against the real app.

Requests are generated from the OpenAPI document, valid and invalid ones (wrong types, missing
or extra fields, out-of-range numbers, odd path parameters, and, for the operations' names, the
plan's real sites, subscribers and tiers so that changes do happen), and sent through Ryu's WSGI
application to the controller app on fake datapaths. For every request:

- no 5xx and no exception: every answer is one the document lists for the operation, with the
  content type and a JSON body matching its schema (schemathesis' conformance checks), an
  invalid request gets a 4xx, and a method the path does not have gets 405 with Allow;
- no half-applied change: after a 4xx, GET /v1/policy is what it was before and no switch was
  sent anything; after a 2xx, the flow tables and meters of the fake switches (everything the
  app sent, replayed) are exactly those of the compiled policy of the new state.

The app keeps its state from one request to the next, so sequences of changes are fuzzed too.
Deterministic: derandomized, no example database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is in the dev extras (pip install -e '.[dev]')")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core import NOT_SET  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from webob import Request  # noqa: E402

from hermitnet.policy.compile import compile_policy  # noqa: E402
from hermitnet.policy.state import PolicyState  # noqa: E402
from tests.unit.fakedatapath import (  # noqa: E402
    build_app,
    connect_all,
    kind,
    replay,
    tiered_routing,
)
from tests.unit.fakeswitch import FakeSwitch  # noqa: E402

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(OPENAPI)
OPERATIONS = sorted((result.ok() for result in SCHEMA.get_all_operations()),
                    key=lambda operation: operation.label)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much])


class Fuzzed:
    """The app over fake datapaths, the WSGI app in front of it, and fake switches holding
    everything the app sent."""

    def __init__(self, plan, app, token=None):
        self.plan, self.app, self.token = plan, app, token
        self.datapaths = connect_all(app, plan)
        self.switches = replay(plan, self.datapaths)
        self.wsgi = tiered_routing.WSGIApplication()
        tiered_routing.PolicyApi.register(self.wsgi, app)

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def policy(self) -> dict:
        request = Request.blank("/v1/policy", headers=self.headers())
        response = request.get_response(self.wsgi)
        assert response.status_int == 200
        return json.loads(response.body)

    def sent(self) -> dict[str, list]:
        return {name: d.take() for name, d in self.datapaths.items()}

    def assert_switches_hold_the_compiled_policy(self) -> None:
        compiled = compile_policy(self.plan, self.app.state)
        for name, switch in self.switches.items():
            rules, meters = compiled.for_switch(name)
            want = FakeSwitch.from_rules(name, rules, meters)
            assert sorted(map(_entry_key, switch.entries)) == sorted(
                map(_entry_key, want.entries)), name
            assert switch.meters == want.meters, name


def _entry_key(entry) -> tuple:
    """An entry comparable between rules and parsed flow mods (match values as strings)."""
    return (entry.table, entry.priority, sorted((k, str(v)) for k, v in entry.match.items()),
            entry.cookie, entry.meter, entry.output, entry.metadata, entry.goto)


@pytest.fixture
def fuzzed(baseline, baseline_plan, tmp_path, monkeypatch):
    app = build_app(baseline_plan, PolicyState.from_scenario(baseline), tmp_path, monkeypatch)
    return Fuzzed(baseline_plan, app)


def names(plan) -> dict[str, list[str]]:
    return {"site": [h.name for h in plan.hosts if h.kind == "server"],
            "subscriber": [h.name for h in plan.subscribers()],
            "tier": sorted(plan.tier_index)}


@st.composite
def cases(draw, plan):
    operation = draw(st.sampled_from(OPERATIONS))
    mode = draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
    path_parameters = {}
    for name, known in names(plan).items():
        if "{" + name + "}" in operation.path and draw(st.booleans()):
            path_parameters[name] = draw(st.sampled_from(known))
    body = NOT_SET          # generated from the schema, unless a real name is drawn
    if operation.path == "/v1/blocklist" and draw(st.booleans()):
        body = {"site": draw(st.sampled_from(names(plan)["site"])),
                **draw(st.fixed_dictionaries({}, optional={
                    "tier": st.sampled_from(names(plan)["tier"]),
                    "reason": st.text(max_size=5)}))}
    elif operation.path.endswith("/tier") and draw(st.booleans()):
        body = {"tier": draw(st.sampled_from(names(plan)["tier"]))}
    if mode is GenerationMode.NEGATIVE:
        path_parameters, body = {}, NOT_SET
    strategy = operation.as_strategy(mode, path_parameters=path_parameters or None, body=body)
    return mode, draw(strategy)


def exercise(fuzzed: Fuzzed, mode, case) -> None:
    before = fuzzed.policy()
    fuzzed.sent()
    response = case.call(app=fuzzed.wsgi, headers=fuzzed.headers())
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    case.validate_response(response, checks=checks, headers=fuzzed.headers())
    assert fuzzed.app.exceptions == 0
    sent = fuzzed.sent()
    if response.status_code >= 400:
        assert fuzzed.policy() == before, f"{case.method} {case.formatted_path} half-applied"
        assert all(messages == [] for messages in sent.values())
    else:
        for name, messages in sent.items():
            for message in messages:
                assert kind(message) != "stats"
                fuzzed.switches[name].apply_message(message)
        fuzzed.assert_switches_hold_the_compiled_policy()


@FUZZ
@given(data=st.data())
def test_fuzzed_requests_get_documented_answers_and_change_all_or_nothing(fuzzed, data):
    mode, case = data.draw(cases(fuzzed.plan))
    exercise(fuzzed, mode, case)


def test_fuzzing_reaches_changes_and_refusals(fuzzed):
    """The fuzzer above is worth something only if it makes real changes as well as errors:
    replay a seeded sample of its cases and count the answers."""
    statuses = []

    @settings(FUZZ, max_examples=80)
    @given(data=st.data())
    def sample(data):
        mode, case = data.draw(cases(fuzzed.plan))
        statuses.append((case.method, case.call(app=fuzzed.wsgi).status_code))

    sample()
    changed = [s for m, s in statuses if m != "GET" and s == 200]
    refused = [s for m, s in statuses if m != "GET" and 400 <= s < 500]
    assert changed and refused
    assert all(s < 500 for _, s in statuses)


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_methods_a_path_does_not_have_get_405_with_allow(fuzzed, data):
    case = data.draw(st.sampled_from(OPERATIONS).flatmap(lambda op: op.as_strategy()))
    response = case.call(app=fuzzed.wsgi)
    case.validate_response(response, checks=[unsupported_method, not_a_server_error])


@pytest.fixture
def guarded(baseline, baseline_plan, tmp_path, monkeypatch):
    token_path = tmp_path / "api-token"
    token_path.write_text("fuzz-token\n")
    app = build_app(baseline_plan, PolicyState.from_scenario(baseline), tmp_path, monkeypatch,
                    api_token_path=str(token_path))
    return Fuzzed(baseline_plan, app, token="fuzz-token")


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_with_a_token_fuzzed_requests_without_it_get_401_and_change_nothing(guarded, data):
    mode, case = data.draw(cases(guarded.plan))
    visible = st.characters(min_codepoint=0x21, max_codepoint=0x7E)   # a valid header value
    authorization = data.draw(st.one_of(st.none(), st.text(visible, min_size=1, max_size=20),
                                        st.just("Bearer fuzz-toke"), st.just("Basic fuzz-token")))
    before = guarded.policy()
    guarded.sent()
    headers = {} if authorization is None else {"Authorization": authorization}
    response = case.call(app=guarded.wsgi, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
    assert response.status_code == 401
    assert guarded.policy() == before
    assert all(messages == [] for messages in guarded.sent().values())
    # and with the token, the same request is answered as on loopback
    exercise(guarded, mode, case)
