"""The demo call's keys come from the IVR flow: language, menu choice, the PIN when asked."""

from __future__ import annotations

import pytest

from cti.demo import DEMO_CUSTOMERS, DEMO_PIN
from cti.demo_call import KEY_GAP_S, PROMPT_DELAY_S, PlanError, caller_for, plan_keys
from ivr.flow import load_flow
from ivr.service import DEFAULT_FLOW

FLOW = load_flow(DEFAULT_FLOW)


def test_an_english_caller_picks_the_language_then_billing() -> None:
    keys = plan_keys(FLOW, language="en", choice="1")
    assert [(k.digit, k.what) for k in keys] == [
        ("1", "language: English"),
        ("1", "menu: 1 (billing)"),
    ]
    assert all(k.pause_after_s == PROMPT_DELAY_S for k in keys)


def test_the_account_choice_answers_the_pin_prompt_key_by_key() -> None:
    keys = plan_keys(FLOW, language="zh", choice="3")
    assert "".join(k.digit for k in keys) == "23" + DEMO_PIN
    assert [k.what for k in keys[2:]] == ["PIN"] * len(DEMO_PIN)
    # a moment into each prompt; the PIN's keys close together
    assert [k.pause_after_s for k in keys] == [PROMPT_DELAY_S] * 2 + [KEY_GAP_S] * 3 + [
        PROMPT_DELAY_S
    ]


@pytest.mark.parametrize(
    ("language", "choice", "message"),
    [("fr", "1", "no language 'fr' \\(only en, zh\\)"), ("en", "9", "no choice '9'")],
)
def test_options_the_flow_does_not_offer_are_refused(
    language: str, choice: str, message: str
) -> None:
    with pytest.raises(PlanError, match=message):
        plan_keys(FLOW, language=language, choice=choice)


def test_the_caller_is_a_demo_customer_of_the_language_unless_given() -> None:
    zh = next(c for c in DEMO_CUSTOMERS if c.language == "zh")
    assert caller_for("zh", None) == (zh.phone, f"{zh.name} ({zh.tier}, {zh.phone})")
    assert caller_for("en", "15550100002")[1].startswith("Bob Miller")
    assert "not a demo customer" in caller_for("en", "+4930123456")[1]
    for hostile in ("1555;rm", "PJSIP/agent1001", "", "12"):
        with pytest.raises(PlanError, match="not a phone number"):
            caller_for("en", hostile)
