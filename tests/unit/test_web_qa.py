"""The QA API (search, call detail, recordings with Range, scoring, training)
and the agent's recording pause, with the real core and database and a stub AMI."""

# ruff: noqa: F811 - the desk fixture is imported from the desktop's tests

from __future__ import annotations

import asyncio
import os
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cti.ami.translate import callback_channel_id
from cti.db.models import CallRecord, CallTag, Transcript
from tests.unit.test_web_desktop import Desk, desk  # noqa: F401 - the fixture

ALL_PASS = {
    "greeting": "pass",
    "identity_before_account": "pass",
    "no_promises_outside_policy": "pass",
    "accurate_answer": "pass",
    "closing": "pass",
}


def write_wav(path: Path, seconds: float = 1.0) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(range(256)) * int(16000 * seconds / 256))
    return path.read_bytes()


async def add_cdr(d: Desk, call_id: str, **fields: Any) -> CallRecord:
    values: dict[str, Any] = {
        "call_id": call_id,
        "caller_number": "15550100001",
        "caller_name": "",
        "ivr_path": "lang=en|menu=1",
        "queue": "billing",
        "agent_id": "1001",
        "entered_at": datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        "answered_at": datetime(2026, 12, 1, 10, 0, 20, tzinfo=UTC),
        "ended_at": datetime(2026, 12, 1, 10, 5, tzinfo=UTC),
        "wait_s": 20.0,
        "talk_s": 280.0,
        "disposition": "answered",
    } | fields
    row = CallRecord(**values)
    async with d.hotline.repository.sessions.begin() as session:
        session.add(row)
    return row


async def add_transcript(d: Desk, call_id: str, turns: list[dict[str, Any]]) -> None:
    at = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    async with d.hotline.repository.sessions.begin() as session:
        session.add(
            Transcript(
                call_id=call_id,
                engine="whisper",
                language="en",
                created_at=at,
                duration_s=60.0,
                turns=turns,
                analytics={},
                text="\n".join(t["text"] for t in turns),
            )
        )


async def add_tag(d: Desk, call_id: str, tag: str, start_s: float, end_s: float) -> None:
    at = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    async with d.hotline.repository.sessions.begin() as session:
        session.add(CallTag(call_id=call_id, tag=tag, start_s=start_s, end_s=end_s, created_at=at))


async def get_raw(d: Desk, path: str, token: str, **headers: str) -> tuple[int, bytes, Any]:
    async with d.client.get(path, headers={"Authorization": f"Bearer {token}"} | headers) as r:
        return r.status, await r.read(), r.headers


async def ids(d: Desk, token: str, query: str) -> list[str]:
    status, body = await d.get(f"/api/qa/calls?{query}", token)
    assert status == 200, body
    return [c["call_id"] for c in body["calls"]]


# ------------------------------------------------------------------ roles
async def test_qa_api_is_for_qa_supervisors_and_admins_and_refuses_agents(desk: Desk) -> None:
    await add_cdr(desk, "c1")
    agent = await desk.login("1001")
    for path in ("/api/qa/calls", "/api/qa/calls/c1", "/api/qa/scorecard"):
        status, body = await desk.get(path, agent)
        assert (status, body["error"]) == (403, "forbidden"), path
    status, _ = await desk.post("/api/qa/calls/c1/scores", agent, {"answers": ALL_PASS})
    assert status == 403
    for user in ("qa", "supervisor"):
        token = await desk.login(user)
        status, body = await desk.get("/api/qa/calls", token)
        assert status == 200 and [c["call_id"] for c in body["calls"]] == ["c1"]
    desk.client.session.cookie_jar.clear()  # no session at all
    async with desk.client.get("/api/qa/calls") as r:
        assert r.status == 401


async def test_qa_page_is_served_in_both_languages(desk: Desk) -> None:
    async with desk.client.get("/qa") as r:
        assert r.status == 200
        assert 'id="search"' in await r.text()
    async with desk.client.get("/static/qa.js") as r:
        js = await r.text()
    assert '"search.title": "Search calls"' in js and '"search.title": "搜索通话"' in js


