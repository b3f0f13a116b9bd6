"""Link shaping plans: HTB for rates, netem under HTB, nft loss without netem, nothing silent."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from hermitnet import plan, scenario
from hermitnet.emulation import shaping
from hermitnet.emulation.capabilities import Capabilities
from hermitnet.errors import HermitError
from hermitnet.radio import Attachment

FULL = Capabilities(
    root=True, ovs_running=True, ovs="Open vSwitch 3.1.0", kernel_datapath=False, netem=True,
    htb=True, nft=True, mininet="2.3.0", controller="ryu 4.34", iperf3="iperf3 3.12",
    scapy="2.5.0", kernel="6.1.0-18-amd64",
)


def _caps(**changes) -> Capabilities:
    """This machine's shapers as a run detects them: all of them unless told otherwise."""
    return dataclasses.replace(FULL, **changes)


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
    shaped = shaping.plan_link(link, baseline_plan, _caps())
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
    shaped = shaping.plan_link(link, baseline_plan, _caps())
    host_end, switch_end = shaped.ends
    assert host_end.node == host.node and host_end.intf == f"{host.node}-eth0"
    assert switch_end.node == ""
    assert host_end.tc[1][host_end.tc[1].index("rate") + 1] == "2mbit"


def test_netem_at_root_without_a_rate(scenario_dict):
    p = _with_spec(_plan_with(scenario_dict), "uplink",
                   scenario.LinkSpec(None, delay_ms=25, jitter_ms=5, loss_pct=1.5))
    shaped = shaping.plan_link(_link(p, "uplink"), p, _caps())
    for end in shaped.ends:
        (netem,) = end.tc
        assert netem[netem.index("dev") + 2] == "root"
        args = netem[netem.index("netem") + 1:]
        assert args == ("delay", "25ms", "5ms", "distribution", "normal", "loss", "1.5%")


def test_unshaped_link_gets_nothing(baseline_plan):
    link = next(lk for lk in baseline_plan.links if lk.kind == "core")
    shaped = shaping.plan_link(link, baseline_plan, _caps())
    assert all(end.tc == () and end.nft is None for end in shaped.ends)
    assert shaped.not_emulated == ()


def test_rate_only_needs_no_netem(scenario_dict):
    p = _plan_with(scenario_dict, mobile={"bw_mbps": 3, "delay_ms": 0})
    shaped = shaping.plan_link(_link(p, "air"), p, _caps(netem=False, nft=False))
    assert shaped.not_emulated == ()
    assert all(_qdisc_kinds(e.tc) == ["htb-root", "htb-class"] for e in shaped.ends)


def test_without_netem_delay_is_reported_not_dropped(baseline_plan):
    link = _link(baseline_plan, "uplink")
    shaped = shaping.plan_link(link, baseline_plan, _caps(netem=False))
    assert all("netem" not in cmd for end in shaped.ends for cmd in end.tc)
    assert all(_qdisc_kinds(e.tc) == ["htb-root", "htb-class"] for e in shaped.ends)
    (line,) = shaped.not_emulated
    assert "uplink link border-global" in line and "delay_ms=30" in line


def test_loss_without_netem_on_a_host_link_becomes_nft_on_the_host_only(scenario_dict):
    p = _plan_with(scenario_dict, mobile={"delay_ms": 0, "loss_pct": 2.5})
    link = _link(p, "air")
    shaped = shaping.plan_link(link, p, _caps(netem=False))
    host_end, switch_end = shaped.ends
    assert host_end.node == p.host(link.a).node
    assert host_end.nft == shaping.nft_loss_script(2.5, host_end.intf)
    assert switch_end.nft is None
    assert shaped.not_emulated == ()


def test_loss_without_netem_on_a_switch_link_is_reported(scenario_dict):
    p = _plan_with(scenario_dict, uplink={"delay_ms": 0, "loss_pct": 1})
    shaped = shaping.plan_link(_link(p, "uplink"), p, _caps(netem=False))
    assert all(end.nft is None for end in shaped.ends)
    (line,) = shaped.not_emulated
    assert "loss_pct=1" in line


