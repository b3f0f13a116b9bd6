"""Link shaping plans: HTB for rates, netem under HTB, nft loss without netem, nothing silent."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from hermitnet import plan, scenario
from hermitnet.emulation import shaping
from hermitnet.errors import HermitError


def _plan_with(scenario_dict, *, mobile=None, uplink=None, backhaul=None):
    data = scenario_dict(defaults={k: v for k, v in (("mobile_link", mobile),
                                                     ("backhaul_link", backhaul)) if v})
    if uplink:
        data["uplink"] = uplink
    return plan.build(scenario.from_dict(data), run_tag=1, prefix="hnab")


def _with_spec(p, kind, spec):
    """The plan `p` with every link of `kind` shaped by `spec`."""
    links = tuple(dataclasses.replace(lk, spec=spec) if lk.kind == kind else lk for lk in p.links)
    return dataclasses.replace(p, links=links)


def _link(p, kind):
    return next(link for link in p.links if link.kind == kind)


def _qdisc_kinds(cmds):
    """['htb-root', 'htb-class', 'netem'] for a command list."""
    kinds = []
    for cmd in cmds:
        if cmd[:2] == ("tc", "class"):
            kinds.append("htb-class")
        elif "netem" in cmd:
            kinds.append("netem")
        elif "htb" in cmd:
            kinds.append("htb-root")
        else:
            kinds.append("?")
    return kinds


def test_htb_and_netem_under_htb_on_both_ends(baseline_plan):
    link = _link(baseline_plan, "uplink")   # bw 10, delay 30
    shaped = shaping.plan_link(link, baseline_plan, netem=True, nft=True)
    assert shaped.not_emulated == ()
    assert len(shaped.ends) == 2
    border, glob = baseline_plan.switch("border"), baseline_plan.switch("global")
    assert [e.intf for e in shaped.ends] == [f"{border.node}-eth{link.a_port}",
                                             f"{glob.node}-eth{link.b_port}"]
    for end in shaped.ends:
        assert end.node == ""          # switch ports live in the root namespace
        assert end.nft is None
        assert _qdisc_kinds(end.tc) == ["htb-root", "htb-class", "netem"]
        root, rate, netem = end.tc
        assert root[root.index("dev") + 1] == end.intf
        assert "root" in root and root[root.index("handle") + 1] == shaping.HTB_HANDLE
        assert rate[rate.index("rate") + 1] == "10mbit"
        assert netem[netem.index("parent") + 1] == shaping.HTB_CLASS
        assert netem[netem.index("delay") + 1] == "30ms"


def test_host_end_runs_in_the_host_namespace(baseline_plan):
    link = next(lk for lk in baseline_plan.links if lk.a == "citizen-1")
    host = baseline_plan.host("citizen-1")
    shaped = shaping.plan_link(link, baseline_plan, netem=True, nft=True)
    host_end, switch_end = shaped.ends
    assert host_end.node == host.node and host_end.intf == f"{host.node}-eth0"
    assert switch_end.node == ""
    assert host_end.tc[1][host_end.tc[1].index("rate") + 1] == "2mbit"


def test_netem_at_root_without_a_rate(scenario_dict):
    p = _with_spec(_plan_with(scenario_dict), "uplink",
                   scenario.LinkSpec(None, delay_ms=25, jitter_ms=5, loss_pct=1.5))
    shaped = shaping.plan_link(_link(p, "uplink"), p, netem=True, nft=True)
    for end in shaped.ends:
        (netem,) = end.tc
        assert netem[netem.index("dev") + 2] == "root"
        args = netem[netem.index("netem") + 1:]
        assert args == ("delay", "25ms", "5ms", "distribution", "normal", "loss", "1.5%")


def test_unshaped_link_gets_nothing(baseline_plan):
    link = next(lk for lk in baseline_plan.links if lk.kind == "core")
    shaped = shaping.plan_link(link, baseline_plan, netem=True, nft=True)
    assert all(end.tc == () and end.nft is None for end in shaped.ends)
    assert shaped.not_emulated == ()


def test_rate_only_needs_no_netem(scenario_dict):
    p = _plan_with(scenario_dict, mobile={"bw_mbps": 3, "delay_ms": 0})
    shaped = shaping.plan_link(_link(p, "air"), p, netem=False, nft=False)
    assert shaped.not_emulated == ()
    assert all(_qdisc_kinds(e.tc) == ["htb-root", "htb-class"] for e in shaped.ends)


def test_without_netem_delay_is_reported_not_dropped(baseline_plan):
    link = _link(baseline_plan, "uplink")
    shaped = shaping.plan_link(link, baseline_plan, netem=False, nft=True)
    assert all("netem" not in cmd for end in shaped.ends for cmd in end.tc)
    assert all(_qdisc_kinds(e.tc) == ["htb-root", "htb-class"] for e in shaped.ends)
    (line,) = shaped.not_emulated
    assert "uplink link border-global" in line and "delay_ms=30" in line


def test_loss_without_netem_on_a_host_link_becomes_nft_on_the_host_only(scenario_dict):
    p = _plan_with(scenario_dict, mobile={"delay_ms": 0, "loss_pct": 2.5})
    link = _link(p, "air")
    shaped = shaping.plan_link(link, p, netem=False, nft=True)
    host_end, switch_end = shaped.ends
    assert host_end.node == p.host(link.a).node
    assert host_end.nft == shaping.nft_loss_script(2.5, host_end.intf)
    assert switch_end.nft is None
    assert shaped.not_emulated == ()


def test_loss_without_netem_on_a_switch_link_is_reported(scenario_dict):
    p = _plan_with(scenario_dict, uplink={"delay_ms": 0, "loss_pct": 1})
    shaped = shaping.plan_link(_link(p, "uplink"), p, netem=False, nft=True)
    assert all(end.nft is None for end in shaped.ends)
    (line,) = shaped.not_emulated
    assert "loss_pct=1" in line


def test_loss_without_netem_nor_nft_is_reported(scenario_dict):
    p = _plan_with(scenario_dict, mobile={"delay_ms": 0, "loss_pct": 3})
    shaped = shaping.plan_link(_link(p, "air"), p, netem=False, nft=False)
    assert all(end.nft is None for end in shaped.ends)
    (line,) = shaped.not_emulated
    assert "loss_pct=3" in line


SPECS = [scenario.LinkSpec(bw, d, j, lo) for bw, d, j, lo in itertools.product(
    (None, 4.0), (0, 12.5), (0, 3), (0, 0.5))]


@pytest.mark.parametrize("netem,nft", list(itertools.product((True, False), repeat=2)))
@pytest.mark.parametrize("kind", ["air", "uplink"])
def test_no_configured_parameter_is_dropped_silently(scenario_dict, kind, netem, nft):
    base = _plan_with(scenario_dict)
    for spec in SPECS:
        p = _with_spec(base, kind, spec)
        shaped = shaping.plan_link(_link(p, kind), p, netem=netem, nft=nft)
        report = " ".join(shaped.not_emulated)
        for end in shaped.ends:
            text = " ".join(" ".join(cmd) for cmd in end.tc)
            if spec.bw_mbps:
                assert f"rate {spec.bw_mbps:g}mbit" in text, (spec, netem, nft)
            for value, word, field in ((spec.delay_ms, "delay", "delay_ms"),
                                       (spec.jitter_ms, "ms distribution", "jitter_ms")):
                if value:
                    assert (f"{value:g}ms" in text and word in text) or f"{field}=" in report, \
                        (spec, netem, nft)
        if spec.loss_pct:
            in_tc = any(f"loss {spec.loss_pct:g}%" in " ".join(" ".join(c) for c in e.tc)
                        for e in shaped.ends)
            in_nft = any(e.nft for e in shaped.ends)
            assert in_tc or in_nft or f"loss_pct={spec.loss_pct:g}" in report, (spec, netem, nft)
        if netem:
            assert report == "", spec


@pytest.mark.parametrize("loss,threshold", [(1, 10_000), (2.5, 25_000), (0.01, 100),
                                            (33.333, 333_330), (99.9999, 999_999), (0.00012, 1)])
def test_nft_loss_threshold(loss, threshold):
    script = shaping.nft_loss_script(loss, "hn00h1-eth0")
    found = re.findall(r"numgen random mod (\d+) < (\d+) drop", script)
    assert found == [("1000000", str(threshold))] * 2   # one rule on output, one on input
    # netdev hooks on the device: raw-socket frames (scapy) are subject to the loss too
    assert 'hook egress device "hn00h1-eth0"' in script
    assert 'hook ingress device "hn00h1-eth0"' in script
    # reloading replaces the table: declare, delete, then define it again
    lines = script.splitlines()
    assert lines[0] == f"table netdev {shaping.NFT_LOSS_TABLE}"
    assert lines[1] == f"delete table netdev {shaping.NFT_LOSS_TABLE}"


def test_nft_total_loss_drops_everything():
    """nft's numgen threshold must stay below the modulus: 100 % is a plain drop."""
    script = shaping.nft_loss_script(100, "hn00h1-eth0")
    assert "numgen" not in script
    assert re.findall(r"accept; drop; }", script) == ["accept; drop; }"] * 2


