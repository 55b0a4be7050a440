"""The agent page has every UI string in English and Simplified Chinese."""

from __future__ import annotations

import re
from pathlib import Path

from cti.config import Settings
from cti.demo import DEMO_CUSTOMERS
from cti.domain.call_control import RefusalCode
from cti.domain.model import AgentState, Disposition
from cti.service import QUEUES

STATIC = Path(__file__).resolve().parents[2] / "cti" / "web" / "static"
WEB = Path(__file__).resolve().parents[2] / "cti"
JS = (STATIC / "agent.js").read_text(encoding="utf-8")
HTML = (STATIC / "agent.html").read_text(encoding="utf-8")
# the same in both languages on purpose
SAME_IN_BOTH = {"pop.crm"}
# only placeholders and punctuation
NO_WORDS = {"call.agent_opt"}


def catalogue(lang: str) -> dict[str, str]:
    match = re.search(rf"^  {lang}: \{{\n(.*?)^  \}},", JS, re.S | re.M)
    assert match, f"no {lang} catalogue in agent.js"
    return dict(re.findall(r'"([a-z_.\-]+)": "((?:[^"\\]|\\.)*)"', match.group(1)))


EN, ZH = catalogue("en"), catalogue("zh")


def test_both_languages_have_the_same_keys() -> None:
    assert len(EN) > 100
    assert set(EN) - set(ZH) == set(), "missing in Chinese"
    assert set(ZH) - set(EN) == set(), "missing in English"


def test_chinese_strings_are_translated() -> None:
    untranslated = [k for k in EN if k not in SAME_IN_BOTH and EN[k] == ZH[k]]
    assert untranslated == []
    assert all(re.search(r"[\u4e00-\u9fff]", ZH[k]) for k in ZH if k not in SAME_IN_BOTH | NO_WORDS)


def test_every_key_the_page_uses_exists() -> None:
    used = set(re.findall(r'data-i18n(?:-aria)?="([^"]+)"', HTML))
    used |= set(re.findall(r'\bt\("([a-z_.\-]+)"', JS))
    assert used, "no keys found"
    used = {k for k in used if not k.endswith(".")}  # prefixes of computed keys
    assert used - set(EN) == set()


def test_every_code_the_server_sends_has_a_label() -> None:
    settings = Settings()
    wanted = {f"state.{s.value}" for s in AgentState}
    wanted |= {f"reason.{r}" for r in [*settings.pause_reasons, "login", "wrap-up"]}
    wanted |= {f"disp.{c}" for c in settings.disposition_codes}
    wanted |= {f"queue.{q}" for q in QUEUES}
    wanted |= {f"result.{d.value}" for d in Disposition}
    wanted |= {f"tier.{c.tier}" for c in DEMO_CUSTOMERS}
    wanted |= {f"crm.{s}" for s in ("off", "ok", "not_found", "error", "pending")}
    # error codes of the API routes and call actions the page calls
    source = (WEB / "web" / "app.py").read_text()
    codes = set(re.findall(r'error\(\s*\d+,\s*"([a-z_]+)"', source))
    codes |= {code.value for code in RefusalCode}
    codes -= {"bad_request", "bad_origin"}  # the page never sends those
    assert {"bad_credentials", "session_expired", "not_your_call"} <= codes
    wanted |= {f"err.{code}" for code in codes}
    assert wanted - set(EN) == set()
