"""Static checks of the Vagrantfile: Vagrant accepts it, and what it names exists.

`vagrant up` cannot run here (no box downloads, no VirtualBox); `vagrant validate
--ignore-provider` checks the Vagrantfile offline, provisioner option typos included. It does
not check that the playbook exists or that the play reaches the VM, so those are checked here.
The lab-VM proof under QEMU (test_lab_vm.py) runs the same playbook on a real VM.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VAGRANTFILE = REPO / "Vagrantfile"


def _vagrant() -> str:
    """The vagrant command; installs Debian's package when missing and we are root."""
    found = shutil.which("vagrant")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("vagrant is not installed and cannot be installed here (not root or no apt)")
    print("test_vagrant: installing Debian's vagrant package (a dev/test dependency)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "vagrant"]
    if subprocess.run(cmd, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(cmd, env=env, check=True)
    found = shutil.which("vagrant")
    assert found, "apt-get installed vagrant, but there is no vagrant command on PATH"
    return found


def _setting(name: str) -> str:
    """The string value of `ansible.NAME = "..."` in the Vagrantfile."""
    match = re.search(rf'^\s*ansible\.{name}\s*=\s*"([^"]+)"', VAGRANTFILE.read_text(), re.M)
    assert match, f"Vagrantfile: no `ansible.{name} = \"...\"` in the ansible_local provisioner"
    return match.group(1)


@pytest.mark.parametrize("sync_type", [None, "virtualbox"])
def test_vagrantfile_validates(tmp_path: Path, sync_type: str | None) -> None:
    vagrant = _vagrant()
    # A copy, so that validate's .vagrant/ folder lands in tmp_path, not in the checkout.
    shutil.copy(VAGRANTFILE, tmp_path / "Vagrantfile")
    env = dict(os.environ, VAGRANT_CWD=str(tmp_path), VAGRANT_HOME=str(tmp_path / "home"),
               VAGRANT_CHECKPOINT_DISABLE="1", VAGRANT_NO_COLOR="1")
    if sync_type:
        env["HERMITNET_SYNC_TYPE"] = sync_type
    result = subprocess.run(
        [vagrant, "validate", "--ignore-provider"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, f"vagrant validate failed:\n{result.stdout}\n{result.stderr}"
    assert "validated successfully" in result.stdout


def test_provisioner_uses_ansible_local_with_become() -> None:
    text = VAGRANTFILE.read_text()
    assert re.search(r'config\.vm\.provision\s+"ansible_local"', text)
    assert re.search(r"^\s*ansible\.become\s*=\s*true", text, re.M)
    assert _setting("provisioning_path") == "/vagrant"
    assert re.search(r'synced_folder\s+"\.",\s*"/vagrant"', text), "repo must sync to /vagrant"


def test_playbook_named_by_vagrantfile_exists() -> None:
    playbook = REPO / _setting("playbook")
    assert playbook.is_file(), f"the Vagrantfile names {playbook}, which does not exist"
    assert playbook == REPO / "playbooks" / "site.yml", "use the README's playbook, not another"


def test_play_reaches_the_vagrant_machine() -> None:
    """ansible_local runs with an inventory of its own (`default`) and --limit=default: a play
    for `localhost` would be skipped without an error, so every play must target `all`."""
    plays = yaml.safe_load((REPO / _setting("playbook")).read_text())
    assert isinstance(plays, list) and plays, "the playbook has no plays"
    for play in plays:
        if "import_playbook" in play:
            continue
        assert play.get("hosts") in ("all", "default"), (
            f"play {play.get('name')!r} targets hosts={play.get('hosts')!r}; with Vagrant's "
            "ansible_local it would silently do nothing: use `hosts: all`"
        )


def test_make_targets_the_vagrant_path_uses() -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in ("bootstrap", "setup", "demo"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no `{target}` target"
    assert "make -C /vagrant bootstrap" in VAGRANTFILE.read_text()