def test_loss_without_netem_nor_nft_is_reported(scenario_dict):
    p = _plan_with(scenario_dict, mobile={"delay_ms": 0, "loss_pct": 3})
    shaped = shaping.plan_link(_link(p, "air"), p, _caps(netem=False, nft=False))
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
        shaped = shaping.plan_link(_link(p, kind), p, _caps(netem=netem, nft=nft))
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


def test_without_htb_a_rate_is_reported_and_netem_sits_at_the_root(baseline_plan):
    link = _link(baseline_plan, "uplink")   # bw 10, delay 30
    shaped = shaping.plan_link(link, baseline_plan, _caps(htb=False))
    (line,) = shaped.not_emulated
    assert "uplink link border-global" in line and "bw_mbps=10" in line and "HTB" in line
    for end in shaped.ends:
        (netem,) = end.tc
        assert _qdisc_kinds(end.tc) == ["netem"]
        assert netem[netem.index("dev") + 2] == "root"


@pytest.mark.parametrize("htb", [True, False])
def test_rates_are_shaped_or_reported(scenario_dict, htb):
    p = _plan_with(scenario_dict, mobile={"bw_mbps": 3, "delay_ms": 0})
    shaped = shaping.plan_link(_link(p, "air"), p, _caps(htb=htb, netem=False, nft=False))
    tc = " ".join(" ".join(cmd) for end in shaped.ends for cmd in end.tc)
    assert ("rate 3mbit" in tc) == htb
    assert bool(shaped.not_emulated) == (not htb)


# -- air links re-shaped by the radio timeline ------------------------------------------------

def _phone_link(p):
    return next(lk for lk in p.links if lk.kind == "air")


def _radio_state(cell, rate=1.5, loss=2.0):
    return Attachment("ue", cell, "national" if cell else None, -3.0, rate, loss, -10.0, (0, 0))


def _update(p, attachment, **caps):
    link = _phone_link(p)
    spec = plan.air_link_spec(link.spec, attachment)
    return link, shaping.air_link_update(link, p, spec, _caps(**caps))


def test_air_update_changes_the_htb_class_and_netem_on_both_ends(baseline_plan):
    link, ends = _update(baseline_plan, _radio_state("nb-1", rate=0.96, loss=3.7))
    host = baseline_plan.host(link.a)
    assert [e.intf for e in ends] == [f"{host.node}-eth0",
                                      f"{baseline_plan.switch(link.b).node}-eth{link.b_port}"]
    assert [e.node for e in ends] == [host.node, ""]
    for end in ends:
        rate, netem = end.tc
        assert rate[:3] == ("tc", "class", "change") and "0.96mbit" in rate
        assert netem[netem.index("parent") + 1] == shaping.HTB_CLASS
        assert netem[-2:] == ("loss", "3.7%")
        assert end.nft is None


def test_air_update_without_service_drops_everything(baseline_plan):
    _, ends = _update(baseline_plan, _radio_state(None, rate=3.0, loss=0.0))
    for end in ends:
        rate, netem = end.tc
        assert f"{plan.MIN_AIR_RATE_MBPS:g}mbit" in rate
        assert netem[-2:] == ("loss", "100%")


def test_air_update_without_netem_drops_with_nft_inside_the_phone(baseline_plan):
    _, ends = _update(baseline_plan, _radio_state(None), netem=False)
    phone_end, switch_end = ends
    assert phone_end.nft == shaping.nft_loss_script(100.0, phone_end.intf)
    assert "policy accept; drop;" in phone_end.nft
    assert switch_end.nft is None
    assert all(_qdisc_kinds(e.tc) == ["htb-class"] for e in ends)


def test_air_update_back_to_no_loss_clears_the_nft_drop(baseline_plan):
    _, ends = _update(baseline_plan, _radio_state("nb-1", loss=0.0), netem=False)
    assert ends[0].nft == shaping.nft_loss_script(0.0, ends[0].intf)
    assert "< 0 drop" in ends[0].nft


def test_air_update_refuses_a_loss_it_cannot_emulate(baseline_plan):
    with pytest.raises(HermitError, match=r"loss_pct=100 needs netem or nftables"):
        _update(baseline_plan, _radio_state(None), netem=False, nft=False)
    _, ends = _update(baseline_plan, _radio_state("nb-1", loss=0.0), netem=False, nft=False)
    assert all(_qdisc_kinds(e.tc) == ["htb-class"] and e.nft is None for e in ends)


