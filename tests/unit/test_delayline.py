"""The delay line's pure parts: departure times, jitter, no-reorder, loss, which ends it serves."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics

import pytest

from hermitnet.emulation import capabilities, delayline, shaping
from hermitnet.emulation.capabilities import Capabilities
from hermitnet.emulation.delayline import Direction


def test_constant_delay():
    d = Direction(40)
    assert [d.departure(t) for t in (0.0, 1.0, 1.5)] == pytest.approx([0.04, 1.04, 1.54])


def test_zero_delay_leaves_at_once():
    assert Direction(0).departure(3.0) == 3.0


@pytest.mark.parametrize("delay_ms,jitter_ms", [(50, 5), (20, 20), (5, 20)])
def test_jitter_is_a_normal_truncated_at_zero(delay_ms, jitter_ms):
    d = Direction(delay_ms, jitter_ms, seed=7)
    delays_ms = [1000 * d.departure(0.0) for _ in range(20_000)]
    assert min(delays_ms) >= 0
    z = delay_ms / jitter_ms
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    expected = delay_ms * cdf + jitter_ms * phi        # mean of max(0, N(delay, jitter))
    standard_error = jitter_ms / math.sqrt(len(delays_ms))
    assert abs(statistics.mean(delays_ms) - expected) < 5 * standard_error
    if z > 3:   # truncation negligible: the spread is jitter_ms
        assert statistics.stdev(delays_ms) == pytest.approx(jitter_ms, rel=0.05)
    at_zero = sum(1 for x in delays_ms if x == 0) / len(delays_ms)
    assert at_zero == pytest.approx(1 - cdf, abs=0.02)


def test_jitter_reorders_by_default():
    d = Direction(40, 20, seed=1)
    departures = [d.departure(i * 0.001) for i in range(1000)]
    assert any(later < earlier for earlier, later in zip(departures, departures[1:], strict=False))


def test_no_reorder_keeps_the_order_and_never_leaves_early():
    free, ordered = Direction(40, 20, seed=1), Direction(40, 20, no_reorder=True, seed=1)
    previous = -math.inf
    for i in range(1000):
        now = i * 0.001
        drawn = free.departure(now)      # same draws: same seed, no loss
        kept = ordered.departure(now)
        assert kept >= drawn
        assert kept >= previous
        previous = kept


def test_loss_is_bernoulli_with_a_seed():
    def lost(seed, n=20_000):
        d = Direction(10, loss_pct=20, seed=seed)
        return [d.departure(0.0) is None for _ in range(n)]

    first = lost(3)
    assert first == lost(3)                     # the seed fixes the pattern
    assert first != lost(4)
    share = sum(first) / len(first)
    sigma = math.sqrt(0.2 * 0.8 / len(first))
    assert abs(share - 0.2) < 4 * sigma


def test_loss_edges():
    assert all(Direction(1, loss_pct=100).departure(0.0) is None for _ in range(100))
    assert all(Direction(1, loss_pct=0).departure(0.0) is not None for _ in range(100))


def test_loss_and_jitter_draws_are_independent():
    """Adding loss does not change the delays of the frames that get through."""
    plain, lossy = Direction(40, 10, seed=5), Direction(40, 10, loss_pct=50, seed=5)
    kept = [x for x in (lossy.departure(0.0) for _ in range(200)) if x is not None]
    assert kept == [plain.departure(0.0) for _ in kept]


@pytest.mark.parametrize("args", [(-1,), (10, -1), (10, 0, 101), (10, 0, -0.1)])
def test_bad_parameters(args):
    with pytest.raises(ValueError):
        Direction(*args)


def test_filter_bytecode_matches_what_has_not_got_the_mark():
    program = delayline.filter_bytecode(0x1234).split(",")
    assert program[0] == "4" and len(program) == 5
    assert program[1] == f"32 0 0 {0xFFFFF000 + 20}"      # load skb->mark
    assert program[2] == f"21 1 0 {0x1234}"               # marked: skip to "no match"
    assert program[3] == "6 0 0 4294967295" and program[4] == "6 0 0 0"


def test_attach_redirects_egress_to_the_tap():
    qdisc, flt = delayline.attach_cmds("hnabs1-eth2", "hnabd0")
    assert qdisc == ["tc", "qdisc", "replace", "dev", "hnabs1-eth2", "clsact"]
    assert flt[:7] == ["tc", "filter", "replace", "dev", "hnabs1-eth2", "egress", "prio"]
    assert flt[-5:] == ["mirred", "egress", "redirect", "dev", "hnabd0"]


def _ends_by_intf(p, nft):
    return {e.intf: e for e in delayline.plan(p, nft=nft)}


def test_plan_serves_both_ends_of_every_delayed_link(baseline_plan):
    ends = delayline.plan(baseline_plan, nft=True)
    delayed = [lk for lk in baseline_plan.links if lk.spec.delay_ms or lk.spec.jitter_ms]
    assert len(ends) == 2 * len(delayed)
    assert len({e.tap for e in ends}) == len(ends)
    assert all(e.tap.startswith(baseline_plan.prefix) and len(e.tap) <= 15 for e in ends)
    hosts = {h.node for h in baseline_plan.hosts}
    by_intf = {e.intf: e for e in ends}
    for link in delayed:
        shaped = shaping.plan_link(link, baseline_plan, _no_netem(nft=True, userspace_delay=True))
        assert shaped.not_emulated == ()
        for end in shaped.ends:
            served = by_intf[end.intf]
            assert served.delay_ms == link.spec.delay_ms
            assert served.node == (end.node if end.node in hosts else "")
            assert not any("netem" in cmd for cmd in end.tc)
    assert len({e.seed for e in ends}) == len(ends)


def test_unshaped_links_are_left_alone(baseline_plan):
    served = set(_ends_by_intf(baseline_plan, True))
    nodes = {**{s.name: s.node for s in baseline_plan.switches},
             **{h.name: h.node for h in baseline_plan.hosts}}
    for link in baseline_plan.links:
        if not (link.spec.delay_ms or link.spec.jitter_ms or link.spec.loss_pct):
            assert f"{nodes[link.a]}-eth{link.a_port}" not in served


@pytest.mark.parametrize("nft", [True, False])
@pytest.mark.parametrize("kind", ["uplink", "air", "backhaul"])
def test_loss_is_dropped_in_exactly_one_place(baseline_plan, kind, nft):
    """Loss goes to the nftables drop or to the delay line, never both, never neither."""
    links = tuple(dataclasses.replace(lk, spec=lk.spec.merged({"loss_pct": 3}))
                  if lk.kind == kind else lk for lk in baseline_plan.links)
    p = dataclasses.replace(baseline_plan, links=links)
    ends = _ends_by_intf(p, nft)
    for link in (lk for lk in p.links if lk.kind == kind):
        shaped = shaping.plan_link(link, p, _no_netem(nft=nft, userspace_delay=True))
        assert shaped.not_emulated == ()
        by_nft = any(end.nft for end in shaped.ends)
        by_line = {ends[end.intf].loss_pct for end in shaped.ends}
        assert by_nft != (by_line == {3})
        assert by_line in ({0}, {3})
        assert by_nft == (kind == "air" and nft)


def test_loss_only_link_is_served(baseline_plan):
    """A switch-to-switch link with loss and no delay still needs the delay line."""
    links = tuple(dataclasses.replace(lk, spec=lk.spec.merged({"delay_ms": 0, "loss_pct": 1}))
                  if lk.kind == "uplink" else lk for lk in baseline_plan.links)
    p = dataclasses.replace(baseline_plan, links=links)
    uplink = next(lk for lk in p.links if lk.kind == "uplink")
    served = [e for e in delayline.plan(p, nft=True) if e.loss_pct]
    assert len(served) == 2 and all(e.delay_ms == 0 and e.node == "" for e in served)
    caps = _no_netem(nft=True, userspace_delay=True)
    assert shaping.plan_link(uplink, p, caps).not_emulated == ()


def test_without_the_delay_line_delay_is_still_reported(baseline_plan):
    uplink = next(lk for lk in baseline_plan.links if lk.kind == "uplink")
    shaped = shaping.plan_link(uplink, baseline_plan, _no_netem(nft=True))
    assert any("delay_ms=30" in line for line in shaped.not_emulated)


def test_config_round_trip():
    end = delayline.EndSpec("a-eth0", "a", "xd0", 20, 5, 1, True, 9)
    data = json.loads(delayline.config_json([end], {"a": "/proc/1/ns/net"}))
    assert [delayline.EndSpec(**e) for e in data["ends"]] == [end]
    assert data["netns"] == {"a": "/proc/1/ns/net"}


def test_frames_the_delay_line_sends_on_are_not_lost_twice():
    """nftables drops a host's egress loss before the delay line; its resent frames pass."""
    egress = shaping.nft_loss_script(5, "hnabh1-eth0").splitlines()[3]
    assert "hook egress" in egress
    assert egress.index(f"meta mark {delayline.MARK:#x} accept") < egress.index("numgen")
    ingress = shaping.nft_loss_script(5, "hnabh1-eth0").splitlines()[4]
    assert "hook ingress" in ingress and "meta mark" not in ingress