# ------------------------------------------------------------------ search
async def test_search_narrows_by_date_agent_queue_caller_and_recording(
    desk: Desk, tmp_path: Path
) -> None:
    rec = desk.hotline.settings.recordings_dir / "c2.wav"
    write_wav(rec)
    await add_cdr(desk, "c1")
    await add_cdr(
        desk,
        "c2",
        agent_id="1002",
        queue="support",
        caller_number="13800138000",
        entered_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        recording_path=str(rec),
    )
    await add_cdr(desk, "c3", entered_at=datetime(2026, 12, 3, 23, 59, tzinfo=UTC))
    token = await desk.login("qa")
    assert await ids(desk, token, "") == ["c3", "c2", "c1"]
    assert await ids(desk, token, "since=2026-12-02&until=2026-12-02") == ["c2"]
    assert await ids(desk, token, "since=2026-12-02T10:00:00Z") == ["c3"]
    assert await ids(desk, token, "agent=1001") == ["c3", "c1"]
    assert await ids(desk, token, "queue=support") == ["c2"]
    assert await ids(desk, token, "caller=0138") == ["c2"]
    assert await ids(desk, token, "caller=%25") == []  # a LIKE wildcard is a plain character
    assert await ids(desk, token, "has_recording=true") == ["c2"]
    assert await ids(desk, token, "has_recording=false") == ["c3", "c1"]
    assert await ids(desk, token, "limit=1") == ["c3"]


async def test_search_finds_calls_by_tag_and_by_words_in_the_transcript(desk: Desk) -> None:
    for call_id in ("c1", "c2", "c3"):
        await add_cdr(desk, call_id)
    await add_transcript(
        desk, "c1", [{"party": "caller", "start": 1.0, "end": 3.0, "text": "I want to cancel"}]
    )
    await add_transcript(
        desk, "c2", [{"party": "caller", "start": 1.0, "end": 3.0, "text": "我要投诉 100% 不满意"}]
    )
    await add_tag(desk, "c1", "cancel", 1.2, 2.9)
    await add_tag(desk, "c3", "silence", 10.0, 19.0)
    token = await desk.login("qa")
    assert await ids(desk, token, "tag=cancel") == ["c1"]
    assert await ids(desk, token, "tag=silence") == ["c3"]
    assert await ids(desk, token, "tag=nothing") == []
    assert await ids(desk, token, "text=want+to+cancel") == ["c1"]
    assert await ids(desk, token, "text=投诉") == ["c2"]
    assert await ids(desk, token, "text=100%25") == ["c2"]
    assert await ids(desk, token, "text=1%250") == []  # % is a character, not a wildcard
    assert await ids(desk, token, "text=cancel&tag=silence") == []


async def test_call_detail_has_cdr_ivr_path_transcript_tags_in_time_order(desk: Desk) -> None:
    await add_cdr(desk, "c1", ivr_path="lang=en|menu=1|verified")
    turns = [
        {
            "party": "agent",
            "start": 0.5,
            "end": 2.0,
            "text": "hello, billing",
            "words": [{"w": "hello", "start": 0.5, "end": 0.9, "conf": 0.9}],
        },
        {"party": "caller", "start": 2.5, "end": 5.0, "text": "I want to cancel"},
    ]
    await add_transcript(desk, "c1", turns)
    await add_tag(desk, "c1", "supervisor_request", 30.0, 32.0)
    await add_tag(desk, "c1", "cancel", 3.5, 4.8)
    token = await desk.login("supervisor")
    status, body = await desk.get("/api/qa/calls/c1", token)
    assert status == 200
    assert body["call"]["queue"] == "billing" and body["call"]["agent_id"] == "1001"
    assert body["ivr_steps"] == ["lang=en", "menu=1", "verified"]
    assert [t["text"] for t in body["transcript"]] == ["hello, billing", "I want to cancel"]
    assert body["transcript"][0]["words"][0]["w"] == "hello"
    assert body["transcript_language"] == "en"
    assert [(t["tag"], t["start_s"], t["end_s"]) for t in body["tags"]] == [
        ("cancel", 3.5, 4.8),
        ("supervisor_request", 30.0, 32.0),
    ]
    status, body = await desk.get("/api/qa/calls/nope", token)
    assert (status, body["error"]) == (404, "no_such_call")


