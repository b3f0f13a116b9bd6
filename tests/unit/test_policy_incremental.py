"""The compiler and the diff give exactly what they gave before they were made faster.

GOLDEN holds the fingerprints (tests.unit.policy_cases.digest: every field of every rule, meter
and diff, notes and order included) of the compiles and diffs of each sequence, taken from the
compiler and diff as they were before compiling by sections (main at b1fda64; the shipped
scenarios added or changed since, from that compiler run on them). A compile that
reuses the sections of the one before (`previous`) must give what a compile from nothing gives,
and the diff by sections what the plain diff over every rule of a switch gives.
"""

from __future__ import annotations

import pytest

from hermitnet.policy.compile import Compiled, compile_policy
from hermitnet.policy.diff import PolicyDiff, SwitchDiff, diff
from tests.unit.policy_cases import digest, holes_env, sequences

GOLDEN = {  # sequence: (digest of its compiles, digest of the diffs between consecutive steps)
    "baseline": ("44d7f0979fe418db", "d747456404d40fb0"),
    "baseline uplink down": ("926a1141756f4cc4", "99788deae1347ea8"),
    "baseline holes": ("0b2395e12f24cd0a", "fdd7286ea19d2d2b"),
    "two uplinks": ("ad6fc9c301afaf4a", "54423f00f8170fbb"),
    "55 switches": ("364fec36132b0ae9", "fb2edae39ecada24"),
    "random": ("2a9305e9c5b98462", "a0ffeeab0de07e20"),
    "shipped baseline": ("e8307098d240d3cf", "e3b0c44298fc1c14"),
    "shipped blocklist-2016": ("cf6f8b1fbfd41f31", "e3b0c44298fc1c14"),
    "shipped border-jamming": ("616539a2a8b428a8", "e3b0c44298fc1c14"),
    "shipped border": ("616539a2a8b428a8", "e3b0c44298fc1c14"),
    "shipped elite-traffic-2017": ("cb0bc53f18e17f3d", "e3b0c44298fc1c14"),
    "shipped foreign-cell-censored": ("c255cd27466c35b3", "e3b0c44298fc1c14"),
    "shipped second-upstream-2017": ("6aaa73b7dd980668", "e3b0c44298fc1c14"),
    "shipped uplink-ddos-2022": ("e8307098d240d3cf", "e3b0c44298fc1c14"),
    "shipped uplink-outage-2014": ("e8307098d240d3cf", "e3b0c44298fc1c14"),
    "shipped visitors-2013": ("50b3afdfa608c467", "e3b0c44298fc1c14"),
}
SEQUENCES = sequences()


def plain_diff(old: Compiled, new: Compiled) -> PolicyDiff:
    """The diff as it was, over every rule of each switch by key: the reference."""
    def group(compiled):
        rules, meters = {}, {}
        for rule in compiled.rules:
            rules.setdefault(rule.switch, {})[rule.key] = rule
        for meter in compiled.meters:
            meters.setdefault(meter.switch, {})[meter.meter_id] = meter
        return rules, meters

    (old_rules, old_meters), (new_rules, new_meters) = group(old), group(new)
    changes = {}
    for switch in dict.fromkeys([*old_rules, *new_rules, *old_meters, *new_meters]):
        a, b = old_rules.get(switch, {}), new_rules.get(switch, {})
        ma, mb = old_meters.get(switch, {}), new_meters.get(switch, {})
        change = SwitchDiff(
            tuple(r for k, r in b.items() if k not in a),
            tuple(r for k, r in b.items() if k in a and a[k] != r),
            tuple(r for k, r in a.items() if k not in b),
            tuple(m for i, m in mb.items() if i not in ma),
            tuple(m for i, m in mb.items() if i in ma and ma[i] != m),
            tuple(m for i, m in ma.items() if i not in mb))
        if change:
            changes[switch] = change
    return PolicyDiff(changes)


def fingerprint(compiled: list, diffs: list) -> tuple[str, str]:
    return (digest(*(digest(c) for c in compiled)), digest(*(digest(d) for d in diffs)))


def run(monkeypatch, steps, reuse: bool) -> tuple[list[Compiled], list]:
    compiled, diffs = [], []
    for _, plan, state, down, holes in steps:
        holes_env(monkeypatch, holes)
        previous = compiled[-1] if reuse and compiled else None
        compiled.append(compile_policy(plan, state, down, previous=previous))
        if len(compiled) > 1:
            diffs.append(diff(compiled[-2], compiled[-1]))
    return compiled, diffs


def test_every_sequence_has_a_fingerprint():
    assert sorted(SEQUENCES) == sorted(GOLDEN)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_compile_and_diff_give_what_they_gave_before(monkeypatch, name):
    compiled, diffs = run(monkeypatch, SEQUENCES[name], reuse=False)
    assert fingerprint(compiled, diffs) == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_reusing_the_previous_compile_gives_the_same_policy(monkeypatch, name):
    fresh, fresh_diffs = run(monkeypatch, SEQUENCES[name], reuse=False)
    reused, diffs = run(monkeypatch, SEQUENCES[name], reuse=True)
    for a, b in zip(fresh, reused, strict=True):
        assert a == b and [r.note for r in a.rules] == [r.note for r in b.rules]
        assert list(a.switches) == list(b.switches)
        by_switch: dict[str, list] = {}
        for rule in a.rules:
            by_switch.setdefault(rule.switch, []).append(rule)
        for switch in a.switches:
            assert a.for_switch(switch) == b.for_switch(switch)
            assert b.for_switch(switch)[0] == by_switch[switch]
            assert b.leased(switch) == [r for r in by_switch[switch] if r.lease]
    assert repr(diffs) == repr(fresh_diffs)
    for (a, b), by_sections in zip(zip(reused, reused[1:], strict=False), diffs, strict=True):
        assert by_sections == plain_diff(a, b)
        assert repr(by_sections) == repr(plain_diff(a, b))   # the same order, too


def test_an_unchanged_part_is_taken_over_not_rebuilt(monkeypatch):
    steps = SEQUENCES["55 switches"]
    _, plan, state, _, _ = steps[0]
    _, _, blocked, _, _ = steps[1]
    holes_env(monkeypatch, None)
    before = compile_policy(plan, state)
    after = compile_policy(plan, blocked, previous=before)
    for switch, part in after.switches.items():
        old = {s.name: s for s in before.switches[switch].sections}
        rebuilt = [s.name[0] for s in part.sections if s is not old[s.name]]
        assert rebuilt == ["tier"] * len(plan.tier_index)
        assert part.meters is before.switches[switch].meters


def test_a_previous_compile_of_another_plan_is_not_reused(monkeypatch):
    _, plan, state, _, _ = SEQUENCES["55 switches"][0]
    _, other_plan, other_state, _, _ = SEQUENCES["random"][0]
    holes_env(monkeypatch, None)
    other = compile_policy(other_plan, other_state)
    assert compile_policy(plan, state, previous=other) == compile_policy(plan, state)


def test_a_hand_made_compiled_policy_still_answers_per_switch(baseline_plan, baseline):
    from hermitnet.policy.state import PolicyState

    full = compile_policy(baseline_plan, PolicyState.from_scenario(baseline))
    bare = Compiled(full.rules, full.meters)
    for switch in full.switches:
        assert bare.for_switch(switch) == full.for_switch(switch)
        assert bare.leased(switch) == full.leased(switch)
    assert bare.for_switch("global") == full.for_switch("global") == ([], [])
