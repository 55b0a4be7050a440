"""The multilingual Whisper base model (assembled from its packages) on a Mandarin
call made with espeak-ng (cmn-latn-pinyin), recorded wideband (16 kHz): Chinese
text out, in Simplified characters, and the complaint keyword rule (投诉)
matched where it was said.

Synthetic Mandarin is robotic: the character error rate printed here is a
regression guard, not a measure of quality on real callers. At 8 kHz the same
synthetic lines lose most keywords (投诉 heard as 求祖, 退款 as 追宽): a
Mandarin site records wideband or uses a Vosk Mandarin model."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.transcribe.engines import WHISPER_BASE_FILES, Engine
from recordings.transcribe.pipeline import transcribe_call
from recordings.transcribe.tags import load_rules
from recordings.transcribe.types import AudioSource
from tests.support.speech import char_error_rate, say, seconds, track, write

RATE = 16000
# (party, pinyin said, the characters meant, pause before it)
SCRIPT = [
    ("agent", "ni3 hao3 , huan1 ying2 zhi4 dian4 ke4 fu2 zhong1 xin1", "你好欢迎致电客服中心", 0.5),
    ("caller", "wo3 yao4 tou2 su4 ni3 men5 de5 fu2 wu4", "我要投诉你们的服务", 1.0),
    ("agent", "qing3 shao1 deng3 , wo3 bang1 nin2 cha2 yi2 xia4", "请稍等我帮您查一下", 1.0),
]
#: the complaint keyword comes after these words of line 1
KEYWORD_AFTER = (1, "wo3 yao4")


def test_the_cache_holds_the_checked_model(whisper_zh: Engine, whisper_cache: Path) -> None:
    folder = whisper_cache / "whisper-base"
    assert sorted(p.name for p in folder.iterdir()) == sorted(WHISPER_BASE_FILES)
    assert (folder / "model.bin").stat().st_size == WHISPER_BASE_FILES["model.bin"][0]


def test_mandarin_comes_out_in_simplified_characters_and_the_refund_is_tagged_where_said(
    whisper_zh: Engine, tmp_path: Path
) -> None:
    clips: dict[str, list[tuple[float, Path]]] = {"caller": [], "agent": []}
    starts: list[float] = []
    cursor = 0.0
    for index, (party, pinyin, _chars, pause) in enumerate(SCRIPT):
        clip = say(pinyin, "cmn-latn-pinyin", tmp_path / f"line{index}.wav", rate=RATE)
        cursor += pause
        starts.append(cursor)
        clips[party].append((cursor, clip))
        cursor += seconds(clip)
    total = cursor + 1.5
    caller = write(tmp_path / "zh-caller.wav", [track(clips["caller"], total, RATE)], RATE)
    agent = write(tmp_path / "zh-agent.wav", [track(clips["agent"], total, RATE)], RATE)

    transcript, tags = transcribe_call(
        whisper_zh,
        "1764000000.8",
        [AudioSource("caller", str(caller)), AudioSource("agent", str(agent))],
        "zh",
        load_rules(),
    )

    assert (transcript.engine, transcript.language) == ("whisper-base", "zh")
    heard = {
        party: "".join(t["text"] for t in transcript.turns if t["party"] == party)
        for party in ("caller", "agent")
    }
    cer = {
        party: char_error_rate("".join(c for p, _, c, _ in SCRIPT if p == party), heard[party])
        for party in heard
    }
    print(f"character error rate: {cer}; heard: {heard}")
    assert sum(ch >= "\u4e00" for ch in heard["caller"]) >= 6  # Chinese text came out
    assert "們" not in heard["caller"] + heard["agent"]  # Traditional converted
    assert cer["caller"] <= 0.6 and cer["agent"] <= 0.6
    line, before = KEYWORD_AFTER
    expected = starts[line] + seconds(
        say(before, "cmn-latn-pinyin", tmp_path / "before.wav", rate=RATE)
    )
    complaints = [m for m in tags if m.tag == "complaint" and m.detail["phrase"] == "投诉"]
    assert complaints, transcript.text
    assert complaints[0].start_s == pytest.approx(expected, abs=1.5)
    assert complaints[0].detail["red_flag"] is True
    # the lexicon scores the complaint negative
    caller_mood = transcript.analytics["sentiment"]["overall"]["caller"]
    assert caller_mood is not None and caller_mood < 0
