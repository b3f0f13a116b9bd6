"""hermitnet.capacity: the estimate of what a plan needs, and the refusal before anything runs."""

import pytest

from hermitnet import capacity, scenario
from hermitnet import plan as plan_module
from hermitnet.errors import HermitError

ROOMY = capacity.Machine(cpus=2, memory_available_mib=24_000, open_files_limit=20_000,
                         terminals_free=20_000)


def _plan(scenario_dict, phones: int, sites: int = 10, cells: int = 5):
    data = scenario_dict()
    data["tiers"].update({f"extra-{k}": {"zones": ["intranet"]} for k in range(10)})
    tiers = list(data["tiers"])
    data["cells"] = [{"name": f"cell-{c}"} for c in range(cells)]
    data["subscribers"] = [{"name": f"p-{i}", "tier": tiers[i % len(tiers)],
                            "cell": f"cell-{i % cells}"} for i in range(phones)]
    data["sites"] = [{"name": f"site-{i}", "zone": "intranet"} for i in range(sites)]
    return plan_module.build(scenario.from_dict(data, source="big.yaml"))


def test_the_estimate_counts_hosts_sites_and_switches_at_the_measured_costs(scenario_dict):
    plan = _plan(scenario_dict, phones=100, sites=10, cells=5)
    need = capacity.estimate(plan)
    hosts = 110 + len(plan.services())     # the resolvers and control vantages are hosts too
    assert (need.hosts, need.sites, need.switches) == (hosts, 10, len(plan.switches))
    assert need.memory_mib == pytest.approx(
        capacity.MEMORY_MIB_FIXED + hosts * capacity.MEMORY_MIB_PER_HOST
        + 10 * capacity.MEMORY_MIB_PER_SITE + need.switches * capacity.MEMORY_MIB_PER_SWITCH)
    assert need.bring_up_s == pytest.approx(hosts * capacity.BRING_UP_S_PER_HOST
                                            + need.switches * capacity.BRING_UP_S_PER_SWITCH)
    bigger = capacity.estimate(_plan(scenario_dict, phones=1000, sites=10, cells=5))
    assert bigger.memory_mib > need.memory_mib and bigger.bring_up_s > need.bring_up_s


def test_a_plan_the_machine_holds_passes_with_its_estimate(scenario_dict):
    plan = _plan(scenario_dict, phones=1000, sites=20, cells=50)
    need = capacity.check(plan, ROOMY)
    hosts = 1020 + len(plan.services())     # and the resolvers and control vantages
    assert f"{hosts} hosts (20 of them sites) on" in need.text() and "to bring up" in need.text()


def test_above_the_machines_memory_it_is_refused_with_the_estimate_and_the_population_model(
        scenario_dict):
    plan = _plan(scenario_dict, phones=2000, sites=50, cells=50)
    small = capacity.Machine(cpus=2, memory_available_mib=1500, open_files_limit=20_000,
                             terminals_free=20_000)
    with pytest.raises(HermitError) as caught:
        capacity.check(plan, small, source="big.yaml", field="radio.ues")
    error = caught.value
    assert (error.source, error.field) == ("big.yaml", "radio.ues")
    need = capacity.estimate(plan)
    assert f"{need.hosts} hosts (50 of them sites) on {need.switches} switches" in error.message
    assert f"about {need.memory_mib / 1024:.1f} GiB of memory" in error.message
    assert "1.5 GiB available" in error.message
    assert "radio population model" in error.message and "docs/radio.md" in error.message


@pytest.mark.parametrize("machine, what", [
    (capacity.Machine(2, 24_000, 1024, 20_000), "open files"),
    (capacity.Machine(2, 24_000, 20_000, 500), "pseudo-terminals"),
])
def test_open_files_and_terminals_are_limits_too(scenario_dict, machine, what):
    with pytest.raises(HermitError, match=what):
        capacity.check(_plan(scenario_dict, phones=1000, sites=10, cells=20), machine)


def test_the_machine_is_read_from_proc(tmp_path):
    machine = capacity.Machine.detect()
    assert machine.cpus >= 1 and machine.memory_available_mib > 0
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:    2097152 kB\n")
    assert capacity._mem_available_mib(meminfo) == 2048
    meminfo.write_text("MemTotal: 100 kB\n")
    with pytest.raises(HermitError, match="no MemAvailable"):
        capacity._mem_available_mib(meminfo)
    (tmp_path / "max").write_text("4096\n")
    (tmp_path / "nr").write_text("96\n")
    assert capacity._terminals_free(tmp_path) == 4000
    assert capacity._terminals_free(tmp_path / "missing") is None


def test_a_run_above_capacity_is_refused_before_anything_is_built(scenario_dict, state_dir,
                                                                   tmp_path, monkeypatch):
    from hermitnet import runner
    from hermitnet.emulation.capabilities import Capabilities

    caps = Capabilities(
        root=True, ovs_running=True, ovs="Open vSwitch 3.1.0", kernel_datapath=False,
        netem=True, htb=True, nft=True, mininet="2.3.0", controller="ryu 4.34",
        iperf3="iperf3 3.12", scapy="2.5.0", kernel="6.1.0-18-amd64")
    tiny = capacity.Machine(cpus=2, memory_available_mib=100, open_files_limit=20_000,
                            terminals_free=20_000)
    monkeypatch.setattr(capacity.Machine, "detect", classmethod(lambda cls: tiny))
    data = scenario_dict()
    loaded = scenario.from_dict(data, source="small.yaml")
    out = tmp_path / "run"
    said = []
    with (pytest.raises(HermitError, match="cannot emulate") as caught,
          runner.session(loaded, out, progress=said.append, caps=caps)):
        pytest.fail("the session must not start")
    assert caught.value.field == "subscribers"
    assert not out.exists() and not said    # no results folder, no controller, no network
