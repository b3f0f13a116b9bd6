"""The policy on the run clock: which PolicyState was in force when. Pure: no Ryu, no emulation.

A run starts with the scenario's policy; each policy event of its timeline (block, unblock,
move_subscriber, set_tier_zones; a blocklist entry with from_s/until_s is a block and an
unblock) changes it. A change is requested at one moment and confirmed by every switch at a
later one; in between some switches may hold the old policy and some the new, so that window is
a period of its own in which both are in force. `from_records` takes those moments from the
run's event records (results.json timeline.events: `requested_s`/`confirmed_s` where the run
measured them, else `started_s`/`effective_s`); `planned` takes the planned times (every change
instantaneous), for what a scenario says before it runs.

The state after a change is computed by the REST API's own logic (hermitnet.policy.requests),
so the timeline and the controller agree on what each change does.

Judging a measurement that took a span of time (`judge`): a crossing is "forbidden" if every
policy in force at some moment of the span forbids it, "allowed" if every one allows it, and
"ambiguous" otherwise (the policy changed while it was measured).
"""

from __future__ import annotations

from dataclasses import dataclass

from hermitnet.policy import requests
from hermitnet.policy.state import PolicyState
from hermitnet.timeline.events import POLICY_KINDS

VERDICTS = ("allowed", "forbidden", "ambiguous")


@dataclass(frozen=True)
class Period:
    """[start_s, end_s) on the run clock; one state when settled, two while a change is being
    confirmed (old, new). `change` names the change that begins or ends it."""

    start_s: float
    end_s: float
    states: tuple[PolicyState, ...]
    change: str = ""

    @property
    def changing(self) -> bool:
        return len(self.states) > 1


@dataclass(frozen=True)
class PolicyTimeline:
    periods: tuple[Period, ...]

    @property
    def initial(self) -> PolicyState:
        return self.periods[0].states[0]

    @property
    def changed(self) -> bool:
        return len(self.periods) > 1

    def during(self, t0_s: float, t1_s: float | None = None) -> tuple[PolicyState, ...]:
        """Every distinct state in force at some moment of [t0_s, t1_s] (a moment: t1 = t0).
        Before the first period is the first state; after the last, the last."""
        t1_s = t0_s if t1_s is None else max(t0_s, t1_s)
        found: list[PolicyState] = []
        for i, period in enumerate(self.periods):
            first, last = i == 0, i == len(self.periods) - 1
            starts_before_end = first or period.start_s <= t1_s
            ends_after_start = last or t0_s < period.end_s
            if starts_before_end and ends_after_start:
                found += [s for s in period.states if s not in found]
        return tuple(found)

    def at(self, t_s: float) -> PolicyState:
        """The state at `t_s`; while a change is being confirmed, the new one."""
        return self.during(t_s)[-1]

    def changes_within(self, t0_s: float, t1_s: float) -> list[str]:
        """The changes being made at some moment of [t0_s, t1_s] (those `during` sees)."""
        return list(dict.fromkeys(p.change for p in self.periods
                                  if p.changing and p.start_s <= t1_s and t0_s < p.end_s))

    def judge(self, is_allowed, t0_s: float, t1_s: float | None = None) -> str:
        """allowed | forbidden | ambiguous: `is_allowed(state) -> bool` under every state in
        force during [t0_s, t1_s]."""
        answers = {bool(is_allowed(state)) for state in self.during(t0_s, t1_s)}
        if answers == {True}:
            return "allowed"
        return "forbidden" if answers == {False} else "ambiguous"

    def to_dict(self) -> list[dict]:
        """results.json `policy_timeline`: each period with its state(s)."""
        return [{"t_start_s": round(p.start_s, 3),
                 "t_end_s": None if p.end_s == float("inf") else round(p.end_s, 3),
                 "changing": p.changing, "change": p.change,
                 "policy": p.states[-1].to_dict(),
                 **({"previous_policy": p.states[0].to_dict()} if p.changing else {})}
                for p in self.periods]


def constant(state: PolicyState) -> PolicyTimeline:
    """A policy that never changes."""
    return PolicyTimeline((Period(0.0, float("inf"), (state,)),))


def of(policy) -> PolicyTimeline:
    """`policy` as a timeline: a PolicyTimeline as it is, a PolicyState as a constant one."""
    return constant(policy) if isinstance(policy, PolicyState) else policy


def apply(plan, state: PolicyState, kind: str, target: str, tier: str | None = None,
          zones: tuple[str, ...] = (), reason: str = "") -> PolicyState:
    """The state after one policy change, as the REST API makes it."""
    if kind == "block":
        body = {"site": target, **({"tier": tier} if tier else {}),
                **({"reason": reason} if reason else {})}
        return requests.block_site(plan, state, body)
    if kind == "unblock":
        return requests.unblock_site(plan, state, target, tier)
    if kind == "move_subscriber":
        return requests.move_subscriber(plan, state, target, {"tier": tier})
    if kind == "set_tier_zones":
        return requests.set_tier_zones(plan, state, target, {"zones": list(zones)})
    raise ValueError(f"{kind} is no policy change; expected one of: {', '.join(POLICY_KINDS)}")


def planned(plan, initial: PolicyState, events) -> PolicyTimeline:
    """The timeline the scenario's events (hermitnet.timeline.events.Event) plan."""
    changes = [(e.at_s, e.at_s, e.kind, e.target, e.tier, e.zones, e.reason)
               for e in events if e.kind in POLICY_KINDS]
    return build(plan, initial, changes)


def from_records(plan, initial: PolicyState, records: list[dict]) -> PolicyTimeline:
    """The timeline as the run played it (results.json timeline.events records)."""
    changes = []
    for r in records:
        if r["kind"] not in POLICY_KINDS:
            continue
        begun = r.get("requested_s", r.get("started_s", r["planned_s"]))
        done = r.get("confirmed_s", r.get("effective_s", begun))
        changes.append((begun, done, r["kind"], r["target"], r.get("tier"),
                        tuple(r.get("zones", ())), r.get("reason", "")))
    return build(plan, initial, changes)


def build(plan, initial: PolicyState, changes: list[tuple]) -> PolicyTimeline:
    """Periods from (begun_s, done_s, kind, target, tier, zones, reason) changes, in order of
    `begun_s`. Overlapping windows (two changes confirmed at once) make one changing period
    with every state involved."""
    periods: list[Period] = []
    state, settled_from = initial, 0.0
    for begun_s, done_s, kind, target, tier, zones, reason in sorted(changes,
                                                                     key=lambda c: c[0]):
        name = f"{kind} {target}" + (f" tier={tier}" if tier else "") + (
            f" zones={','.join(zones)}" if zones else "")
        new = apply(plan, state, kind, target, tier, tuple(zones), reason)
        begun_s = max(begun_s, settled_from)
        done_s = max(done_s, begun_s)
        if periods and periods[-1].changing and begun_s <= periods[-1].end_s:
            last = periods.pop()     # this change began before the last one was confirmed
            periods.append(Period(last.start_s, max(last.end_s, done_s), (*last.states, new),
                                  f"{last.change}; {name}"))
        else:
            periods.append(Period(settled_from, begun_s, (state,)))
            periods.append(Period(begun_s, done_s, (state, new), name))
        state, settled_from = new, periods[-1].end_s
    periods.append(Period(settled_from, float("inf"), (state,)))
    return PolicyTimeline(tuple(p for p in periods if p.end_s > p.start_s or p.changing))
