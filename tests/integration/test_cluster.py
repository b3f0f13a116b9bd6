"""A run over two machines on Mininet's Cluster Edition: this one and a second one made on it.

The second machine (tests/integration/second_machine.py) is a network and mount namespace with
its own sshd and Open vSwitch, reached over a veth pair in 100.64.250.0/30. The baseline split
over the two (the phones of pyongyang-2 on the second) must give the same reachability matrix
and zero leakage as the same scenario on one machine, carry its traffic through the tunnel, and
leave nothing on either machine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hermitnet import runner, scenario
from hermitnet.cluster import nodes
from hermitnet.cluster.placement import parse_cluster
from tests.integration.conftest import REPO, leftovers, netns_inode
from tests.integration.second_machine import REMOTE_IP, SecondMachine

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def _missing_tools() -> list[str]:
    return [tool for tool in ("sshd", "ssh", "sudo", "ovsdb-server", "ovs-vswitchd", "unshare")
            if shutil.which(tool) is None and not (tool == "sshd" and
                                                   shutil.which("/usr/sbin/sshd"))]


@pytest.fixture(scope="module")
def second_machine(tmp_path_factory):
    missing = _missing_tools()
    if missing:
        pytest.skip(f"the second machine needs {', '.join(missing)} (make test installs them)")
    with SecondMachine(tmp_path_factory.mktemp("second-machine")) as machine:
        yield machine
    assert machine.leftovers() == []


def _matrix(results) -> dict:
    return {(row["host"], row["site"]): (row["ok"], row["blocking"])
            for row in results["reachability"]}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The baseline on this machine alone."""
    loaded = scenario.load(REPO / "scenarios" / "baseline.yaml")
    _, results = runner.run(loaded, tmp_path_factory.mktemp("single"), progress=lambda m: None)
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory, second_machine, single):
    """The baseline on this machine alone, then split over the two."""
    loaded = scenario.load(REPO / "scenarios" / "baseline.yaml")
    cluster_file = tmp_path_factory.mktemp("cluster") / "cluster.yaml"
    cluster_file.write_text(yaml.safe_dump({"machines": ["first", REMOTE_IP],
                                            "ssh_options": second_machine.ssh_options()}))
    spec = parse_cluster(str(cluster_file))
    tunnels: list[dict] = []

    def after(live):
        tunnels.append(live.emu.tunnel_counters())

    _, split = runner.run(loaded, tmp_path_factory.mktemp("split"), progress=lambda m: None,
                          cluster=spec, after=after)
    return single, split, tunnels[0]


def test_the_second_machine_is_its_own(second_machine):
    inside = second_machine.ssh(["sh", "-c", "ip -br addr; ls /run/openvswitch"]).stdout
    assert f"{REMOTE_IP}/30" in inside
    assert "eth0" not in inside            # none of this machine's real interfaces
    assert "db.sock" in inside


def test_tunnel_kind_follows_the_kernel(second_machine):
    def missing(kind):
        return [] if _makes(kind) else ["this machine"]

    expected = "gretap" if _makes("gretap") else "vxlan"
    assert nodes.tunnel_kind(missing) == expected


def _makes(kind: str) -> bool:
    return subprocess.run(nodes.probe_argv(kind, "hnctprobe"), capture_output=True).returncode == 0


def test_split_run_is_ok_and_says_where_everything_ran(runs):
    _, split, _ = runs
    assert split["status"] == "ok", split["error"]
    cluster = split["environment"]["cluster"]
    assert cluster["tunnel"] in ("gretap", "vxlan")
    assert cluster["placement"]["citizen-2"] == REMOTE_IP
    assert cluster["placement"]["nb-pyongyang-2"] == REMOTE_IP
    assert cluster["placement"]["core"] == "first"
    assert [m["name"] for m in cluster["machines"]] == ["first", REMOTE_IP]
    for machine in cluster["machines"]:
        assert machine["datapath"] in ("kernel", "userspace")
        assert cluster["tunnel"] in machine["tunnels"]
        assert machine["ovs"].startswith("ovs-vsctl (Open vSwitch)")


