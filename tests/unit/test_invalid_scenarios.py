"""Broken scenario files through the CLI: one message naming file and field, exit status 2, and
`hermitnet run` stops before anything exists (no manifest, no run lock, no results folder).

The corpus is tests/unit/invalid_scenarios/ (each file's first line says which field fails and
with what message; test_scenario.py checks that against scenario.load). Files that cannot live
in the corpus (missing, a directory, unreadable) are made here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.unit.test_scenario import INVALID, REPO_ROOT, _expectation


def _one_error(err: str, command: str, path) -> str:
    lines = err.strip().splitlines()
    assert lines and lines[0].startswith(f"hermitnet {command}: error: {path}: "), err
    assert err.count("error:") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_validate_gives_one_message_and_status_2(run_cli, path):
    field, message = _expectation(path)
    code, out, err = run_cli("validate", path)
    assert code == 2, (out, err)
    text = _one_error(err, "validate", path)
    if field:
        assert f"{path}: {field}: " in text
    assert message in text


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_run_refuses_before_building_anything(run_cli, tmp_path, path):
    field, message = _expectation(path)
    code, out, err = run_cli("run", path, "--out", tmp_path / "out")
    assert code == 2, (out, err)
    assert message in _one_error(err, "run", path)
    assert not (tmp_path / "out").exists()
    state = tmp_path / "state"
    assert not state.exists() or list(state.iterdir()) == []


def test_a_missing_file(run_cli, tmp_path):
    path = tmp_path / "nowhere.yaml"
    code, _, err = run_cli("validate", path)
    assert code == 2
    assert "cannot read scenario file: No such file or directory" in _one_error(
        err, "validate", path)


def test_a_directory(run_cli, tmp_path):
    code, _, err = run_cli("run", tmp_path)
    assert code == 2
    assert "cannot read scenario file: Is a directory" in _one_error(err, "run", tmp_path)


def test_an_unreadable_file(run_cli, tmp_path):
    """chmod 000. Root reads a file whatever its mode, so as root the CLI runs as nobody."""
    folder = Path(tempfile.mkdtemp(prefix="hermitnet-unreadable-"))
    try:
        folder.chmod(0o755)
        path = folder / "secret.yaml"
        path.write_text("schema: 1\n")
        path.chmod(0)
        if os.geteuid() != 0:
            code, _, err = run_cli("validate", path)
        else:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: cannot drop privileges, and root "
                            "reads a file whatever its mode")
            home = folder / "home"   # nobody's HOME (matplotlib's cache) for this call
            home.mkdir(mode=0o777)
            home.chmod(0o777)
            done = subprocess.run(
                [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
                 sys.executable, "-m", "hermitnet.cli", "validate", str(path)],
                capture_output=True, text=True, cwd=folder, timeout=120,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "HOME": str(home),
                     "MPLCONFIGDIR": str(home)})
            code, err = done.returncode, done.stderr
        assert code == 2, err
        assert "cannot read scenario file: Permission denied" in _one_error(
            err, "validate", path)
    finally:
        shutil.rmtree(folder)
