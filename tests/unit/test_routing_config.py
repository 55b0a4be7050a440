"""The routes file: the shipped example loads; every error names file, route, problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cti.routing.config import RoutesConfigError, load_routes
from cti.routing.model import CallAttributes, Fairness

EXAMPLE = Path(__file__).resolve().parents[2] / "cti" / "routing" / "routes.example.yaml"

BASE = """\
version: 1
routes:
  - name: billing
    match: {product: billing}
    steps:
      - requires: "lang.{language} >= 3 & billing >= 3"
      - after_s: 30
        requires: "lang.{language} >= 2"
    overflow: {after_s: 120, to: general}
  - name: general
    steps:
      - requires: "lang.{language}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_loads_with_its_settings() -> None:
    plan = load_routes(EXAMPLE)
    assert [r.name for r in plan.routes] == ["security", "billing", "technical", "general"]
    assert plan.fairness is Fairness.LONGEST_IDLE
    assert plan.priority.urgency[1] == 10_000
    security = plan.route("security")
    assert security.service_level.target == 0.9
    assert security.service_level.within_s == 20
    assert plan.route("technical").overflow is not None
    assert plan.route_for(CallAttributes("zh", "security")).name == "security"
    assert plan.route_for(CallAttributes("en", "account")).name == "security"  # the IVR's queue
    assert plan.route_for(CallAttributes("en", "sales")).name == "general"
    # service-level-aware, and urgency 1 still outranks a call that missed its threshold
    assert 0 < plan.priority.missed_service_level < plan.priority.urgency[1]


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    plan = load_routes(write(tmp_path, BASE))
    assert plan.priority.missed_service_level == 0  # plain age order unless asked for
    billing = plan.route("billing")
    assert billing.ring_timeout_s == 15
    assert billing.service_level.target == 0.8
    assert [s.after_s for s in billing.steps] == [0, 30]


def mutate(edit: str, old: str, new: str) -> str:
    assert old in edit
    return edit.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "route", "problem"),
    [
        ('billing >= 3"', 'billing >= "', "billing", "steps[0].requires: expected a level"),
        ("after_s: 30", "after_s: 0", "billing", "steps[1].after_s: must be greater than 0"),
        ("to: general", "to: nowhere", "billing", "overflow.to: no route named 'nowhere'"),
        ("after_s: 120", "after_s: 20", "billing", "overflow.after_s: 20 s must be after"),
        ("product: billing", "produkt: billing", "billing", "match: unknown attribute 'produkt'"),
        ("product: billing", "product: no", "billing", "quote it"),
        ("    overflow:", "    ring_timeout_s: -1\n    overflow:", "billing", "ring_timeout_s"),
        ("  - name: general", "  - name: billing", "billing", "defined twice"),
        (
            '    steps:\n      - requires: "lang.{language}"\n',
            "    stepz: []\n",
            "general",
            "unknown key 'stepz'",
        ),
        ("{language} >= 2", "{lang} >= 2", "billing", "unknown attribute {lang}"),
    ],
)
def test_errors_name_file_route_and_problem(
    tmp_path: Path, old: str, new: str, route: str, problem: str
) -> None:
    path = write(tmp_path, mutate(BASE, old, new))
    with pytest.raises(RoutesConfigError) as info:
        load_routes(path)
    message = str(info.value)
    assert message.startswith(f"{path}: route {route!r}: ")
    assert problem in message
    assert info.value.route == route


def test_overflow_loop_is_reported_with_its_chain(tmp_path: Path) -> None:
    text = BASE + "    overflow: {after_s: 60, to: billing}\n"
    with pytest.raises(RoutesConfigError, match="overflow loop billing -> general -> billing"):
        load_routes(write(tmp_path, text))


def test_unreachable_route_after_a_catch_all(tmp_path: Path) -> None:
    text = BASE + "  - name: late\n    match: {language: zh}\n    steps: [{requires: a}]\n"
    with pytest.raises(RoutesConfigError, match="unreachable: route 'general' before it"):
        load_routes(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version: 2\nroutes: []\n", "version: expected 1"),
        ("version: 1\nroutes: []\n", "routes: expected a non-empty list"),
        ("version: 1\nfairness: random\nroutes: []\n", "fairness: 'random' is not one of"),
        ("version: 1\nversion: 1\n", "duplicate key 'version'"),
        ("version: 1\nroutes: [\n", "not valid YAML (line"),
        (BASE.replace("version: 1", "version: 1\npriority: {urgency: {4: 1}}"), "not an urgency"),
        (
            BASE.replace("version: 1", "version: 1\npriority: {missed_service_level: -60}"),
            "priority.missed_service_level: must not be negative",
        ),
        (
            BASE.replace("version: 1", "version: 1\npriority: {missed_service_level: yes}"),
            "priority.missed_service_level: expected a number, got True",
        ),
        (
            BASE.replace("version: 1", "version: 1\npriority: {missed_servicelevel: 60}"),
            "priority: unknown key 'missed_servicelevel'",
        ),
        (
            BASE.replace("version: 1", "version: 1\ndefaults: {service_level: {target: 80}}"),
            "is not a share in (0, 1]",
        ),
    ],
)
def test_file_level_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RoutesConfigError) as info:
        load_routes(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)


def test_missed_service_level_is_read(tmp_path: Path) -> None:
    text = BASE.replace("version: 1", "version: 1\npriority: {missed_service_level: 300}")
    assert load_routes(write(tmp_path, text)).priority.missed_service_level == 300


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RoutesConfigError, match="missing.yaml: cannot read"):
        load_routes(tmp_path / "missing.yaml")


def test_base_text_is_valid_yaml_mapping() -> None:
    assert isinstance(yaml.safe_load(BASE), dict)