NO_NETEM = Capabilities(
    root=True, ovs_running=True, ovs="Open vSwitch 3.1.0", kernel_datapath=False, netem=False,
    htb=True, nft=True, mininet="2.3.0", controller="ryu 4.34", iperf3="iperf3 3.12",
    scapy="2.5.0", kernel="6.1.0", userspace_delay=True,
)


@pytest.mark.parametrize("netem,userspace,request_,chosen", [
    (False, True, "auto", "userspace"),
    (True, True, "auto", "netem"),
    (True, True, "userspace", "userspace"),
    (True, False, "userspace", None),
    (False, True, "netem", None),
    (False, False, "auto", None),
])
def test_delay_line_choice(netem, userspace, request_, chosen):
    caps = dataclasses.replace(NO_NETEM, netem=netem, userspace_delay=userspace,
                               delay_line_request=request_)
    assert caps.delay_line == chosen
    assert caps.to_dict()["delay_line"] == chosen


def test_no_netem_the_delay_line_is_said():
    will, will_not = capabilities.describe(NO_NETEM)
    line = next(w for w in will if w.startswith("delay, jitter and loss on switch-to-switch"))
    assert "userspace delay line" in line and "no netem" in line
    assert any(w.startswith("loss on access links: nftables") for w in will)
    assert not any("delay_ms" in w or "loss_pct" in w for w in will_not)


