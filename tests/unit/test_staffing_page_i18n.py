"""The staffing page has every UI string in English and Simplified Chinese."""

from __future__ import annotations

import re
from pathlib import Path

from cti.supervision.spy import SpyMode

STATIC = Path(__file__).resolve().parents[2] / "cti" / "web" / "static"
JS = (STATIC / "staffing.js").read_text(encoding="utf-8")
HTML = (STATIC / "staffing.html").read_text(encoding="utf-8")


def catalogue(lang: str) -> dict[str, str]:
    match = re.search(rf"^  {lang}: \{{\n(.*?)^  \}},", JS, re.S | re.M)
    assert match, f"no {lang} catalogue in staffing.js"
    return dict(re.findall(r'"([a-z_.\-]+)": "((?:[^"\\]|\\.)*)"', match.group(1)))


EN, ZH = catalogue("en"), catalogue("zh")


def test_both_languages_have_the_same_keys_and_chinese_is_translated() -> None:
    assert len(EN) > 40
    assert set(EN) == set(ZH)
    assert [k for k in EN if EN[k] == ZH[k]] == []
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in ZH.values())


def test_every_key_the_page_uses_exists() -> None:
    used = set(re.findall(r'data-i18n="([^"]+)"', HTML))
    used |= set(re.findall(r'\bt\("([a-z_.\-]+)"', JS))
    assert used - set(EN) == set()
    computed = {f"mode.{m.value}" for m in SpyMode}
    computed |= {f"plan.{w}" for w in ("equal", "recent")}
    computed |= {
        f"err.{code}"
        for code in (
            "bad_credentials",
            "forbidden",
            "no_phone",
            "agent_not_talking",
            "no_agent_channel",
            "pbx_error",
        )
    }
    computed |= {f"col.{c}" for c in ("interval", "calls", "aht", "erlangs", "agents_c", "sl_c")}
    assert computed - set(EN) == set()
