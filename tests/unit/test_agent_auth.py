"""Agents without site credentials get an auth object no one can answer."""

from __future__ import annotations

from pathlib import Path

from cti.pbx.agent_auth import locked_auths

PJSIP = (Path(__file__).resolve().parents[2] / "asterisk-conf" / "pjsip.conf").read_text()


def _sections(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = out.setdefault(line.strip("[]"), {})
        elif "=" in line and not line.startswith(";"):
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return out


def test_every_agent_without_site_credentials_gets_a_random_locked_auth() -> None:
    site = (
        "[agent1002-auth]\ntype = auth\nauth_type = userpass\nusername = agent1002\npassword = x\n"
    )
    first, second = _sections(locked_auths(PJSIP, site)), _sections(locked_auths(PJSIP, site))
    wanted = {f"agent{n}-auth" for n in range(1001, 1011)} - {"agent1002-auth"}
    wanted |= {"supervisor9001-auth"}
    assert set(first) == wanted
    assert first["agent1001-auth"]["username"] == "agent1001"
    assert first["agent1001-auth"]["auth_type"] == "userpass"
    assert len(first["agent1001-auth"]["password"]) >= 40
    assert first["agent1001-auth"]["password"] != second["agent1001-auth"]["password"]
    assert len({s["password"] for s in first.values()}) == len(first)


def test_the_generated_file_is_included_before_the_site_file() -> None:
    generated = PJSIP.index('#include "pjsip_agent_auth_hotline.conf"')
    assert generated < PJSIP.index('#tryinclude "pjsip_site.conf"')
