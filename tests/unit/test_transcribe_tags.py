"""Tag rules: the file is validated with errors naming file, rule and problem;
rules tag a call with the span that matched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recordings.transcribe.analytics import analyse
from recordings.transcribe.sentiment import EnScorer
from recordings.transcribe.tags import TagRulesError, apply_rules, load_rules, parse_rules
from recordings.transcribe.turns import Turn, build_turns
from recordings.transcribe.types import Word


def words(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [
        Word(w, round(start + i * step, 2), round(start + i * step + 0.3, 2))
        for i, w in enumerate(text.split())
    ]


def rules(*items: dict[str, Any], red_flags: list[str] | None = None) -> Any:
    return parse_rules({"version": 1, "rules": list(items), "red_flags": red_flags or []}, "t.yaml")


def tag(turns: list[Turn], rule_set: Any, language: str = "en", duration: float = 60.0) -> list:  # type: ignore[type-arg]
    figures = analyse(turns, duration, language, EnScorer() if language == "en" else None)
    return [(m.tag, m.start_s, m.end_s) for m in apply_rules(rule_set, turns, figures, language)]


def test_the_shipped_rules_file_is_valid() -> None:
    shipped = load_rules()
    assert {"cancel", "complaint", "supervisor_request", "long_silence"} <= {
        r.tag for r in shipped.rules
    }
    assert "supervisor_request" in shipped.red_flags


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"version": 2, "rules": []}, "t.yaml: version: expected 1, got 2"),
        ({"version": 1, "rules": [{"tag": "x"}]}, "t.yaml: rule 1 ('x'): needs exactly one of"),
        (
            {"version": 1, "rules": [{"tag": "x", "keywords": {"en": "cancel"}}]},
            "t.yaml: rule 1 ('x'): keywords.en: Input should be a valid list",
        ),
        (
            {"version": 1, "rules": [{"tag": "Bad Name", "silence_over_s": 5}]},
            "t.yaml: rule 1 ('Bad Name'): tag: Value error, lower-case",
        ),
        (
            {"version": 1, "rules": [{"tag": "s", "silence_over_s": -1}]},
            "t.yaml: rule 1 ('s'): silence_over_s: Input should be greater than 0",
        ),
        (
            {"version": 1, "rules": [{"tag": "s", "silence_over_s": 5, "colour": "red"}]},
            "t.yaml: rule 1 ('s'): colour: Extra inputs are not permitted",
        ),
        (
            {"version": 1, "rules": [{"tag": "s", "silence_over_s": 5}], "red_flags": ["x"]},
            "t.yaml: red_flags: no rule makes x",
        ),
    ],
)
def test_a_bad_rules_file_names_the_file_the_rule_and_the_problem(
    data: dict[str, Any], problem: str
) -> None:
    with pytest.raises(TagRulesError) as caught:
        parse_rules(data, "t.yaml")
    assert str(caught.value).startswith(problem)


def test_unreadable_or_broken_yaml_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(TagRulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    broken = tmp_path / "rules.yaml"
    broken.write_text("version: 1\nrules: [\n", encoding="utf-8")
    with pytest.raises(TagRulesError, match=r"rules.yaml: not valid YAML \(line"):
        load_rules(broken)


def test_keywords_match_whole_words_of_the_chosen_party_with_their_time_span() -> None:
    rule_set = rules(
        {"tag": "cancel", "party": "caller", "keywords": {"en": ["cancel*", "close my account"]}},
        {"tag": "manager", "keywords": {"en": ["your manager", "speak to your manager"]}},
        red_flags=["cancel"],
    )
    turns = build_turns(
        {
            "agent": words("you can cancel online", 0.0),
            "caller": words(
                "I cancelled it so close my account or let me speak to your manager", 3.0
            ),
        }
    )
    assert tag(turns, rule_set) == [
        ("cancel", 3.4, 3.7),  # "cancelled" (the agent's "cancel" is not the caller's)
        ("cancel", 4.6, 5.7),  # "close my account"
        ("manager", 7.0, 8.5),  # the widest phrase only
    ]
    match = apply_rules(rule_set, turns, analyse(turns, 60, "en", None), "en")[0]
    assert match.detail == {"red_flag": True, "phrase": "cancel*", "party": "caller"}


def test_chinese_keywords_match_characters_across_word_boundaries() -> None:
    rule_set = rules({"tag": "complaint", "keywords": {"zh": ["投诉"], "en": ["complain"]}})
    turns = build_turns({"caller": [Word("我要投", 2.0, 2.6), Word("诉你们", 2.6, 3.2)]})
    assert tag(turns, rule_set, "zh") == [("complaint", 2.0, 3.2)]


def test_redacted_words_never_match_a_keyword() -> None:
    rule_set = rules({"tag": "t", "keywords": {"en": ["cancel"]}})
    turn = Turn("caller", words("cancel", 0.0))
    turn.masked = {0}
    assert tag([turn], rule_set) == []


def test_silence_sentiment_and_talk_over_rules() -> None:
    rule_set = rules(
        {"tag": "long_silence", "silence_over_s": 8},
        {"tag": "negative_end", "sentiment_below": -0.3, "party": "caller"},
        {"tag": "angry_turn", "sentiment_below": -0.3, "window": "turn", "party": "caller"},
        {"tag": "talk_over", "interruptions_over": 1},
    )
    turns = build_turns(
        {
            "agent": words("let me explain this to you now and then more", 0.0)
            + words("please hold the line while I check this for you", 5.0),
            "caller": words("wait", 1.0)
            + words("no", 6.0)
            + words("this is awful and I hate it", 40.0),
        }
    )
    assert tag(turns, rule_set, duration=45.0) == [
        ("talk_over", 1.0, 6.0),
        ("long_silence", 8.9, 40.0),
        ("angry_turn", 40.0, 42.7),
        ("negative_end", 40.0, 42.7),  # the last 30 s
    ]


def test_a_required_greeting_not_said_in_time_tags_the_call() -> None:
    rule_set = rules(
        {"tag": "no_greeting", "within_s": 5, "required_phrases": {"en": ["thank you for calling"]}}
    )
    greeted = build_turns({"agent": words("thank you for calling", 1.0)})
    late = build_turns({"agent": words("hi", 1.0) + words("thank you for calling", 8.0)})
    by_caller = build_turns({"caller": words("thank you for calling", 1.0)})
    assert tag(greeted, rule_set) == []
    assert tag(late, rule_set) == [("no_greeting", 0.0, 5.0)]
    assert tag(by_caller, rule_set) == [("no_greeting", 0.0, 5.0)]