def test_same_reachability_matrix_as_on_one_machine(runs):
    single, split, _ = runs
    assert single["status"] == "ok", single["error"]
    assert _matrix(split) == _matrix(single)
    remote_rows = [r for r in split["reachability"] if r["host"] in ("citizen-2", "visitor-1")]
    assert any(r["ok"] for r in remote_rows) and not all(r["ok"] for r in remote_rows)


def test_zero_leakage_as_on_one_machine(runs):
    single, split, _ = runs
    assert split["leakage"]["by_tier"] == single["leakage"]["by_tier"]
    assert all(v == 0 for v in split["leakage"]["by_tier"].values())
    assert split["leakage"]["probes_escaped"] == 0
    arrived = split["leakage"]["arrived"]
    assert arrived["video"]["citizen-2"]["bytes"] == 0
    assert arrived["news"]["citizen-2"]["bytes"] > 0      # the remote phone's traffic arrives


def test_the_tunnel_carries_the_remote_cell_s_traffic(runs):
    _, _, tunnels = runs
    assert len(tunnels) == 2                 # one end on each machine
    for end, counters in tunnels.items():
        assert counters["tx_packets"] > 100, (end, counters)
        assert counters["rx_packets"] > 100, (end, counters)


def test_nothing_is_left_on_either_machine(runs, second_machine):
    _, split, _ = runs
    assert leftovers(split["run_id"]) == []
    inside = second_machine.ssh(["sh", "-c", "ovs-vsctl --timeout=5 list-br; ip -o link"]).stdout
    assert split["run_id"] not in inside
    names = [line.split(":")[1].strip() for line in inside.splitlines() if ": " in line]
    assert sorted(n.split("@")[0] for n in names) == sorted(["lo", f"{second_machine.name}b"])
    daemons = second_machine.daemons()
    assert len(daemons) == 3                 # sshd, ovsdb-server, ovs-vswitchd
    others = [_cmdline(pid) for pid in second_machine.processes() if pid not in daemons]
    assert [c for c in others if c] == []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _host_namespaces(run_id: str, second_machine) -> dict[str, set[str]]:
    """The network namespaces of the run's host shells (`bash ... mininet:NODE`) now, by
    machine, as seen through /proc: found here, not from the run's manifest."""
    import os

    roots = {netns_inode(os.getpid()), netns_inode(second_machine.holder.pid)}
    found: dict[str, set[str]] = {"first": set(), "second": set()}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and f"mininet:{run_id}" in _cmdline(int(entry)):
            inode = netns_inode(int(entry))
            if inode not in roots and inode is not None:
                there = second_machine.holder.pid in _ancestors(int(entry))   # under its sshd
                found["second" if there else "first"].add(inode)
    return found


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
        chain.append(pid)
    return chain


def test_a_killed_cluster_run_is_cleaned_on_every_machine(tmp_path, second_machine):
    """SIGKILL leaves objects on both machines; `hermitnet clean` here removes all of them."""
    import os
    import signal
    import sys
    import time

    cluster_file = tmp_path / "cluster.yaml"
    cluster_file.write_text(yaml.safe_dump({"machines": ["first", REMOTE_IP],
                                            "ssh_options": second_machine.ssh_options()}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "hermitnet.cli", "run", "baseline", "--cluster",
         str(cluster_file), "--out", str(out)], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)
    seen = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "network up (t = 0)" in line:
                spaces = _host_namespaces(json.loads((out / "results.json").read_text())["run_id"],
                                          second_machine)
                process.kill()
                break
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    run_id = json.loads((out / "results.json").read_text())["run_id"]
    assert len(spaces["first"]) > 10 and spaces["second"], spaces   # hosts on both machines
    remote_bridges = second_machine.ssh(["ovs-vsctl", "--timeout=5", "list-br"]).stdout.split()
    assert any(b.startswith(run_id) for b in remote_bridges), "the kill left nothing there?"
    done = subprocess.run([sys.executable, "-m", "hermitnet.cli", "clean"], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    assert f"on {REMOTE_IP}" in done.stdout
    # Both machines share this kernel, so this machine's /proc sees the second one's processes
    # too: nothing in any host namespace of the run on either machine, and nothing naming the
    # run's results folder (site servers, iperf3 servers, curl, the controller).
    assert leftovers(run_id, out, spaces["first"] | spaces["second"]) == []
    inside = second_machine.ssh(["sh", "-c", "ovs-vsctl --timeout=5 list-br; ip -o link"]).stdout
    assert run_id not in inside
    daemons = second_machine.daemons()
    time.sleep(1)        # the node shells there end once their ssh sessions are gone
    others = [_cmdline(pid) for pid in second_machine.processes() if pid not in daemons]
    assert [c for c in others if c] == []


def _link_names(second_machine) -> set[str]:
    inside = second_machine.ssh(["ip", "-o", "link"]).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in inside.splitlines()
            if ": " in line}


