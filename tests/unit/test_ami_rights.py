"""The CTI's AMI account holds the least rights for the actions the CTI sends."""

from __future__ import annotations

import re
from pathlib import Path

from cti.ami import rights

ROOT = Path(__file__).resolve().parents[2]
SENT = re.compile(r"""["']Action["']\s*:\s*["']([A-Za-z]+)["']""")


def _cti_rights() -> dict[str, str]:
    section: str | None = None
    found: dict[str, str] = {}
    for raw in (ROOT / "asterisk-conf" / "manager.conf").read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line[1 : line.index("]")]
        elif section == "hotline-cti-rights" and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            found[key] = value
    return found


def test_every_action_the_cti_sends_is_listed_with_its_right() -> None:
    sent = {
        name
        for folder in ("cti", "ivr")
        for path in (ROOT / folder).rglob("*.py")
        for name in SENT.findall(path.read_text(encoding="utf-8"))
    }
    assert sent, "the scan found no AMI action at all"
    assert sent <= set(rights.ACTIONS), (
        f"not listed in rights.ACTIONS: {sent - set(rights.ACTIONS)}"
    )


def test_manager_conf_grants_exactly_the_least_write_classes() -> None:
    granted = {c.strip() for c in _cti_rights()["write"].split(",")}
    assert granted == set(rights.WRITE)
    assert not granted & rights.FORBIDDEN_WRITE


def test_least_write_ignores_actions_that_need_no_class() -> None:
    assert rights.least_write({"Ping": None, "Originate": "originate"}) == {"originate"}


def test_modules_that_run_host_commands_are_never_loaded() -> None:
    modules = (ROOT / "asterisk-conf" / "modules.conf").read_text()
    for module in ("app_system.so", "func_shell.so"):
        assert f"noload = {module}" in modules
        assert f"load = {module}\n" not in modules.replace(f"noload = {module}", "")
