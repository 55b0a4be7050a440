"""The wallboard and report pages have every UI string in English and Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cti.config import Settings
from cti.domain.model import AgentState
from cti.kpi.options import AlarmRule
from cti.service import QUEUES

STATIC = Path(__file__).resolve().parents[2] / "cti" / "web" / "static"


def catalogue(js: str, lang: str) -> dict[str, str]:
    match = re.search(rf"^  {lang}: \{{\n(.*?)^  \}},", js, re.S | re.M)
    assert match, f"no {lang} catalogue"
    return dict(re.findall(r'"([a-z_.\-]+)": "((?:[^"\\]|\\.)*)"', match.group(1)))


@pytest.mark.parametrize("page", ["wallboard", "reports"])
def test_both_languages_have_the_same_keys_and_chinese_is_translated(page: str) -> None:
    js = (STATIC / f"{page}.js").read_text(encoding="utf-8")
    html = (STATIC / f"{page}.html").read_text(encoding="utf-8")
    en, zh = catalogue(js, "en"), catalogue(js, "zh")
    assert len(en) > 15 and set(en) == set(zh)
    assert [k for k in en if en[k] == zh[k] and k != "q.csv"] == []
    used = set(re.findall(r'data-i18n="([^"]+)"', html)) | set(
        re.findall(r'\bt\("([a-z_.\-]+)"', js)
    )
    used = {k for k in used if not k.endswith(".")}  # prefixes of computed keys
    assert used - set(en) == set()


def test_every_state_reason_queue_and_alarm_kind_of_the_wallboard_has_a_label() -> None:
    js = (STATIC / "wallboard.js").read_text(encoding="utf-8")
    en = catalogue(js, "en")
    settings = Settings()
    wanted = {f"state.{s.value}" for s in AgentState}
    wanted |= {f"reason.{r}" for r in [*settings.pause_reasons, "login", "wrap-up", "rona"]}
    wanted |= {f"queue.{q}" for q in QUEUES}
    kinds = AlarmRule.model_fields["kind"].annotation.__args__  # type: ignore[union-attr]
    wanted |= {f"alarm.{k}" for k in kinds}
    assert wanted - set(en) == set()
