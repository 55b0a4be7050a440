"""PII redaction: number runs, and what is said after a request for a detail."""

from __future__ import annotations

from recordings.transcribe.redact import digit_count, redact
from recordings.transcribe.turns import MASK, Turn, build_turns
from recordings.transcribe.types import Word


def words(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [
        Word(w, round(start + i * step, 2), round(start + i * step + 0.3, 2))
        for i, w in enumerate(text.split())
    ]


def test_digit_words_count_their_digits_and_money_is_not_a_number_run() -> None:
    assert digit_count("4111") == 4
    assert digit_count("4111-1111,") == 8
    assert digit_count("Seven") == 1
    assert digit_count("六二二八") == 4
    assert digit_count("$1,250.00") is None
    assert digit_count("cancel") is None


def test_a_card_number_read_in_groups_is_masked_and_short_numbers_are_kept() -> None:
    turn = Turn("caller", words("it is 4111 1111 1111 1111 and I paid 20 dollars in 2024", 0.0))
    spans = redact([turn], "en")
    assert turn.text("en") == f"it is {MASK} and I paid 20 dollars in 2024"
    assert [(s.kind, s.start, s.end) for s in spans] == [("digits", 0.8, 2.3)]


def test_spelled_digits_in_english_and_chinese_are_masked() -> None:
    en = Turn("caller", words("my number is five five five oh one two three", 0.0))
    zh = Turn("caller", words("号码 是 六 二 二 八 四 八", 0.0))
    redact([en], "en")
    redact([zh], "zh")
    assert en.text("en") == f"my number is {MASK}"
    assert zh.text("zh") == f"号码是 {MASK}"


def test_the_answer_after_a_request_for_a_security_code_is_masked_until_the_agent_speaks() -> None:
    turns = build_turns(
        {
            "agent": words("can you read me the security code please", 0.0)
            + words("thank you", 8.0),
            "caller": words("yes it is nine oh two", 4.0) + words("and I want to cancel", 9.0),
        }
    )
    spans = redact(turns, "en")
    assert [t.text("en") for t in turns] == [
        "can you read me the security code please",
        MASK,
        "thank you",
        "and I want to cancel",
    ]
    assert [(s.party, s.kind, s.start) for s in spans] == [("caller", "after_request", 4.0)]


def test_a_chinese_request_for_the_id_number_masks_the_reply() -> None:
    turns = build_turns(
        {
            "agent": words("请 提供 您的 身份证 号码", 0.0),
            "caller": words("好 的 是 我 家 地址", 3.0),
        }
    )
    redact(turns, "zh")
    assert turns[1].text("zh") == MASK


def test_in_a_one_channel_recording_the_words_after_the_request_are_masked() -> None:
    turns = build_turns({"mixed": words("what is your card number sure it is four one", 0.0)})
    redact(turns, "en", window_s=1.0)
    assert turns[0].text("en") == f"what is your card number {MASK} four one"