async def test_call_detail_shows_the_survey_score_and_the_nps_answer_beside_it(
    desk: Desk,
) -> None:
    await add_cdr(desk, "promoter", survey_score=5, nps_score=9)
    await add_cdr(desk, "detractor", survey_score=2, nps_score=0)  # 0 is an answer
    await add_cdr(desk, "silent")
    token = await desk.login("qa")
    answers = {}
    for call_id in ("promoter", "detractor", "silent"):
        status, body = await desk.get(f"/api/qa/calls/{call_id}", token)
        assert status == 200
        answers[call_id] = (body["call"]["survey_score"], body["call"]["nps_score"])
    assert answers == {"promoter": (5, 9), "detractor": (2, 0), "silent": (None, None)}
    status, body = await desk.get("/api/qa/calls?agent=1001", token)
    assert status == 200
    assert {c["call_id"]: c["nps_score"] for c in body["calls"]} == {
        "promoter": 9,
        "detractor": 0,
        "silent": None,
    }


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-13-01",
        "has_recording=maybe",
        "limit=0",
        "limit=9999",
        "caller=" + "1" * 65,
    ],
)
async def test_search_refuses_bad_filters(desk: Desk, query: str) -> None:
    token = await desk.login("qa")
    status, body = await desk.get(f"/api/qa/calls?{query}", token)
    assert (status, body["error"]) == (400, "bad_request")


# ------------------------------------------------------------------ recordings
async def test_recording_streams_whole_and_by_range(desk: Desk) -> None:
    data = write_wav(desk.hotline.settings.recordings_dir / "c1.wav", seconds=2)
    await add_cdr(desk, "c1", recording_path=str(desk.hotline.settings.recordings_dir / "c1.wav"))
    token = await desk.login("qa")
    status, body = await desk.get("/api/qa/calls/c1", token)
    assert status == 200
    url = body["audio"]["mixed"]
    assert url == "/api/qa/recordings/c1.wav"
    status, whole, headers = await get_raw(desk, url, token)
    assert status == 200 and whole == data
    assert headers["Content-Type"] == "audio/wav"
    assert headers.get("Accept-Ranges") == "bytes"
    status, part, headers = await get_raw(desk, url, token, Range="bytes=1000-1999")
    assert status == 206 and part == data[1000:2000]
    assert headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    status, tail, _ = await get_raw(desk, url, token, Range="bytes=-100")
    assert status == 206 and tail == data[-100:]
    status, _, _ = await get_raw(desk, url, token, Range=f"bytes={len(data) + 10}-")
    assert status == 416
    agent = await desk.login("1001")
    status, _, _ = await get_raw(desk, url, agent)
    assert status == 403


async def test_recording_lists_each_party_and_voicemail(desk: Desk) -> None:
    folder = desk.hotline.settings.recordings_dir
    for name in ("c1.wav", "c1-caller.wav", "c1-agent.wav", "voicemail/c2.wav"):
        write_wav(folder / name)
    await add_cdr(desk, "c1", recording_path=str(folder / "c1.wav"))
    await add_cdr(desk, "c2", agent_id=None, voicemail_path=str(folder / "voicemail/c2.wav"))
    token = await desk.login("qa")
    _, one = await desk.get("/api/qa/calls/c1", token)
    assert set(one["audio"]) == {"mixed", "caller", "agent"}
    assert one["audio"]["caller"] == "/api/qa/recordings/c1-caller.wav"
    _, two = await desk.get("/api/qa/calls/c2", token)
    assert two["audio"] == {"voicemail": "/api/qa/recordings/voicemail/c2.wav"}
    status, _, _ = await get_raw(desk, two["audio"]["voicemail"], token)
    assert status == 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/qa/recordings/../hotline.db", {400, 404}),
        ("/api/qa/recordings/..%2Fhotline.db", {400, 404}),
        ("/api/qa/recordings/%2e%2e%2Fhotline.db", {400, 404}),
        ("/api/qa/recordings/voicemail%2F..%2F..%2Fsecret.wav", {400}),
        ("/api/qa/recordings/voicemail/..%2F..%2Fsecret.wav", {400}),
        ("/api/qa/recordings//etc/passwd", {400}),
        ("/api/qa/recordings/%2Fetc%2Fpasswd", {400}),
        ("/api/qa/recordings/..\\secret.wav", {400}),
        ("/api/qa/recordings/sub/c1.wav", {400}),
        ("/api/qa/recordings/c1.txt", {400}),
        ("/api/qa/recordings/missing.wav", {404}),
        ("/api/qa/recordings/outside.wav", {404}),  # a symbolic link out of the folder
        ("/api/qa/recordings/voicemail", {400}),
    ],
)
async def test_recording_path_tricks_are_refused(
    desk: Desk, tmp_path: Path, path: str, expected: set[int]
) -> None:
    folder = desk.hotline.settings.recordings_dir
    write_wav(folder / "c1.wav")
    write_wav(folder / "sub" / "c1.wav")
    (tmp_path / "secret.wav").write_bytes(b"RIFF secret")
    os.symlink(tmp_path / "secret.wav", folder / "outside.wav")
    token = await desk.login("qa")
    async with desk.client.get(
        path, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
    ) as r:
        body = await r.read()
        assert r.status in expected, (path, r.status, body[:200])
        assert b"secret" not in body


