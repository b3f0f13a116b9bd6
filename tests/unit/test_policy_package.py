"""hermitnet.policy stays pure: no module of it imports Ryu (only controllers/ does)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hermitnet" / "policy"
MODULES = sorted(PACKAGE.glob("*.py"))


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_package_has_its_modules():
    assert {p.stem for p in MODULES} >= {"__init__", "state", "pipeline", "compile", "diff",
                                         "requests", "views"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_ryu_import(path):
    ryu = sorted(n for n in imported(path) if n == "ryu" or n.startswith("ryu."))
    assert ryu == [], f"{path.name} imports {ryu}"
    assert not any(n.startswith("controllers") for n in imported(path))


def test_the_check_sees_an_import_of_ryu(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import json\nfrom ryu.lib import hub\n")
    assert "ryu.lib" in imported(module)