@pytest.mark.parametrize("loss", [0.004, 1e-9])
def test_nft_tiny_loss_is_not_rounded_away(loss):
    """A configured loss, however small, drops something rather than silently nothing."""
    assert re.search(r"< [1-9]\d* drop", shaping.nft_loss_script(loss, "hn00h1-eth0"))


def test_htb_burst_covers_ten_ms():
    cmd = shaping.htb_rate_cmd("x-eth1", 1000)
    assert int(cmd[cmd.index("burst") + 1]) == 1_250_000    # 1 Gbit/s * 10 ms / 8
    cmd = shaping.htb_rate_cmd("x-eth1", 2)
    assert int(cmd[cmd.index("burst") + 1]) == 15_000       # floor: 10 full frames
    assert cmd[2] == "change"


def _fake(out="", err="", code=0):
    calls = []

    def runner(argv, input_text):
        calls.append((argv, input_text))
        return out, err, code

    return runner, calls


def test_run_checked_passes_argv_and_input():
    runner, calls = _fake()
    shaping.run_checked(["nft", "-f", "-"], runner=runner, input_text="table inet x {}")
    assert calls == [(["nft", "-f", "-"], "table inet x {}")]


def test_run_checked_raises_on_exit_code():
    runner, _ = _fake(out="what went wrong", code=2)
    with pytest.raises(HermitError, match=r"command failed \(2\): tc qdisc .*what went wrong"):
        shaping.run_checked(["tc", "qdisc", "add"], runner=runner)


def test_run_checked_raises_on_error_output_even_with_exit_0():
    runner, _ = _fake(err="RTNETLINK answers: Invalid argument\n", code=0)
    with pytest.raises(HermitError, match="RTNETLINK answers"):
        shaping.run_checked(["tc", "qdisc", "add"], runner=runner)


def test_run_checked_ignores_whitespace_only_stderr():
    runner, _ = _fake(out="ok", err="\n  ", code=0)
    shaping.run_checked(["true"], runner=runner)
