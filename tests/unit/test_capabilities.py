"""What a run will and will not emulate, said in words, for a given machine."""

from __future__ import annotations

import dataclasses

import pytest

from hermitnet.emulation import capabilities
from hermitnet.emulation.capabilities import Capabilities

FULL = Capabilities(
    root=True, ovs_running=True, ovs="Open vSwitch 3.1.0", kernel_datapath=True, netem=True,
    htb=True, nft=True, mininet="2.3.0", controller="ryu 4.34", iperf3="iperf3 3.12",
    scapy="2.5.0", kernel="6.1.0-18-amd64",
)


def caps(**changes) -> Capabilities:
    return dataclasses.replace(FULL, **changes)


def test_everything_available():
    will, will_not = capabilities.describe(FULL)
    assert will_not == []
    text = "\n".join(will)
    assert "kernel datapath" in text
    assert "HTB" in text and "netem" in text and "OpenFlow meters" in text
    assert "userspace" not in text and "nftables" not in text


def test_userspace_datapath_turns_offload_off():
    will, will_not = capabilities.describe(caps(kernel_datapath=False))
    assert caps(kernel_datapath=False).datapath == "userspace"
    assert any("userspace datapath" in line and "checksum offload" in line for line in will)
    assert not any("kernel datapath" in line for line in will)
    assert will_not == []


def test_no_netem_with_nft():
    will, will_not = capabilities.describe(caps(netem=False))
    assert any("nftables" in line and "loss" in line for line in will)
    assert not any(line.startswith("delay, jitter and loss") for line in will)
    assert any("delay_ms" in line and "jitter_ms" in line for line in will_not)
    assert any("loss_pct" in line and "uplink" in line for line in will_not)
    assert len(will_not) == 2


def test_no_netem_no_nft():
    will, will_not = capabilities.describe(caps(netem=False, nft=False))
    assert not any("nftables random drop" in line for line in will)
    assert any("delay_ms" in line for line in will_not)
    assert any(line.startswith("loss_pct: neither netem nor nftables") for line in will_not)


def test_nft_does_not_matter_with_netem():
    assert capabilities.describe(caps(nft=False)) == capabilities.describe(FULL)


def test_no_htb():
    will, will_not = capabilities.describe(caps(htb=False))
    assert any("bw_mbps" in line and "HTB" in line for line in will_not)
    assert not any(line.startswith("link rates") for line in will)


def test_to_dict():
    data = caps(kernel_datapath=False, problems=("not root",)).to_dict()
    assert data["datapath"] == "userspace"
    assert data["problems"] == ["not root"]
    assert data["ovs"] == "Open vSwitch 3.1.0"


@pytest.mark.parametrize("line,expected", [
    ("ovs-vsctl (Open vSwitch) 3.1.0", "Open vSwitch 3.1.0"),
    ("ovs-vsctl (Open vSwitch) 2.17.9", "Open vSwitch 2.17.9"),
    (None, None),
    ("garbage", None),
])
def test_ovs_short(line, expected):
    assert capabilities._ovs_short(line) == expected


@pytest.mark.parametrize("line,expected", [
    ("iperf 3.12 (cJSON 1.7.15)", "iperf3 3.12"),
    ("iperf 3.9 (cJSON 1.7.13)", "iperf3 3.9"),
    ("iperf 3.16.1", "iperf3 3.16.1"),
    (None, None),
])
def test_iperf3_short(line, expected):
    assert capabilities._iperf3_short(line) == expected
