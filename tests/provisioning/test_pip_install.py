"""hermitnet is a package, not a checkout: a plain `pip install` works from anywhere.

The checkout is installed (not editable) into a fresh venv outside it, and the installed
`hermitnet` runs from another folder with no PYTHONPATH: the schemas, the shipped scenarios and
the controller app must come from the installed package, never from the checkout. The
dependencies come from PyPI, as for any user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(1200)

# Like the playbook: a venv of the system Python (the distribution's Mininet stays importable).
SYSTEM_PYTHON = Path("/usr/bin/python3")
# Build artefacts and tools of the checkout, not part of the source tree pip builds from.
NOT_SOURCE = (".git", ".venv", ".ansible-venv", ".vagrant", "results", "build", "*.egg-info",
              "__pycache__", ".pytest_cache", ".ruff_cache", ".cache")


def _env(tmp_path: Path, repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST")}
    constraints = str(repo / "constraints" / "build.txt")   # Ryu 4.34 builds with setuptools<68
    env.update(PIP_CONSTRAINT=constraints, PIP_BUILD_CONSTRAINT=constraints,
               PIP_DISABLE_PIP_VERSION_CHECK="1", HOME=os.environ.get("HOME", str(tmp_path)))
    return env


@pytest.fixture(scope="module")
def installed(repo, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(bin folder of a fresh venv with hermitnet pip-installed from the checkout, environment)."""
    tmp = tmp_path_factory.mktemp("pip-install")
    python = SYSTEM_PYTHON if SYSTEM_PYTHON.exists() else Path(sys.executable)
    # pip builds in the source tree (build/, *.egg-info); a copy keeps the checkout clean and
    # proves nothing depends on where the checkout is. Links (hermitnet/scenarios) stay links.
    source = tmp / "source"
    shutil.copytree(repo, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    target = tmp / "venv"
    subprocess.run([str(python), "-m", "venv", "--system-site-packages", str(target)],
                   check=True, timeout=300)
    env = _env(tmp, repo)
    done = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           str(source)], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=1100)
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.rmtree(source)   # the installed package must not need its source
    return target / "bin", env


def _hermitnet(installed, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir, env = installed
    return subprocess.run([str(bin_dir / "hermitnet"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_package_is_imported_from_the_venv(installed, repo, tmp_path):
    bin_dir, env = installed
    done = subprocess.run(
        [str(bin_dir / "python"), "-c",
         "import hermitnet, hermitnet.shipped as s; print(hermitnet.__file__); "
         "print(s.controller_app())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    package, app = done.stdout.split()
    site = bin_dir.parent
    assert Path(package).is_relative_to(site) and Path(app).is_relative_to(site)
    assert not Path(package).is_relative_to(repo)


def test_validate_a_file_outside_the_checkout(installed, repo, tmp_path):
    mine = tmp_path / "mine.yaml"
    shutil.copy(repo / "scenarios" / "baseline.yaml", mine)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _hermitnet(installed, elsewhere, "validate", str(mine), "border")
    assert done.returncode == 0, done.stderr
    assert f"{mine}: ok" in done.stdout and "border: ok" in done.stdout


def test_validate_still_says_what_is_wrong(installed, tmp_path):
    (tmp_path / "broken.yaml").write_text("schema: 1\nname: broken\n")
    done = _hermitnet(installed, tmp_path, "validate", "broken.yaml")
    assert done.returncode != 0
    assert "broken.yaml" in done.stderr and "Traceback" not in done.stderr


def test_scenarios_lists_the_shipped_ones_from_the_package(installed, repo, tmp_path):
    done = _hermitnet(installed, tmp_path, "scenarios")
    assert done.returncode == 0, done.stdout + done.stderr
    header, *rows, footer = done.stdout.splitlines()
    assert header.split()[0] == "scenario", done.stdout
    assert sorted(row.split()[0] for row in rows) == sorted(
        p.stem for p in (repo / "scenarios").glob("*.yaml"))
    folder = Path(footer.removeprefix("(shipped with hermitnet, in ").removesuffix(")"))
    assert folder.is_relative_to(installed[0].parent), footer
    assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(
        p.name for p in (repo / "scenarios").glob("*.yaml"))


def test_map_of_a_scenario_outside_the_checkout(installed, repo, tmp_path):
    border = tmp_path / "border.yaml"
    shutil.copy(repo / "scenarios" / "border.yaml", border)
    out = tmp_path / "maps" / "border.png"
    out.parent.mkdir()
    done = _hermitnet(installed, tmp_path, "map", str(border), "--phones", "20000",
                      "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
