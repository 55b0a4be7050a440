"""Vosk (the packaged Korean model) on a two-channel call made with espeak-ng: the
mechanics, not accuracy (synthetic Korean is too robotic to judge that): each
channel gives its party's turns at the right times, and the 8 s of silence in
the middle of the call is measured as non-talk time."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.transcribe.engines import Engine
from recordings.transcribe.pipeline import transcribe_call
from recordings.transcribe.sources import recording_sources
from recordings.transcribe.tags import load_rules
from tests.support.speech import say, seconds, track, write

# (party, text, pause before it in seconds)
SCRIPT = [
    ("caller", "안녕하세요 결제 문제로 전화했습니다", 1.0),
    ("agent", "네 고객님 확인해 드리겠습니다 잠시만 기다려 주세요", 1.0),
    ("caller", "아직 기다리고 있어요", 8.0),
    ("agent", "기다려 주셔서 감사합니다", 1.0),
]


@pytest.fixture(scope="module")
def stereo_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[tuple[str, float, float]]]:
    folder = tmp_path_factory.mktemp("call-ko")
    placed: list[tuple[str, float, float]] = []
    clips: dict[str, list[tuple[float, Path]]] = {"caller": [], "agent": []}
    cursor = 0.0
    for index, (party, text, pause) in enumerate(SCRIPT):
        clip = say(text, "ko", folder / f"line{index}.wav")
        cursor += pause
        clips[party].append((cursor, clip))
        placed.append((party, cursor, cursor + seconds(clip)))
        cursor += seconds(clip)
    total = cursor + 1.5
    path = write(
        folder / "1764000000.7.wav",
        [track(clips["caller"], total), track(clips["agent"], total)],
    )
    return path, placed


def test_two_channels_give_each_partys_turns_at_the_right_times_and_the_silence(
    vosk_ko: Engine, stereo_call: tuple[Path, list[tuple[str, float, float]]]
) -> None:
    path, placed = stereo_call
    sources = recording_sources(str(path))
    assert [(s.party, s.channel) for s in sources] == [("caller", 0), ("agent", 1)]

    transcript, _tags = transcribe_call(vosk_ko, "1764000000.7", sources, None, load_rules())

    assert (transcript.engine, transcript.language) == ("vosk", "ko")
    turns = [(t["party"], t["start"], t["end"]) for t in transcript.turns]
    assert [party for party, _, _ in turns] == [party for party, _, _ in placed], turns
    for (party, start, end), (_, said_from, said_to) in zip(turns, placed, strict=True):
        assert start == pytest.approx(said_from, abs=1.0), (party, turns)
        assert end == pytest.approx(said_to, abs=1.0), (party, turns)
    for turn in transcript.turns:
        assert turn["words"] and all(
            turn["start"] <= w["start"] <= w["end"] <= turn["end"] for w in turn["words"]
        )
    silence = transcript.analytics["non_talk"]
    assert silence["longest_s"] == pytest.approx(8.0, abs=1.0)
    assert silence["longest_start"] == pytest.approx(placed[1][2], abs=1.0)
    talk = transcript.analytics["talk_s"]
    for party in ("caller", "agent"):
        said = sum(end - start for p, start, end in placed if p == party)
        assert talk[party] == pytest.approx(said, abs=1.5)
    assert transcript.analytics["interruptions"]["count"] == 0
