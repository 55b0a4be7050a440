"""Call analytics from turns: talk time, non-talk time, talk-over, talk speed, sentiment."""

from __future__ import annotations

from pathlib import Path

from recordings.transcribe.analytics import analyse, interruptions, non_talk, talk
from recordings.transcribe.sentiment import EnScorer, ZhScorer, load_zh_lexicon
from recordings.transcribe.turns import MASK, Turn, build_turns
from recordings.transcribe.types import Word


def words(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [
        Word(w, round(start + i * step, 2), round(start + i * step + 0.3, 2))
        for i, w in enumerate(text.split())
    ]


def test_a_party_pause_longer_than_a_second_starts_a_new_turn() -> None:
    turns = build_turns(
        {
            "agent": words("hello how can I help", 0.0) + words("one moment please", 10.0),
            "caller": words("I want to cancel", 3.0),
        }
    )
    assert [(t.party, t.start, t.text("en")) for t in turns] == [
        ("agent", 0.0, "hello how can I help"),
        ("caller", 3.0, "I want to cancel"),
        ("agent", 10.0, "one moment please"),
    ]


def test_chinese_turns_join_without_spaces_and_redacted_runs_show_once() -> None:
    turn = Turn("caller", words("我 要 投诉 六 二 二", 0.0))
    turn.masked = {3, 4, 5}
    assert turn.text("zh") == f"我要投诉 {MASK}"
    stored = turn.as_json("zh")
    assert [w["w"] for w in stored["words"]][-3:] == [MASK] * 3
    assert stored["words"][-1]["redacted"] is True


def test_non_talk_time_counts_the_gaps_where_nobody_speaks() -> None:
    turns = build_turns(
        {"agent": words("hello there", 1.0), "caller": words("hi", 10.0) + words("bye", 12.0)}
    )
    silence = non_talk(turns, duration_s=15.0)
    # talk: 1.0-1.7, 10.0-10.3, 12.0-12.3; silence 1.0 + 8.3 + 1.7 + 2.7
    assert silence["longest_s"] == 8.3
    assert (silence["longest_start"], silence["longest_end"]) == (1.7, 10.0)
    assert silence["total_s"] == 13.7
    assert silence["spans"] == [[1.7, 10.0], [12.3, 15.0]]


def test_talking_over_the_other_party_is_an_interruption_of_the_one_who_started_later() -> None:
    turns = build_turns(
        {
            "agent": words("let me explain the terms of the contract to you", 0.0),  # to 3.9
            "caller": words("no no no", 2.0) + words("ok", 3.7),
        }
    )
    found = interruptions(turns)
    assert found["count"] == 1
    assert found["events"] == [{"party": "caller", "over": "agent", "at": 2.0}]
    # the caller's "ok" at 3.7 comes within the last 0.3 s of the agent's turn: not counted
    assert found["by_party"] == {"caller": 1}


def test_talk_speed_is_words_per_minute_and_characters_per_minute_in_chinese() -> None:
    turn = Turn("caller", [Word("hello", 0.0, 0.5), Word("world", 29.5, 30.0)])
    seconds, speed = talk([turn], "en")
    assert seconds == {"caller": 30.0}
    assert speed == {"caller": {"per_minute": 4.0, "unit": "words"}}
    zh = Turn("agent", [Word("您好", 0.0, 0.5), Word("欢迎", 0.5, 1.0)])
    assert talk([zh], "zh")[1] == {"agent": {"per_minute": 240.0, "unit": "characters"}}


def test_english_sentiment_per_turn_and_at_the_end_of_the_call() -> None:
    turns = build_turns(
        {
            "caller": words("thank you this is great", 0.0)
            + words("this is terrible and I am very angry", 50.0),
            "agent": words("I am sorry", 54.0),
        }
    )
    figures = analyse(turns, 60.0, "en", EnScorer())
    first, last = turns[0].sentiment, turns[1].sentiment
    assert first is not None and first > 0.5
    assert last is not None and last < -0.5
    assert figures["sentiment"]["end_from_s"] == 30.0
    assert figures["sentiment"]["end"]["caller"] == round(last, 3)
    assert figures["sentiment"]["overall"]["caller"] > figures["sentiment"]["end"]["caller"]


def test_chinese_sentiment_uses_the_lexicon_with_negation_and_intensifiers() -> None:
    score = ZhScorer(load_zh_lexicon())
    happy, unhappy, angry = score("非常满意谢谢"), score("我不满意"), score("我要投诉你们太差了")
    assert happy is not None and happy > 0.3
    assert unhappy is not None and unhappy < 0
    assert angry is not None and angry < unhappy
    assert score(f" {MASK} ") is None


def test_a_site_can_add_words_to_the_chinese_lexicon(tmp_path: Path) -> None:
    lexicon = tmp_path / "zh.yaml"
    lexicon.write_text("positive: [给力]\nnegative: {坑人: 3}\n", encoding="utf-8")
    score = ZhScorer(load_zh_lexicon(lexicon))
    good, bad = score("真给力"), score("坑人")
    assert good is not None and good > 0
    assert bad is not None and bad < -0.5
