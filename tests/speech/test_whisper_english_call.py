"""faster-whisper tiny.en on a two-party English call made with espeak-ng: the
transcript is close to the script, the complaint keywords are tagged where they
were said, the hold is measured, and the card number read out is not stored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from recordings.transcribe.engines import Engine
from recordings.transcribe.pipeline import transcribe_call
from recordings.transcribe.tags import load_rules
from recordings.transcribe.turns import MASK
from recordings.transcribe.types import AudioSource
from tests.support.speech import say, seconds, track, word_error_rate, write

CARD = "four one one one, two two two two, three three three three, four four four four"
# (party, text, pause before it in seconds)
SCRIPT = [
    ("agent", "Thank you for calling, this is Anna. How can I help you today?", 0.5),
    ("caller", "Hi, my internet has been down for three days.", 0.6),
    ("agent", "I am sorry to hear that. Can I have your card number please?", 0.6),
    ("caller", CARD, 0.6),
    ("agent", "Thank you. Please hold while I check your account.", 0.6),
    ("caller", "This is terrible, I am very angry. I want to cancel my contract.", 8.0),  # the hold
    ("agent", "I understand your frustration.", 0.6),
    ("caller", "Let me speak to your manager right now.", 0.6),
    ("agent", "Of course, I will transfer you to my supervisor.", 0.6),
]
KEYWORDS = {  # tag: (line, words before it in that line)
    "cancel": (5, "This is terrible, I am very angry. I want to"),
    "supervisor_request": (7, "Let me speak to"),
}


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[float], float]:
    folder = tmp_path_factory.mktemp("call-en")
    starts: list[float] = []
    clips: dict[str, list[tuple[float, Path]]] = {"caller": [], "agent": []}
    cursor = 0.0
    for index, (party, text, pause) in enumerate(SCRIPT):
        clip = say(text, "en-us", folder / f"line{index}.wav")
        cursor += pause
        starts.append(cursor)
        clips[party].append((cursor, clip))
        cursor += seconds(clip)
    total = cursor + 1.0
    caller = write(folder / "1764000000.5-caller.wav", [track(clips["caller"], total)])
    agent = write(folder / "1764000000.5-agent.wav", [track(clips["agent"], total)])
    return caller, agent, starts, total


def test_tiny_en_transcribes_each_party_and_tags_the_complaint_where_it_was_said(
    whisper_en: Engine, call: tuple[Path, Path, list[float], float], tmp_path: Path
) -> None:
    caller, agent, starts, total = call
    transcript, tags = transcribe_call(
        whisper_en,
        "1764000000.5",
        [AudioSource("caller", str(caller)), AudioSource("agent", str(agent))],
        None,
        load_rules(),
    )

    assert transcript.engine == "whisper-tiny.en" and transcript.language == "en"
    assert transcript.duration_s == pytest.approx(total, abs=0.01)
    # each party's words against its script (the card number is redacted, left out)
    for party in ("caller", "agent"):
        said = " ".join(text for p, text, _ in SCRIPT if p == party and text != CARD)
        heard = " ".join(t["text"] for t in transcript.turns if t["party"] == party)
        wer = word_error_rate(said, heard.replace(MASK, " "))
        print(f"{party}: WER {wer:.1%}: {heard}")
        assert wer <= 0.30, f"{party}: word error rate {wer:.1%}"
    # turns by party at the right times
    first_turns = {}
    for turn in transcript.turns:
        first_turns.setdefault(turn["party"], turn["start"])
    assert first_turns["agent"] == pytest.approx(starts[0], abs=1.0)
    assert first_turns["caller"] == pytest.approx(starts[1], abs=1.0)
    # the keywords where they were said (±1.5 s), as red flags
    for tag, (line, before) in KEYWORDS.items():
        expected = starts[line] + seconds(say(before, "en-us", tmp_path / f"{tag}.wav"))
        found = [m for m in tags if m.tag == tag]
        assert found, f"{tag} not tagged: {transcript.text}"
        assert found[0].start_s == pytest.approx(expected, abs=1.5)
        assert found[0].detail["red_flag"] is True
    assert not any(m.tag == "no_greeting" for m in tags)
    # the 8 s hold is the longest non-talk time
    silence = transcript.analytics["non_talk"]
    assert silence["longest_s"] == pytest.approx(8.0, abs=1.0)
    assert silence["longest_end"] == pytest.approx(starts[5], abs=1.0)
    # the card number the caller read out is not stored, in words or digits
    stored = json.dumps(transcript.turns) + transcript.text
    assert not re.search(r"\d[\d\s,.-]{4,}\d", stored), stored
    assert not re.search(r"\b(one|two|three|four)\b[\s,]+\b(one|two|three|four)\b", stored)
    assert any(r["party"] == "caller" for r in transcript.analytics["redactions"])
    # English sentiment per turn (none for a turn that is all redacted); the caller
    # ends the call unhappy
    for turn in transcript.turns:
        assert (turn["sentiment"] is None) == (turn["text"] == MASK), turn
    assert transcript.analytics["sentiment"]["end"]["caller"] < 0
