"""Known speech through a real call, transcribed by the real pipeline.

Each party's lines are espeak-ng speech sent as RTP by sipp (the caller
through the IVR and the queue, agent 1001's phone answering); Asterisk
records each party to its own file; the CDR writer queues the transcription
job when it stores the call; a worker process takes the job. Where a line
lies in the recording is known from the script and from where each party's
track starts in its recorded file, measured by cross-correlation (the
caller's track starts before the bridge, during the IVR).

* English through faster-whisper tiny.en: word error rate per party against
  the script, the ``cancel`` and ``supervisor_request`` tags where they were
  said, and the escalation on a supervisor's WebSocket.
* Korean through Vosk (the packaged model; synthetic Korean shows the
  mechanics, not accuracy): turns per party at the right times and the known
  8 s silence as non-talk time.
* Mandarin (espeak-ng pinyin) through the multilingual Whisper base model:
  Chinese text out, the complaint rule matched where it was said; the
  character error rate is printed (a regression guard, not a quality claim).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cti.config import Settings
from cti.demo import DemoSecrets
from cti.server import Running, running_hotline
from recordings.transcribe.store import TranscriptionStore
from recordings.transcribe.turns import MASK
from recordings.transcribe.worker import WorkerConfig
from tests.support.speech import char_error_rate, say, word_error_rate
from tests.support.speech_call import (
    Frames,
    Line,
    RecordedCall,
    ScriptedAudio,
    lay_out,
    place_scripted_call,
    recorded_seconds,
    run_one_worker,
    speech_end_s,
)
from tests.support.ws_frames import next_of_type

pytestmark = pytest.mark.asterisk

EN = "en-us"
ENGLISH = [
    Line("agent", "Thank you for calling, this is Anna. How can I help you today?", 0.5, EN),
    Line("caller", "Hi, my internet has been down for three days and nobody fixed it.", 1.5, EN),
    Line("agent", "I am sorry to hear that. Let me check your account for you.", 1.5, EN),
    Line("caller", "This is the third time this month. I want to cancel my contract.", 1.5, EN),
    Line("agent", "I understand your frustration. I can offer you a discount.", 1.5, EN),
    Line("caller", "No thank you. Let me speak to your manager right now.", 1.5, EN),
    Line("agent", "Of course, I will transfer you to my supervisor.", 1.5, EN),
]
#: tag: (line, the words said before the matched phrase in that line)
ENGLISH_TAGS = {
    "cancel": (3, "This is the third time this month. I want to"),
    "supervisor_request": (5, "No thank you. Let me"),
}

KO = "ko"
#: the agent puts the caller on hold: 8 s of silence between its two lines
HOLD_S = 8.0
KOREAN = [
    Line("caller", "안녕하세요 결제 문제로 전화했습니다", 1.0, KO),
    Line("agent", "네 고객님 확인해 드리겠습니다 잠시만 기다려 주세요", 1.5, KO),
    Line("agent", "기다려 주셔서 감사합니다 결제가 확인되었습니다", HOLD_S, KO),
    Line("caller", "네 감사합니다", 1.5, KO),
]

ZH = "cmn-latn-pinyin"
#: (party, pinyin said, the characters meant); slower than the default speed.
#: Synthetic Mandarin at telephone quality (8 kHz A-law) loses some words: the
#: refund asked for (退款) comes out as 追宽 whatever the speed or the wording
#: around it, so it is not asserted; the complaint (太差, "terrible") is heard.
MANDARIN = [
    ("agent", "ni3 hao3 , huan1 ying2 zhi4 dian4 ke4 fu2 zhong1 xin1", "你好欢迎致电客服中心"),
    ("caller", "ni3 men5 de5 fu2 wu4 tai4 cha4 le5", "你们的服务太差了"),
    ("agent", "qing3 shao1 deng3 , wo3 bang1 nin2 cha2 yi2 xia4", "请稍等我帮您查一下"),
    ("caller", "wo3 yao4 tui4 kuan3", "我要退款"),
]
#: the complaint keyword (太差) comes after these words of line 1
COMPLAINT_AFTER = (1, "ni3 men5 de5 fu2 wu4")


async def started(settings: Settings, **changes: object) -> AsyncIterator[Running]:
    async with running_hotline(settings.model_copy(update=changes)) as running:
        yield running


@pytest.fixture
async def hotline_whisper(hotline_settings: Settings) -> AsyncIterator[Running]:
    async for running in started(
        hotline_settings, transcription_engine="whisper-tiny.en", escalation_poll_s=0.3
    ):
        yield running


@pytest.fixture
async def hotline_vosk(hotline_settings: Settings) -> AsyncIterator[Running]:
    async for running in started(hotline_settings, transcription_engine="vosk"):
        yield running


@pytest.fixture
async def hotline_mandarin(hotline_settings: Settings) -> AsyncIterator[Running]:
    async for running in started(
        hotline_settings, transcription_engine="whisper-base", transcription_language="zh"
    ):
        yield running


def worker_config(running: Running, engine: str, **more: object) -> WorkerConfig:
    return WorkerConfig(
        database_url=running.settings.effective_database_url,
        engine=engine,
        poll_s=0.2,
        **more,  # type: ignore[arg-type]
    )


def check_alignment(call: RecordedCall, audio: ScriptedAudio) -> str:
    """The recorded files belong together and hold each line each party said,
    the per-party files in step with the mixed one; a summary of where."""
    lengths = {name: recorded_seconds(path) for name, path in call.files.items()}
    offsets = ", ".join(f"{p}: {o.track_s:.3f} s" for p, o in call.offsets.items())
    drift = []
    for i, h in enumerate(call.heard):
        slip = h.start_s - call.offsets[h.line.party].in_recording(h.line.track_start_s)
        drift.append(
            f"{h.line.party[0]}{i} at {h.start_s:.2f} s ({slip:+.2f}, r={h.correlation:.2f}, "
            f"intact {h.intact:.0%},"
            f" mixed {h.mixed_start_s - h.start_s:+.3f})"
        )
    summary = f"lengths {lengths}; track offsets {offsets}; lines {drift}"
    print(summary)
    assert max(lengths.values()) - min(lengths.values()) < 0.1, summary
    # the agent's track starts at its answer, with the recording (the bridge)
    assert -0.3 <= call.offsets["agent"].track_s <= 0.5, summary
    # the caller's track started during the IVR, before the bridge, and its
    # first line after it
    assert 0.0 < call.offsets["caller"].track_s < 5.0, summary
    assert all(heard.start_s > 0.0 for heard in call.heard), summary
    for heard in call.heard:
        # each line is in its party's file (through A-law and the bridge; a
        # packet sent late on this busy machine shifts the rest of a line by
        # 20 ms or more: the line is checked a quarter of a second at a time) ...
        assert heard.intact >= 0.7, (heard, summary)
        slip = heard.start_s - call.offsets[heard.line.party].in_recording(heard.line.track_start_s)
        assert abs(slip) <= 0.5, (heard, summary)
        # ... at the same moment as in the mixed file
        assert abs(heard.mixed_start_s - heard.start_s) <= 0.05, (heard, summary)
    # the recording ends when the caller hangs up at the end of its track
    expected = audio.seconds - call.offsets["caller"].track_s
    assert abs(lengths["caller"] - expected) < 1.0, summary
    return summary


async def test_an_english_call_through_asterisk_is_transcribed_tagged_and_escalated(
    hotline_whisper: Running, demo_secrets: DemoSecrets, tmp_path: Path
) -> None:
    running = hotline_whisper
    audio = lay_out(ENGLISH, tmp_path)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{running.web_url}/api/login",
            json={"username": "supervisor", "password": demo_secrets.supervisor_password},
        ) as r:
            assert r.status == 200, await r.text()
            token = (await r.json())["token"]
        async with http.ws_connect(
            f"{running.web_url}/ws", headers={"Authorization": f"Bearer {token}"}
        ) as supervisor:
            await next_of_type(supervisor, "hello", 5)
            async with Frames(supervisor, "qa.escalation") as escalations:
                call = await place_scripted_call(running, audio, demo_secrets.agent_password)
                check_alignment(call, audio)
                store = TranscriptionStore(running.hotline.repository.engine)
                (job,) = [j for j in await store.jobs() if j.call_id == call.call_id]
                assert job.engine == "whisper-tiny.en", job
                assert {s.party for s in job.sources} == {"caller", "agent"}, job

                await run_one_worker(worker_config(running, "whisper-tiny.en"), within=120)

                def ours(frames: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
                    return {f["tag"]: f for f in frames if f["call_id"] == call.call_id}

                await escalations.wait_for(lambda f: set(ours(f)) >= set(ENGLISH_TAGS), 15)
                escalated = ours(escalations.frames)

    transcript = await store.transcript(call.call_id)
    assert transcript is not None and transcript.engine == "whisper-tiny.en"
    for party in ("caller", "agent"):
        said = " ".join(line.text for line in audio.said(party))
        heard = " ".join(t["text"] for t in transcript.turns if t["party"] == party)
        wer = word_error_rate(said, heard.replace(MASK, " "))
        print(f"{party}: WER {wer:.1%}: {heard}")
        assert wer <= 0.30, f"{party}: word error rate {wer:.1%}: {heard}"

    tags = {t.tag: t for t in await store.tags(call.call_id)}
    for tag, (index, before) in ENGLISH_TAGS.items():
        lead = speech_end_s(say(before, EN, tmp_path / f"{tag}-before.wav"))
        expected = call.line(index).start_s + lead
        assert tag in tags, f"{tag} not tagged: {transcript.text}"
        found = tags[tag].start_s
        assert found is not None
        print(f"{tag}: tagged at {found:.2f} s, said at {expected:.2f} s ({found - expected:+.2f})")
        assert abs(found - expected) <= 1.5, (tag, found, expected)
        assert escalated[tag]["start_s"] == pytest.approx(found)
        assert escalated[tag]["agent_id"] == "1001"


async def test_a_korean_call_through_asterisk_gives_vosk_turns_and_the_hold_at_the_right_times(
    hotline_vosk: Running, demo_secrets: DemoSecrets, tmp_path: Path
) -> None:
    running = hotline_vosk
    audio = lay_out(KOREAN, tmp_path)
    call = await place_scripted_call(running, audio, demo_secrets.agent_password)
    check_alignment(call, audio)
    store = TranscriptionStore(running.hotline.repository.engine)
    (job,) = [j for j in await store.jobs() if j.call_id == call.call_id]
    assert job.engine == "vosk", job

    await run_one_worker(worker_config(running, "vosk"), within=120)

    transcript = await store.transcript(call.call_id)
    assert transcript is not None and (transcript.engine, transcript.language) == ("vosk", "ko")
    said = call.speech()
    turns = [(t["party"], t["start"], t["end"]) for t in transcript.turns]
    errors = [
        (round(start - s_start, 2), round(end - s_end, 2))
        for (_, start, end), (_, s_start, s_end) in zip(turns, said, strict=False)
    ]
    print(f"said {said}\nturns {turns}\nerrors (start, end) {errors}")
    assert [party for party, _, _ in turns] == [party for party, _, _ in said], (turns, said)
    for (party, start, end), (_, s_start, s_end) in zip(turns, said, strict=True):
        assert abs(start - s_start) <= 1.0, (party, turns, said)
        assert abs(end - s_end) <= 1.0, (party, turns, said)

    # non-talk time: the hold, and all of it
    hold_from, hold_to = said[1][2], said[2][1]
    spoken = sum(end - start for _, start, end in said)  # the lines do not overlap
    non_talk = transcript.analytics["non_talk"]
    print(
        f"hold {hold_from:.2f}-{hold_to:.2f} s, heard {non_talk['longest_start']}-"
        f"{non_talk['longest_end']} s; non-talk {non_talk['total_s']} s, "
        f"said {transcript.duration_s - spoken:.2f} s"
    )
    assert hold_to - hold_from == pytest.approx(HOLD_S, abs=1.0)  # as laid out
    assert non_talk["longest_s"] == pytest.approx(hold_to - hold_from, abs=1.0)
    assert non_talk["longest_start"] == pytest.approx(hold_from, abs=1.0)
    assert non_talk["longest_end"] == pytest.approx(hold_to, abs=1.0)
    assert non_talk["total_s"] == pytest.approx(transcript.duration_s - spoken, abs=1.0)


async def test_a_mandarin_call_through_asterisk_comes_out_in_chinese_with_the_complaint_tagged(
    hotline_mandarin: Running, demo_secrets: DemoSecrets, tmp_path: Path
) -> None:
    running = hotline_mandarin
    script = [Line(party, pinyin, 1.5, ZH) for party, pinyin, _ in MANDARIN]
    audio = lay_out(script, tmp_path, speed=130)
    call = await place_scripted_call(running, audio, demo_secrets.agent_password)
    check_alignment(call, audio)
    store = TranscriptionStore(running.hotline.repository.engine)
    (job,) = [j for j in await store.jobs() if j.call_id == call.call_id]
    assert job.engine == "whisper-base", job

    config = worker_config(
        running, "whisper-base", language="zh", whisper_cache_dir=tmp_path / "whisper"
    )
    await run_one_worker(config, within=150)

    transcript = await store.transcript(call.call_id)
    assert transcript is not None and (transcript.engine, transcript.language) == (
        "whisper-base",
        "zh",
    )
    heard = {
        party: "".join(t["text"] for t in transcript.turns if t["party"] == party)
        for party in ("caller", "agent")
    }
    cer = {
        party: char_error_rate("".join(c for p, _, c in MANDARIN if p == party), heard[party])
        for party in heard
    }
    print(f"character error rate {cer}; heard {heard}")
    assert sum(ch >= "\u4e00" for ch in heard["caller"]) >= 6, heard  # Chinese came out
    assert cer["caller"] <= 0.6 and cer["agent"] <= 0.6, (cer, heard)

    complaints = [
        t
        for t in await store.tags(call.call_id)
        if t.tag == "complaint" and (t.detail or {}).get("phrase") == "太差"
    ]
    assert complaints, f"太差 not tagged: {transcript.text}"
    index, before = COMPLAINT_AFTER
    lead = speech_end_s(say(before, ZH, tmp_path / "before.wav", speed=130))
    expected = call.line(index).start_s + lead
    found = complaints[0].start_s
    assert found is not None
    print(f"太差: tagged at {found:.2f} s, said at {expected:.2f} s ({found - expected:+.2f})")
    assert abs(found - expected) <= 1.5, (found, expected)
    assert complaints[0].detail["red_flag"] is True