# ------------------------------------------------------------------ scoring
async def test_score_is_stored_with_who_and_when_and_averaged_per_agent(desk: Desk) -> None:
    await add_cdr(desk, "c1")
    await add_cdr(desk, "c2")
    token = await desk.login("qa")
    status, card = await desk.get("/api/qa/scorecard", token)
    assert status == 200
    assert {c["id"] for s in card["sections"] for c in s["criteria"]} == set(ALL_PASS)
    status, body = await desk.post(
        "/api/qa/calls/c1/scores", token, {"answers": ALL_PASS, "comments": "good call"}
    )
    assert status == 200 and body["score"]["total"] == 100.0
    half = ALL_PASS | {"greeting": "fail", "accurate_answer": "fail", "closing": "na"}
    status, body = await desk.post("/api/qa/calls/c2/scores", token, {"answers": half})
    assert status == 200
    assert body["score"]["total"] == round(100 * 55 / 85, 1)
    _, detail = await desk.get("/api/qa/calls/c1", token)
    (score,) = detail["scores"]
    assert score["scorer"] == "qa" and score["comments"] == "good call"
    assert score["scored_at"].startswith("2027-01-15")  # the service clock
    _, found = await desk.get("/api/qa/calls?agent=1001", token)
    averages = {c["agent_avg_score"] for c in found["calls"]}
    assert averages == {round((100 + round(100 * 55 / 85, 1)) / 2, 1)}  # of stored totals
    assert {c["call_id"]: c["score"] for c in found["calls"]}["c1"] == 100.0


async def test_a_failed_critical_item_fails_the_whole_call(desk: Desk) -> None:
    await add_cdr(desk, "c1")
    token = await desk.login("qa")
    answers = ALL_PASS | {"identity_before_account": "fail"}
    status, body = await desk.post("/api/qa/calls/c1/scores", token, {"answers": answers})
    assert status == 200
    assert (body["score"]["total"], body["score"]["critical_failed"]) == (0.0, True)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"answers": {k: v for k, v in ALL_PASS.items() if k != "closing"}}, "closing"),
        ({"answers": ALL_PASS | {"smile": "pass"}}, "smile"),
        ({"answers": ALL_PASS | {"greeting": "maybe"}}, "greeting"),
        ({"answers": ["pass"]}, "object"),
        ({"answers": ALL_PASS, "comments": "x" * 4001}, "comments"),
    ],
)
async def test_scores_that_do_not_fit_the_scorecard_are_refused(
    desk: Desk, body: dict[str, Any], says: str
) -> None:
    await add_cdr(desk, "c1")
    token = await desk.login("qa")
    status, reply = await desk.post("/api/qa/calls/c1/scores", token, body)
    assert status == 400 and says in reply["message"], reply
    _, detail = await desk.get("/api/qa/calls/c1", token)
    assert detail["scores"] == []


async def test_scoring_an_unknown_call_is_404(desk: Desk) -> None:
    token = await desk.login("qa")
    status, _ = await desk.post("/api/qa/calls/nope/scores", token, {"answers": ALL_PASS})
    assert status == 404


async def test_training_mark_is_set_searched_and_cleared(desk: Desk) -> None:
    await add_cdr(desk, "c1")
    await add_cdr(desk, "c2")
    token = await desk.login("qa")
    status, _ = await desk.post("/api/qa/calls/c1/training", token, {"training": True, "note": "x"})
    assert status == 200
    assert await ids(desk, token, "training=true") == ["c1"]
    _, detail = await desk.get("/api/qa/calls/c1", token)
    assert detail["training"]["marked_by"] == "qa"
    await desk.post("/api/qa/calls/c1/training", token, {"training": False})
    assert await ids(desk, token, "training=true") == []
    status, _ = await desk.post("/api/qa/calls/c1/training", token, {"training": "yes"})
    assert status == 400