def test_delay_line_without_nft_takes_all_loss():
    will, will_not = capabilities.describe(dataclasses.replace(NO_NETEM, nft=False))
    assert any(w.startswith("delay, jitter and loss: the userspace delay line") for w in will)
    assert will_not == []


def test_userspace_chosen_on_a_netem_machine_says_so():
    caps = dataclasses.replace(NO_NETEM, netem=True, delay_line_request="userspace")
    will, _ = capabilities.describe(caps)
    assert any("--delay-line userspace" in w for w in will)
    assert not any(w == "delay, jitter and loss: netem" for w in will)


def test_unknown_delay_line_request():
    with pytest.raises(ValueError, match="delay_line"):
        capabilities.detect(delay_line="tc")



def _no_netem(**changes) -> Capabilities:
    """A kernel without netem (this machine's kind), with HTB and nftables unless changed."""
    return dataclasses.replace(NO_NETEM, **{"userspace_delay": False, **changes})


def test_no_reorder_reaches_the_delay_line_from_the_scenario(scenario_dict):
    from hermitnet import plan as plan_module
    from hermitnet import scenario

    data = scenario_dict()
    data["uplink"] = {"bw_mbps": 10, "delay_ms": 30, "jitter_ms": 10, "no_reorder": True}
    loaded = scenario.from_dict(data)
    assert loaded.uplink.no_reorder is True
    ends = delayline.plan(plan_module.build(loaded), nft=True)
    uplink_ends = [e for e in ends if e.jitter_ms == 10]
    assert len(uplink_ends) == 2 and all(e.no_reorder for e in uplink_ends)
    assert not any(e.no_reorder for e in ends if e not in uplink_ends)
    assert json.loads(delayline.config_json(uplink_ends, {}))["ends"][0]["no_reorder"] is True
