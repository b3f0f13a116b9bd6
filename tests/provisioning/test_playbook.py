"""The one install path: playbooks/site.yml is lint-clean and idempotent on this machine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def run_playbook(repo: Path, env: dict[str, str]) -> tuple[dict[str, int], str]:
    """Apply site.yml to localhost as `make setup` does; return the recap counts and output."""
    proc = subprocess.run(
        [
            # Take turns with `make setup` (same lock as the Makefile's).
            "flock",
            str(repo / "Makefile"),
            str(repo / ".ansible-venv" / "bin" / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "playbooks/site.yml",
        ],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    output = proc.stdout + proc.stderr
    match = RECAP.search(proc.stdout)
    assert match, f"no PLAY RECAP (exit {proc.returncode}):\n{output[-6000:]}"
    counts = {k: int(v) for k, v in match.groupdict().items() if k != "host"}
    return counts, output


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks that reported a change, to say what broke idempotence."""
    found, task = [], None
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith("changed:") and task:
            found.append(task)
    return found


def test_ansible_lint_passes(repo: Path, ansible_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [str(repo / ".ansible-venv" / "bin" / "ansible-lint"), "playbooks/"],
        cwd=repo,
        env=ansible_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"ansible-lint failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(3000)
@pytest.mark.usefixtures("as_root")
def test_playbook_is_idempotent(repo: Path, ansible_env: dict[str, str]) -> None:
    first, output = run_playbook(repo, ansible_env)
    assert first["failed"] == 0 and first["unreachable"] == 0, output[-6000:]

    second, output = run_playbook(repo, ansible_env)
    assert second["failed"] == 0 and second["unreachable"] == 0, output[-6000:]
    assert second["changed"] == 0, (
        f"second run changed {second['changed']} task(s): {changed_tasks(output)}\n{output[-6000:]}"
    )
