"""What changes between two compiled policies, switch by switch: plain data, nothing sent.

A flow is identified by its table, priority and match (`Rule.key`): a rule only in the new
policy is an add, one whose key is in both but whose instructions, cookie or lease differ is a
modify (sent as an add that replaces the flow and restarts its counters under the new cookie),
one only in the old policy is a delete. Meters are identified by their id. Unchanged rules and
meters are not in the diff, so their switch counters keep running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

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
    if old.switches and new.switches:
        names = dict.fromkeys([*old.switches, *new.switches])
    else:
        names = dict.fromkeys(r.switch for c in (old, new) for r in c.rules)
        names.update(dict.fromkeys(m.switch for c in (old, new) for m in c.meters))
    changes = {name: switch_diff(old, new, name) for name in names}
    return PolicyDiff({name: change for name, change in changes.items() if change})


def switch_diff(old: Compiled, new: Compiled, switch: str) -> SwitchDiff:
    """Compiled by compile_policy for the same plan, only the sections that differ are
    compared (a flow never moves from one section to another): the same diff, sooner."""
    before, after = old.switches.get(switch), new.switches.get(switch)
    if before is not None and after is not None and \
            [s.name for s in before.sections] == [s.name for s in after.sections]:
        pairs = [(a.rules, b.rules) for a, b in zip(before.sections, after.sections, strict=True)
                 if a is not b and a.rules != b.rules]
        meters = [(before.meters, after.meters)] if before.meters != after.meters else []
    else:
        pairs = [(old.for_switch(switch)[0], new.for_switch(switch)[0])]
        meters = [(old.for_switch(switch)[1], new.for_switch(switch)[1])]
    flows = [_changes({r.key: r for r in a}, {r.key: r for r in b}) for a, b in pairs]
    meter = [_changes({m.meter_id: m for m in a}, {m.meter_id: m for m in b}) for a, b in meters]
    return SwitchDiff(*(tuple(chain.from_iterable(c[i] for c in flows)) for i in range(3)),
                      *(tuple(chain.from_iterable(c[i] for c in meter)) for i in range(3)))


def _changes(old: dict, new: dict) -> tuple[list, list, list]:
    """(only in new, in both but different, only in old), each in its policy's order."""
    return ([item for key, item in new.items() if key not in old],
            [item for key, item in new.items() if key in old and old[key] != item],
            [item for key, item in old.items() if key not in new])
