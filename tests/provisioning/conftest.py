"""Shared fixtures for the provisioning tests (the playbook and the lab VM)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_VENV = REPO / ".ansible-venv"


@pytest.fixture(scope="session")
def repo() -> Path:
    """The checkout (the folder that holds playbooks/ and the Makefile)."""
    return REPO


@pytest.fixture(scope="session")
def ansible_env() -> dict[str, str]:
    """Environment for Ansible tools from .ansible-venv/ (made by `make setup`)."""
    if not (ANSIBLE_VENV / "bin" / "ansible-playbook").exists():
        pytest.skip(f"{ANSIBLE_VENV} has no ansible-playbook: run `sudo make setup` first")
    env = dict(os.environ)
    env.update(
        PATH=f"{ANSIBLE_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        LC_ALL="C.UTF-8",
        LANG="C.UTF-8",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOWS="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        NO_COLOR="1",
    )
    return env


@pytest.fixture
def as_root() -> None:
    """Skip, saying why, when the test needs root and does not have it."""
    if os.geteuid() != 0:
        pytest.skip("needs root: it installs packages and starts Open vSwitch (sudo make test)")