def _taps() -> set[str]:
    return {path.name for path in Path("/sys/class/net").iterdir()
            if re.fullmatch(r"tap\d+", path.name)}


@pytest.fixture(scope="module")
def ssh_run(tmp_path_factory, second_machine):
    """The baseline split over the two with the SSH-tunnel fallback asked for."""
    taps_before = _taps()
    inside_before = _link_names(second_machine)
    cluster_file = tmp_path_factory.mktemp("cluster-ssh") / "cluster.yaml"
    cluster_file.write_text(yaml.safe_dump({"machines": ["first", REMOTE_IP], "tunnel": "ssh",
                                            "ssh_options": second_machine.ssh_options()}))
    said: list[str] = []
    tunnels: list[dict] = []
    out = tmp_path_factory.mktemp("split-ssh")
    _, results = runner.run(scenario.load(REPO / "scenarios" / "baseline.yaml"), out,
                            progress=said.append, cluster=parse_cluster(str(cluster_file)),
                            after=lambda live: tunnels.append(live.emu.tunnel_counters()))
    return {"results": results, "said": said, "tunnels": tunnels[0], "out": out,
            "taps_before": taps_before, "inside_before": inside_before}


def test_the_ssh_tunnel_is_used_when_asked_for_and_said(ssh_run):
    results = ssh_run["results"]
    assert results["status"] == "ok", results["error"]
    cluster = results["environment"]["cluster"]
    assert cluster["tunnel"] == "ssh"
    assert cluster["tunnel_choice"] == "asked for by the cluster file"
    assert all("ssh" in machine["tunnels"] for machine in cluster["machines"])
    assert "links between machines: ssh tunnels (asked for by the cluster file)" in ssh_run["said"]


def test_the_ssh_tunnel_gives_the_same_reachability_and_zero_leakage(ssh_run, single):
    results = ssh_run["results"]
    assert results["status"] == "ok", results["error"]
    assert _matrix(results) == _matrix(single)
    assert results["leakage"]["by_tier"] == single["leakage"]["by_tier"]
    assert all(v == 0 for v in results["leakage"]["by_tier"].values())
    assert results["leakage"]["probes_escaped"] == 0
    assert results["leakage"]["arrived"]["news"]["citizen-2"]["bytes"] > 0
    assert len(ssh_run["tunnels"]) == 2
    for end, counters in ssh_run["tunnels"].items():    # the tap ends of the ssh tunnel
        assert counters["tx_packets"] > 100 and counters["rx_packets"] > 100, (end, counters)


def test_the_ssh_tunnel_leaves_nothing_on_either_machine(ssh_run, second_machine):
    results = ssh_run["results"]
    assert leftovers(results["run_id"], ssh_run["out"]) == []
    assert _taps() == ssh_run["taps_before"]
    assert _link_names(second_machine) == ssh_run["inside_before"]
    tunnels = [line for line in subprocess.run(["ps", "-eo", "pid,args"], capture_output=True,
                                               text=True).stdout.splitlines()
               if "Tunnel=ethernet" in line and REMOTE_IP in line]
    assert tunnels == []
    daemons = second_machine.daemons()
    others = [_cmdline(pid) for pid in second_machine.processes() if pid not in daemons]
    assert [c for c in others if c] == []