def test_air_update_without_htb_leaves_the_rate_to_the_start_report(baseline_plan):
    link, ends = _update(baseline_plan, _radio_state("nb-1", rate=0.5, loss=1.0), htb=False)
    for end in ends:
        (netem,) = end.tc
        assert netem[netem.index("dev") + 2] == "root" and netem[-2:] == ("loss", "1%")
    reported = shaping.plan_link(link, baseline_plan, _caps(htb=False)).not_emulated
    assert any("bw_mbps=" in line for line in reported)


def test_no_reorder_puts_a_pfifo_under_netem(scenario_dict):
    p = _with_spec(_plan_with(scenario_dict), "uplink",
                   scenario.LinkSpec(None, delay_ms=25, jitter_ms=5, no_reorder=True))
    for end in shaping.plan_link(_link(p, "uplink"), p, _caps()).ends:
        netem, child = end.tc
        assert "netem" in netem and netem[netem.index("handle") + 1] == shaping.NETEM_HANDLE
        assert child[child.index("parent") + 1] == f"{shaping.NETEM_HANDLE}1"
        assert child[child.index("parent") + 2:] == ("pfifo", "limit", "1000")
    without_jitter = _with_spec(p, "uplink", scenario.LinkSpec(None, delay_ms=25,
                                                               no_reorder=True))
    for end in shaping.plan_link(_link(without_jitter, "uplink"), without_jitter, _caps()).ends:
        assert len(end.tc) == 1              # nothing to reorder: netem alone


def test_a_tc_batch_is_the_commands_without_tc():
    cmds = shaping.htb_cmds("s1-eth1", 2.0)
    assert shaping.tc_batch(cmds).splitlines() == [" ".join(c[1:]) for c in cmds]


def test_a_host_is_prepared_by_one_script_that_feeds_each_tool_its_input(tmp_path):
    """The script runs under sh with stand-ins for ethtool, ip, tc and nft that record their
    arguments and standard input: each tool gets exactly its part, in order."""
    import subprocess

    log = tmp_path / "log"
    for tool in ("ethtool", "ip", "tc", "nft"):
        shim = tmp_path / tool
        shim.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n'
                        f'case "$*" in *-) cat >> {log};; esac\n')
        shim.chmod(0o755)
    nft = shaping.nft_loss_script(1.0, "h1-eth0")
    script = shaping.host_setup_script(
        "h1-eth0", tx_checksum_off=True,
        neighbours=["neigh replace 10.1.0.10 lladdr 00:00:00:00:00:01 dev h1-eth0 nud permanent"],
        tc=shaping.htb_cmds("h1-eth0", 2.0), nft=nft)
    done = subprocess.run(["sh", "-e"], input=script, text=True, capture_output=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, timeout=30)
    assert done.returncode == 0, done.stderr
    expected = ("ethtool -K h1-eth0 tx off\n"
                "ip -batch -\nneigh replace 10.1.0.10 lladdr 00:00:00:00:00:01 dev h1-eth0 "
                "nud permanent\n"
                "tc -batch -\n" + shaping.tc_batch(shaping.htb_cmds("h1-eth0", 2.0))
                + "nft -f -\n" + nft.rstrip("\n") + "\n")
    assert log.read_text() == expected
    log.unlink()
    failing = tmp_path / "tc"
    failing.write_text("#!/bin/sh\necho 'RTNETLINK answers: No such device' >&2\nexit 2\n")
    done = subprocess.run(["sh", "-e"], input=script, text=True, capture_output=True,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, timeout=30)
    assert done.returncode == 2 and "No such device" in done.stderr
    assert log.read_text().startswith("ethtool") and "nft" not in log.read_text()  # stopped


def test_a_host_without_shaping_gets_only_what_it_needs():
    script = shaping.host_setup_script("h2-eth0", tx_checksum_off=False, neighbours=[], tc=[],
                                       nft=None)
    assert script == "set -e\n"
