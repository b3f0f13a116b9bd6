"""Flows per table from `ovs-ofctl dump-flows` output (the policy-installed check reads it)."""

from hermitnet.emulation.network import flows_per_table

DUMP = """\
 cookie=0x0, duration=3.1s, table=0, n_packets=0, n_bytes=0, priority=300 actions=goto_table:1
 cookie=0x0, duration=3.1s, table=1, n_packets=4, n_bytes=280, priority=0 actions=drop
 cookie=0x0, duration=3.1s, table=1, n_packets=0, n_bytes=0, priority=10,ip actions=goto_table:2
"""


def test_flows_are_counted_per_table():
    assert flows_per_table(DUMP) == {0: 1, 1: 2}


def test_no_flows_is_an_empty_count():
    assert flows_per_table("") == {}
