"""Cleanup of what a cluster run made on other machines: the script each machine runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from hermitnet.cluster import nodes
from hermitnet.cluster.emulation import ClusterRun
from hermitnet.cluster.placement import ClusterSpec, Placement
from hermitnet.emulation import manifest as manifest_module
from hermitnet.errors import HermitError


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _gone(process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + 5
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.poll() is not None


def test_the_script_kills_a_recorded_process_with_its_start_time():
    process = _sleeper()
    entry = {"processes": [{"pid": process.pid,
                            "start": manifest_module.process_start_time(process.pid),
                            "what": "node shell"}], "bridges": [], "interfaces": []}
    done = subprocess.run(["sh", "-s"], input=manifest_module.remote_cleanup_script(entry),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert _gone(process)
    assert f"process {process.pid}" in done.stdout


def test_the_script_spares_a_process_whose_start_time_differs():
    process = _sleeper()
    try:
        start = manifest_module.process_start_time(process.pid)
        entry = {"processes": [{"pid": process.pid, "start": start + 1, "what": "recycled"}]}
        done = subprocess.run(["sh", "-s"], input=manifest_module.remote_cleanup_script(entry),
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0
        assert process.poll() is None
        assert done.stdout == ""
    finally:
        process.kill()
        process.wait()


def test_strays_only_leaves_the_recorded_process():
    process = _sleeper()
    try:
        entry = {"processes": [{"pid": process.pid,
                                "start": manifest_module.process_start_time(process.pid),
                                "what": "node shell"}]}
        script = manifest_module.remote_cleanup_script(entry, strays_only=True)
        done = subprocess.run(["sh", "-s"], input=script, capture_output=True, text=True,
                              timeout=30)
        assert done.returncode == 0
        assert process.poll() is None      # in the root namespace: no strays searched there
    finally:
        process.kill()
        process.wait()


def test_cleanup_runs_the_script_on_every_recorded_machine(state_dir):
    process = _sleeper()
    manifest = manifest_module.Manifest.create("hnzz", "/nonexistent")
    # an empty ssh command runs the script here: the same code path as over SSH
    manifest.add_machine_objects("lab2", [], processes=[
        {"pid": process.pid, "start": manifest_module.process_start_time(process.pid),
         "what": "node shell"}], bridges=["hnzzs9"], interfaces=["hnzzs9-eth1"])
    reloaded = manifest_module.Manifest.load(manifest.path)
    assert reloaded.machines["lab2"]["bridges"] == ["hnzzs9"]
    removed = manifest_module.cleanup(reloaded)
    assert _gone(process)
    assert f"process {process.pid} on lab2" in removed
    assert not manifest.path.exists()


def test_the_script_only_names_what_it_was_given():
    script = manifest_module.remote_cleanup_script(
        {"processes": [], "bridges": ["hnabs1"], "interfaces": ["hnabs1-eth2"]})
    assert "del-br hnabs1" in script
    assert "ip link del hnabs1-eth2" in script
    assert "mn -c" not in script


def test_commands_for_another_machine_go_over_ssh_quoted():
    run = ClusterRun(ClusterSpec(("a", "b"), ssh_options=("-o", "IdentityFile=/k")),
                     Placement(("a", "b"), {}), {"b": "100.64.250.2"}, "100.64.250.1", "vxlan")
    assert run.on("a", ["ip", "link"]) == ["ip", "link"]
    argv = run.on("b", ["sh", "-c", "echo one two"])
    assert argv[:2] == ["ssh", "-q"]
    assert "IdentityFile=/k" in argv
    assert argv[-2] == "root@100.64.250.2"
    assert argv[-1] == "sh -c 'echo one two'"


def test_tunnel_kind_prefers_gretap_then_vxlan_then_ssh():
    assert nodes.tunnel_kind(lambda kind: []) == "gretap"
    assert nodes.tunnel_kind(lambda kind: ["b"] if kind == "gretap" else []) == "vxlan"
    assert nodes.tunnel_kind(lambda kind: [] if kind == "ssh" else ["b"]) == "ssh"
    with pytest.raises(HermitError, match="gretap is missing on b; vxlan is missing on b; "
                                          "ssh is missing on b"):
        nodes.tunnel_kind(lambda kind: ["b"])


def test_a_tunnel_kind_asked_for_is_used_or_refused():
    asked = []

    def can_make(kind):
        asked.append(kind)
        return [] if kind in ("gretap", "ssh") else ["b"]

    assert nodes.tunnel_kind(can_make, "ssh") == "ssh"
    assert asked == ["ssh"]                      # the others are not even probed
    with pytest.raises(HermitError, match="asks for vxlan tunnels, which b cannot make"):
        nodes.tunnel_kind(can_make, "vxlan")


def test_the_ssh_probe_opens_an_ethernet_tunnel_to_the_same_machine():
    argv = nodes.ssh_probe_argv(["ssh", "-q", "-o", "IdentityFile=/k", "root@100.64.250.2"])
    assert argv[-2:] == ["root@100.64.250.2", "echo @"]
    assert "Tunnel=ethernet" in argv and "ExitOnForwardFailure=yes" in argv
    assert argv[argv.index("-w") + 1] == "any:any"
    assert "IdentityFile=/k" in argv


def _in_own_namespace(interface: str) -> subprocess.Popen:
    """A sleeper in a network namespace of its own (a user namespace makes it without root),
    holding a veth interface named `interface`."""
    process = subprocess.Popen(["unshare", "-rn", "sh", "-c",
                                f"ip link add {interface} type veth peer name peer && "
                                "exec sleep 60"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        net = manifest_module._netns(process.pid)
        if process.poll() is not None:
            pytest.skip("unshare -rn cannot make a network namespace here")
        if (net != manifest_module._netns(os.getpid())
                and interface.rsplit("-eth", 1)[0] in manifest_module._host_interfaces(
                    process.pid)):
            return process
        time.sleep(0.05)
    process.kill()
    pytest.skip("the namespace did not come up")


def _namespace_of(process, node) -> dict:
    return {"inode": manifest_module._netns(process.pid), "node": node}


@pytest.mark.parametrize("where", ["here", "by the script"])
def test_processes_in_a_recorded_host_namespace_go_without_its_shell(state_dir, where):
    """A killed run's servers outlive their host's shell: found by the namespace alone."""
    server = _in_own_namespace("hnzzh7-eth0")
    other = _in_own_namespace("hnyyh7-eth0")      # as a freed inode reused by someone else
    try:
        manifest = manifest_module.Manifest.create("hnzz", "/nonexistent")
        recorded = [_namespace_of(server, "hnzzh7"), _namespace_of(other, "hnzzh9")]
        if where == "here":
            manifest.namespaces.extend(recorded)
            manifest.save()
        else:
            manifest.add_machine_objects("lab2", [], namespaces=recorded)
        removed = manifest_module.cleanup(manifest_module.Manifest.load(manifest.path))
        assert _gone(server)
        assert any(f"process {server.pid}" in line for line in removed), removed
        assert other.poll() is None       # its namespace does not hold hnzzh9's interface
    finally:
        for process in (server, other):
            process.kill()
            process.wait()
