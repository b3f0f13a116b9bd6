"""Cluster placement: a NodeB with all its phones on one machine, the centre on the first."""

from __future__ import annotations

import pytest

from hermitnet import plan, scenario
from hermitnet.cluster import placement
from hermitnet.errors import HermitError
from tests.conftest import SCENARIO_DIR

TWO = placement.ClusterSpec(("lab1", "lab2"))


def test_baseline_on_two_machines_puts_one_cell_on_each(baseline_plan):
    placed = placement.place(baseline_plan, TWO)
    assert placed.machine_of("nb-pyongyang-1") == "lab1"
    assert placed.machine_of("nb-pyongyang-2") == "lab2"
    assert sorted(placed.on("lab2")) == ["citizen-2", "nb-pyongyang-2", "visitor-1"]


def test_every_phone_is_on_its_nodeb_s_machine(baseline_plan):
    placed = placement.place(baseline_plan, placement.ClusterSpec(("a", "b", "c")))
    for host in baseline_plan.hosts:
        assert placed.machine_of(host.name) == placed.machine_of(host.switch)


@pytest.mark.parametrize("name", ["core", "rnc", "intranet", "fixed", "border", "global"])
def test_the_centre_is_on_the_first_machine(baseline_plan, name):
    assert placement.place(baseline_plan, TWO).machine_of(name) == "lab1"


def test_only_backhaul_links_cross(baseline_plan):
    placed = placement.place(baseline_plan, TWO)
    crossing = placed.crossing_links(baseline_plan)
    assert [(lk.a, lk.b, lk.kind) for lk in crossing] == [("nb-pyongyang-2", "rnc", "backhaul")]


def test_global_zone_and_pinned_cells_follow_the_cluster_file(tmp_path):
    border = scenario.load(SCENARIO_DIR / "border.yaml")
    layout = plan.build(border)
    cells = [s.name.removeprefix("nb-") for s in layout.switches if s.role == "ran"]
    path = tmp_path / "cluster.yaml"
    path.write_text(f"machines: [lab1, lab2, lab3]\nglobal: lab3\ncells: {{{cells[0]}: lab3}}\n")
    placed = placement.place(layout, placement.parse_cluster(str(path)))
    assert placed.machine_of("global") == "lab3"
    assert placed.machine_of(f"nb-{cells[0]}") == "lab3"
    for host in layout.hosts:
        if host.zone == "global" or host.kind == "foreign-handset":
            assert placed.machine_of(host.name) == "lab3"


def test_more_machines_than_cells_leaves_the_last_ones_empty(baseline_plan):
    placed = placement.place(baseline_plan, placement.ClusterSpec(("a", "b", "c")))
    assert placed.on("c") == []


def test_placement_is_deterministic(baseline_plan):
    assert placement.place(baseline_plan, TWO) == placement.place(baseline_plan, TWO)


@pytest.mark.parametrize("text, message", [
    ("lab1", "at least two machines"),
    ("lab1,lab1", "named twice"),
    ("lab1,bad name", "not a host name"),
    ("lab1,", "not a host name"),
])
def test_bad_machine_lists_say_what_is_wrong(text, message):
    with pytest.raises(HermitError, match=message):
        placement.parse_cluster(text)


@pytest.mark.parametrize("body, message", [
    ("machines: [a, b]\nglobal: c\n", "global: 'c' is not one of the machines"),
    ("machines: [a, b]\ncells: {x: z}\n", "cells.x: 'z' is not one of the machines"),
    ("machines: [a, b]\nzones: {}\n", "unknown key"),
    ("- a\n- b\n", "expected a mapping"),
    ("machines: a\n", "machines: expected a list"),
])
def test_bad_cluster_files_name_file_and_field(tmp_path, body, message):
    path = tmp_path / "cluster.yaml"
    path.write_text(body)
    with pytest.raises(HermitError, match=message) as caught:
        placement.parse_cluster(str(path))
    assert str(path) in str(caught.value)


def test_a_pinned_cell_must_exist(baseline_plan):
    spec = placement.ClusterSpec(("a", "b"), cells={"nowhere": "b"})
    with pytest.raises(HermitError, match="nowhere"):
        placement.place(baseline_plan, spec)


def test_validate_prints_the_placement(run_cli):
    code, out, _ = run_cli("validate", "baseline", "--cluster", "lab1,lab2")
    assert code == 0
    assert "lab2: 1 switches (nb-pyongyang-2); 2 hosts (citizen-2, visitor-1)" in out
    assert "tunnel: nb-pyongyang-2 (lab2) <-> rnc (lab1), backhaul link" in out


def test_validate_refuses_a_one_machine_cluster(run_cli):
    code, _, err = run_cli("validate", "baseline", "--cluster", "lab1")
    assert code == 2
    assert "--cluster: a cluster needs at least two machines" in err


def test_ssh_options_come_from_the_cluster_file(tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text("machines: [a, b]\nssh_options: [-o, IdentityFile=/k]\n")
    assert placement.parse_cluster(str(path)).ssh_options == ("-o", "IdentityFile=/k")
    path.write_text("machines: [a, b]\nssh_options: -o\n")
    with pytest.raises(HermitError, match="ssh_options: expected a list"):
        placement.parse_cluster(str(path))


def test_run_takes_a_cluster_and_refuses_a_bad_one(run_cli):
    code, out, _ = run_cli("run", "--help")
    assert code == 0 and "--cluster MACHINES" in out
    code, _, err = run_cli("run", "baseline", "--cluster", "lab1,lab1")
    assert code == 2
    assert "--cluster: a machine is named twice" in err


def test_the_cluster_file_may_ask_for_a_tunnel_kind(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("machines: [a, b]\ntunnel: ssh\n")
    assert placement.parse_cluster(str(path)).tunnel == "ssh"
    path.write_text("machines: [a, b]\n")
    assert placement.parse_cluster(str(path)).tunnel is None
    path.write_text("machines: [a, b]\ntunnel: ipip\n")
    with pytest.raises(HermitError, match="'ipip' is not a tunnel kind; expected gretap, vxlan"):
        placement.parse_cluster(str(path))


def test_a_cluster_run_refuses_site_events_before_anything_is_built(scenario_dict):
    data = scenario_dict(timeline={"duration_s": 10, "events": [
        {"at_s": 2, "kind": "site_down", "site": "news"},
        {"at_s": 5, "kind": "site_up", "site": "news"}]})
    with pytest.raises(HermitError, match="site_down is not played on a cluster run") as caught:
        placement.refuse_unsupported(scenario.from_dict(data))
    assert caught.value.field == "timeline.events[0]"
    placement.refuse_unsupported(scenario.load(SCENARIO_DIR / "border.yaml"))   # no site events