# ------------------------------------------------------------------ recording pause
async def test_agent_on_the_call_pauses_and_resumes_its_recording(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c9", "1001")
    desk.answer("c9", "1001")
    desk.advance(10)
    status, body = await desk.post("/api/calls/c9/recording", token, {"paused": True})
    assert (status, body["paused"]) == (200, True), body
    (mute,) = desk.ami.named("MixMonitorMute")
    assert mute == {
        "Action": "MixMonitorMute",
        "Channel": "PJSIP/trunk-c9",
        "Direction": "both",
        "State": "1",
    }
    status, body = await desk.get("/api/calls/c9/recording", token)
    assert (status, body["paused"]) == (200, True)
    other = await desk.login("1002")
    status, body = await desk.get("/api/calls/c9/recording", other)
    assert (status, body["error"]) == (403, "not_your_call")
    # pausing twice is not a second span
    status, body = await desk.post("/api/calls/c9/recording", token, {"paused": True})
    assert status == 200 and len(desk.ami.named("MixMonitorMute")) == 1
    desk.advance(5)
    status, body = await desk.post("/api/calls/c9/recording", token, {"paused": False})
    assert (status, body["paused"]) == (200, False)
    assert desk.ami.named("MixMonitorMute")[-1]["State"] == "0"
    status, body = await desk.get("/api/calls/c9/recording", token)
    assert (status, body["paused"]) == (200, False)
    desk.hang_up("c9", "1001")
    await desk.hotline.drain()
    qa = await desk.login("qa")
    _, detail = await desk.get("/api/qa/calls/c9", qa)
    (span,) = detail["recording_pauses"]
    # answered 2 s after the ring began; paused 8 s into the recording, for 5 s
    assert (span["start_s"], span["end_s"], span["agent_id"]) == (8.0, 13.0, "1001")


async def test_only_the_agent_on_the_call_may_pause_its_recording(desk: Desk) -> None:
    owner, other = await desk.login("1001"), await desk.login("1002")
    await desk.post("/api/agent/state", owner, {"state": "ready"})
    desk.ring("c9", "1001")
    desk.answer("c9", "1001")
    status, body = await desk.post("/api/calls/c9/recording", other, {"paused": True})
    assert (status, body["error"]) == (403, "not_your_call")
    status, body = await desk.post("/api/calls/nope/recording", owner, {"paused": True})
    assert status == 404
    status, _ = await desk.post("/api/calls/c9/recording", owner, {"paused": "yes"})
    assert status == 400
    qa = await desk.login("qa")
    status, _ = await desk.post("/api/calls/c9/recording", qa, {"paused": True})
    assert status == 403
    assert desk.ami.named("MixMonitorMute") == []


async def test_a_refused_pause_stores_no_span(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c9", "1001")
    desk.answer("c9", "1001")
    desk.ami.refuse = "No such channel"
    status, body = await desk.post("/api/calls/c9/recording", token, {"paused": True})
    assert (status, body["error"]) == (502, "pbx_error")
    desk.ami.refuse = None
    desk.hang_up("c9", "1001")
    await desk.hotline.drain()
    qa = await desk.login("qa")
    _, detail = await desk.get("/api/qa/calls/c9", qa)
    assert detail["recording_pauses"] == []


async def test_a_call_that_ends_paused_keeps_the_span_to_its_end(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c9", "1001")
    desk.answer("c9", "1001")
    desk.advance(4)
    await desk.post("/api/calls/c9/recording", token, {"paused": True})
    desk.hang_up("c9", "1001")  # 30 s after "now"
    await desk.hotline.drain()
    qa = await desk.login("qa")
    _, detail = await desk.get("/api/qa/calls/c9", qa)
    (span,) = detail["recording_pauses"]
    assert span["resumed_at"] is None
    assert (span["start_s"], span["end_s"]) == (2.0, 32.0)


async def test_a_call_back_is_paused_on_the_leg_that_carries_its_recording(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c9", "1001")
    desk.answer("c9", "1001")
    # a call-back: the caller's own channel is gone; the conversation is on the
    # legs the CTI originated, recorded on the first one
    desk.hotline.core.calls["c9"].channel = ""
    legs = [
        {"Channel": "PJSIP/trunk-0000002", "Uniqueid": "1796400000.7", "Linkedid": "x"},
        {"Channel": "PJSIP/agent1001-0000001", "Uniqueid": callback_channel_id("c9", "1001")},
    ]

    async def channels(fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return legs

    desk.ami.list_action = channels  # type: ignore[method-assign]
    status, body = await desk.post("/api/calls/c9/recording", token, {"paused": True})
    assert (status, body["paused"]) == (200, True), body
    assert desk.ami.named("MixMonitorMute")[-1]["Channel"] == "PJSIP/agent1001-0000001"
    legs.pop()  # the recorded leg is gone: nothing to unmute
    status, body = await desk.post("/api/calls/c9/recording", token, {"paused": False})
    assert (status, body["error"]) == (409, "no_recording")


async def test_two_pause_requests_at_once_are_one_span(desk: Desk) -> None:
    token = await desk.ready("1001")
    desk.ring("c9", "1001")
    desk.answer("c9", "1001")
    replies = await asyncio.gather(
        *(desk.post("/api/calls/c9/recording", token, {"paused": True}) for _ in range(3))
    )
    assert [r[0] for r in replies] == [200, 200, 200]
    assert len(desk.ami.named("MixMonitorMute")) == 1
    desk.hang_up("c9", "1001")
    await desk.hotline.drain()
    qa = await desk.login("qa")
    _, detail = await desk.get("/api/qa/calls/c9", qa)
    assert len(detail["recording_pauses"]) == 1


# ------------------------------------------------------------------ audit
async def audit_entries(d: Desk, action: str) -> list[dict[str, Any]]:
    supervisor = await d.login("supervisor")
    status, body = await d.get(f"/api/audit?action={action}", supervisor)
    assert status == 200, body
    return list(reversed(body["entries"]))  # oldest first


async def test_every_transcript_view_listen_and_download_is_in_the_audit_log(desk: Desk) -> None:
    folder = desk.hotline.settings.recordings_dir
    write_wav(folder / "c1.wav", seconds=2)
    await add_cdr(desk, "c1", recording_path=str(folder / "c1.wav"))
    await add_transcript(desk, "c1", [{"party": "caller", "start": 0.5, "text": "hello"}])
    token = await desk.login("qa")
    status, _ = await desk.get("/api/qa/calls/c1", token)
    assert status == 200
    (view,) = await audit_entries(desk, "qa.transcript_view")
    assert (view["username"], view["role"], view["target"]) == ("qa", "qa", "c1")
    assert view["detail"] == {"from": "127.0.0.1", "transcript": True}
    assert view["at"] == "2027-01-15T08:00:00+00:00"  # the service's clock
    # a player's ranges are one listen; another playback later is another
    url = "/api/qa/recordings/c1.wav"
    for first in (0, 1000, 3000):
        status, _, _ = await get_raw(desk, url, token, Range=f"bytes={first}-")
        assert status == 206
    desk.advance(601)
    status, _, _ = await get_raw(desk, url, token, Range="bytes=0-")
    listens = await audit_entries(desk, "qa.listen")
    assert [(e["username"], e["target"], e["detail"]["from"]) for e in listens] == [
        ("qa", "c1.wav", "127.0.0.1")
    ] * 2
    status, _, _ = await get_raw(desk, url, token)  # the whole file: a download
    assert status == 200
    (download,) = await audit_entries(desk, "qa.download")
    assert (download["username"], download["target"]) == ("qa", "c1.wav")


async def test_an_agent_refused_the_qa_side_is_in_the_audit_log(desk: Desk) -> None:
    write_wav(desk.hotline.settings.recordings_dir / "c1.wav")
    await add_cdr(desk, "c1")
    agent = await desk.login("1001")
    status, body = await desk.get("/api/qa/calls/c1", agent)
    assert (status, body["error"]) == (403, "forbidden")
    status, _, _ = await get_raw(desk, "/api/qa/recordings/c1.wav", agent)
    assert status == 403
    refused = await audit_entries(desk, "qa.refused")
    assert [(e["username"], e["role"], e["target"], e["detail"]) for e in refused] == [
        ("1001", "agent", "/api/qa/calls/c1", {"from": "127.0.0.1", "method": "GET"}),
        ("1001", "agent", "/api/qa/recordings/c1.wav", {"from": "127.0.0.1", "method": "GET"}),
    ]
    # nothing the agent asked for was served, and no access was logged as done
    assert await audit_entries(desk, "qa.transcript_view") == []
    assert await audit_entries(desk, "qa.download") == []
