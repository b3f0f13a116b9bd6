"""What the policy says now: tier zones and rates, who is in which tier, the blocklist.

No clock: a change at a time is an event on the run's timeline (hermitnet.timeline), played
through the REST API; the state is always the policy in force.

The part an operator may change during a run. `to_dict`/`from_dict` are its JSON form (in the
controller's config and in policy-live.json); `save_live`/`load_live` keep the live policy of a
run next to the controller's config, so a restarted controller reinstalls it as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from hermitnet.scenario import BlockEntry

LIVE_STATE_NAME = "policy-live.json"


@dataclass(frozen=True)
class PolicyState:
    tier_zones: dict[str, tuple[str, ...]]
    tier_rate_mbps: dict[str, float | None]
    membership: dict[str, str]             # subscriber -> tier
    blocklist: tuple[BlockEntry, ...] = ()
    # tier -> does its national resolver answer foreign names; a tier left out: no
    tier_foreign_names: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def from_scenario(cls, scenario) -> PolicyState:
        return cls(
            tier_zones={t.name: t.zones for t in scenario.tiers.values()},
            tier_rate_mbps={t.name: t.rate_mbps for t in scenario.tiers.values()},
            membership={s.name: s.tier for s in scenario.subscribers},
            blocklist=scenario.blocklist,
            tier_foreign_names={t.name: t.resolves_foreign_names
                                for t in scenario.tiers.values()},
        )

    def resolver_for(self, tier: str) -> str:
        """The national resolver a tier's devices are handed (hermitnet.plan.SERVICES):
        dns-national forwards foreign names, dns-walled answers national names only."""
        return "dns-national" if self.tier_foreign_names.get(tier) else "dns-walled"

    def blocked_for(self, tier: str) -> frozenset[str]:
        """The sites blocked for `tier`: for every tier, or for this one."""
        return frozenset(b.site for b in self.blocklist if b.tier in (None, tier))

    def with_changes(self, **changes) -> PolicyState:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {
            "tier_zones": {t: list(z) for t, z in self.tier_zones.items()},
            "tier_rate_mbps": dict(self.tier_rate_mbps),
            "membership": dict(self.membership),
            "blocklist": [vars(b).copy() for b in self.blocklist],
            "tier_foreign_names": dict(self.tier_foreign_names),
        }

    @classmethod
    def from_dict(cls, data: dict) -> PolicyState:
        return cls(
            tier_zones={t: tuple(z) for t, z in data["tier_zones"].items()},
            tier_rate_mbps=dict(data["tier_rate_mbps"]),
            membership=dict(data["membership"]),
            blocklist=tuple(BlockEntry(b["site"], b.get("tier"), b.get("reason", ""))
                            for b in data["blocklist"]),
            tier_foreign_names=dict(data.get("tier_foreign_names", {})),
        )


def save_live(path: Path, state: PolicyState, started_at: float) -> None:
    """Replace `path` (atomically) with `state`, tagged with the run's start time. OSError if
    it cannot be written."""
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps({"started_at": started_at, "policy": state.to_dict()}))
    tmp.replace(path)


def load_live(path: Path, started_at: float) -> PolicyState | None:
    """The live policy saved for the run that started at `started_at`; None if there is none
    (no file, unreadable, or left by another run)."""
    try:
        live = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(live, dict) or live.get("started_at") != started_at:
        return None
    return PolicyState.from_dict(live["policy"])
