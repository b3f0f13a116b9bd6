"""The test-only policy holes: only from the environment variable, each opening what it says."""

from __future__ import annotations

import json

import pytest

from hermitnet import plan
from hermitnet.policy.compile import TEST_HOLES_ENV, PolicyHoles, compile_policy
from hermitnet.policy.state import PolicyState


@pytest.fixture
def layout(baseline):
    return plan.build(baseline, run_tag=2), PolicyState.from_scenario(baseline)


def _holes(monkeypatch, **holes):
    monkeypatch.setenv(TEST_HOLES_ENV, json.dumps(holes))


def test_no_holes_without_the_variable(layout, monkeypatch):
    monkeypatch.delenv(TEST_HOLES_ENV, raising=False)
    assert not PolicyHoles.from_environment()
    assert not [r for r in compile_policy(*layout).rules if "TEST HOLE" in r.note]


def test_each_hole_adds_its_rules(layout, monkeypatch):
    topology, state = layout
    plain = compile_policy(topology, state)
    _holes(monkeypatch, allow=[["citizen", "video"]], no_antispoofing=["citizen-2"],
           uplink_to=["intranet"])
    holed = compile_policy(topology, state)
    added = [r for r in holed.rules if "TEST HOLE" in r.note]
    assert len(holed.rules) == len(plain.rules) + len(added)
    video = topology.host("video").ip
    allow = [r for r in added if ("ipv4_dst", video) in r.match]
    assert allow and all(r.priority == 250 for r in allow)
    citizen_2 = topology.host("citizen-2")
    kept = [r for r in added if ("in_port", citizen_2.port) in r.match]
    assert {dict(r.match)["ipv4_src"] for r in kept} == {
        h.ip for h in topology.subscribers() if h.name != "citizen-2"}
    assert [r for r in added if "zone global -> intranet" in r.note]


@pytest.mark.parametrize("holes,message", [
    ({"allow": [["citizen", "nowhere"]]}, "allow"),
    ({"no_antispoofing": ["news"]}, "unknown subscriber 'news'"),
    ({"uplink_to": ["moon"]}, "unknown zone 'moon'"),
])
def test_an_unknown_name_is_refused(layout, monkeypatch, holes, message):
    _holes(monkeypatch, **holes)
    with pytest.raises(ValueError, match=message):
        compile_policy(*layout)
