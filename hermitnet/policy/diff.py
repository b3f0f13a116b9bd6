"""What changes between two compiled policies, switch by switch: plain data, nothing sent.

A flow is identified by its table, priority and match (`Rule.key`): a rule only in the new
policy is an add, one whose key is in both but whose instructions, cookie or lease differ is a
modify (sent as an add that replaces the flow and restarts its counters under the new cookie),
one only in the old policy is a delete. Meters are identified by their id. Unchanged rules and
meters are not in the diff, so their switch counters keep running.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermitnet.policy.compile import Compiled, Meter, Rule


@dataclass(frozen=True)
class SwitchDiff:
    flow_adds: tuple[Rule, ...] = ()
    flow_modifies: tuple[Rule, ...] = ()
    flow_deletes: tuple[Rule, ...] = ()
    meter_adds: tuple[Meter, ...] = ()
    meter_modifies: tuple[Meter, ...] = ()
    meter_deletes: tuple[Meter, ...] = ()

    def __bool__(self) -> bool:
        return any((self.flow_adds, self.flow_modifies, self.flow_deletes, self.meter_adds,
                    self.meter_modifies, self.meter_deletes))


@dataclass(frozen=True)
class PolicyDiff:
    switches: dict[str, SwitchDiff] = field(default_factory=dict)   # only switches that change

    def for_switch(self, switch: str) -> SwitchDiff:
        return self.switches.get(switch, SwitchDiff())


def diff(old: Compiled, new: Compiled) -> PolicyDiff:
    """What takes every switch holding its part of `old` to its part of `new`."""
    names = dict.fromkeys(r.switch for c in (old, new) for r in c.rules)
    names.update(dict.fromkeys(m.switch for c in (old, new) for m in c.meters))
    changes = {name: switch_diff(old, new, name) for name in names}
    return PolicyDiff({name: change for name, change in changes.items() if change})


def switch_diff(old: Compiled, new: Compiled, switch: str) -> SwitchDiff:
    old_rules, old_meters = old.for_switch(switch)
    new_rules, new_meters = new.for_switch(switch)
    old_flows = {r.key: r for r in old_rules}
    new_flows = {r.key: r for r in new_rules}
    old_m = {m.meter_id: m for m in old_meters}
    new_m = {m.meter_id: m for m in new_meters}
    return SwitchDiff(
        flow_adds=tuple(r for k, r in new_flows.items() if k not in old_flows),
        flow_modifies=tuple(r for k, r in new_flows.items()
                            if k in old_flows and old_flows[k] != r),
        flow_deletes=tuple(r for k, r in old_flows.items() if k not in new_flows),
        meter_adds=tuple(m for i, m in new_m.items() if i not in old_m),
        meter_modifies=tuple(m for i, m in new_m.items() if i in old_m and old_m[i] != m),
        meter_deletes=tuple(m for i, m in old_m.items() if i not in new_m),
    )
