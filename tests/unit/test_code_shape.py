"""The code keeps its shape: no module of the product over 700 lines, no class over 500.

A module that grows past that holds more than one concern: split it (see
docs/architecture.md for where each kind of change goes).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cti", "ivr", "recordings")
MAX_MODULE_LINES = 700
MAX_CLASS_LINES = 500


def product_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_700_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_class_is_longer_than_500_lines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES
    ]
    assert not long, f"{path.relative_to(ROOT)}: {', '.join(long)}"


def test_the_shape_checks_see_the_product() -> None:
    modules = product_modules()
    assert any(p.name == "hotline.py" for p in modules)
    assert len(modules) > 50
