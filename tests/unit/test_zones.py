"""Zones of every address and the allowed crossings, on hand-made endpoints."""

from __future__ import annotations

import pytest

from hermitnet import zones
from hermitnet.policy.state import PolicyState

STATE = PolicyState(tier_zones={"citizen": ("intranet",), "elite": ("intranet", "global"),
                                "visitor": ("national", "global")},
                    tier_rate_mbps={}, membership={})


def _sub(tier):
    return zones.Endpoint(f"{tier}-1", "subscriber", "subscriber", tier, "100.64.0.10")


def _site(zone):
    return zones.Endpoint(f"{zone}-site", "site", zone, None, "10.1.0.10")


SMUGGLER = zones.Endpoint("smuggler", "foreign-handset", "global", "citizen", "198.19.0.10")


@pytest.mark.parametrize("src,dst,allowed,path", [
    (_sub("citizen"), _site("intranet"), True, "internal"),
    (_sub("citizen"), _site("global"), False, "uplink"),
    (_site("global"), _sub("citizen"), False, "uplink"),       # inbound
    (_site("global"), _sub("elite"), True, "uplink"),
    (_site("intranet"), _sub("visitor"), False, "internal"),
    (_sub("visitor"), _sub("citizen"), False, "internal"),     # phone to phone
    (SMUGGLER, _site("global"), False, "foreign-cell"),        # owner's tier decides
    (SMUGGLER, _site("intranet"), False, "uplink"),            # a global-zone source
    (SMUGGLER, _sub("elite"), True, "uplink"),
    (_sub("citizen"), SMUGGLER, False, "uplink"),
    (_site("global"), SMUGGLER, True, "foreign-cell"),
    (_site("intranet"), _site("national"), False, "internal"),
    (_site("global"), _site("global"), True, "internal"),
])
def test_allowed_and_path(src, dst, allowed, path):
    assert zones.allowed(src, dst, STATE) is allowed
    assert zones.path(src, dst) == path


def test_zone_of_address():
    assert zones.zone_of_address("100.64.3.10") == "subscriber"
    assert zones.zone_of_address("10.255.0.1") == "intranet"
    assert zones.zone_of_address("203.0.113.250") == "national"
    assert zones.zone_of_address("198.19.0.10") == "global"
    assert zones.zone_of_address("192.0.2.1") is None


def test_endpoints_of_the_ground_truth_plan():
    from pathlib import Path

    from hermitnet import plan, scenario

    loaded = scenario.load(Path(__file__).resolve().parents[1] / "ground_truth" / "holes.yaml")
    ends = zones.endpoints(plan.build(loaded), PolicyState.from_scenario(loaded))
    assert ends["smuggler-1"].kind == "foreign-handset" and ends["smuggler-1"].zone == "global"
    assert ends["smuggler-1"].sender_class == "citizen"
    assert ends["video"].sender_class == "zone:global"
