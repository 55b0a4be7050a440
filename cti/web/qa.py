"""QA web: the QA page and its API, and the agent's recording pause.

Routes (all need a session; roles per route):

- ``POST /api/calls/{call_id}/recording`` (agent on that call)
  ``{"paused": bool}``: pause / resume the call's recording; ``GET``: is it paused.
- ``GET /qa``: the QA page. ``GET /api/qa/scorecard``: the scorecard.
- ``GET /api/qa/calls``: search (``since``, ``until`` ISO dates or times,
  ``agent``, ``queue``, ``tag``, ``caller``, ``text`` (full text,
  ``cti.qa.words``), ``disposition``, ``survey_min``/``survey_max``,
  ``has_recording``, ``training`` true/false, ``sample=true`` with ``week``,
  ``limit``); each call with its agent's average score and hold mark.
- ``GET /api/qa/sample``, ``POST /api/qa/calls/{call_id}/hold``: see
  ``cti/web/qa_spotcheck.py``.
- ``GET /api/qa/calls/{call_id}``: CDR, IVR path, paused spans, transcript
  turns, tags with time spans, scores, training mark, audio URLs.
- ``GET /api/qa/recordings/{name}``: a recording file (``<name>.wav`` or
  ``voicemail/<name>.wav``) inside the recordings folder, with HTTP Range.
- ``POST /api/qa/calls/{call_id}/scores``: ``{"answers": {...}, "comments": ""}``.
- ``POST /api/qa/calls/{call_id}/training``: ``{"training": bool, "note": ""}``.

QA, supervisors and admins may use the QA routes; agents get 403. Each
transcript view, listen and download, and each refusal, is written to the
audit log first (docs/qa.md, "Access audit").
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from cti.db.models import CallRecord, QaScore
from cti.domain.call_control import CallActionRefused
from cti.qa.sample import BadWeek, Week, parse_week, week_of
from cti.qa.scorecard import ScoreRejected, score_call
from cti.qa.store import HOLD_TAG, CallDetail, CallFilter, ts
from cti.qa.words import MAX_QUERY_CHARS, BadQuery, query_terms
from cti.service.qa import DOWNLOAD, REFUSED, TRANSCRIPT_VIEW
from cti.web.app import (
    DESK,
    QA,
    SESSION,
    STATIC,
    Handler,
    _json_body,
    current_session,
    error,
    refused,
    require,
)
from recordings.catalogue import VOICEMAIL_FOLDER
from recordings.transcribe.sources import PARTY_SUFFIXES, party_file

QA_ROLES = ("qa", "supervisor", "admin")

#: A recording name: one plain file name, or one inside the voicemail folder.
_NAME = re.compile(r"(?:voicemail/)?[A-Za-z0-9][A-Za-z0-9._~-]{0,127}\.wav")
_MAX_LIMIT = 200


def qa_access(handler: Handler) -> Handler:
    """QA roles only; a refusal (an agent trying) is written to the audit log."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        session = current_session(request)
        if session.role not in QA_ROLES:
            await request.app[QA].audit_access(
                session.username,
                session.role,
                REFUSED,
                request.path[:128],
                request.remote,
                {"method": request.method},
            )
            raise error(403, "forbidden", f"role {session.role!r} may not do this")
        request[SESSION] = session
        return await handler(request)

    return guarded


# ------------------------------------------------------------------ agent
@require("agent")
async def recording_pause(request: web.Request) -> web.Response:
    body = await _json_body(request)
    paused = body.get("paused")
    if not isinstance(paused, bool):
        raise error(400, "bad_request", 'send {"paused": true} or {"paused": false}')
    call_id = request.match_info["call_id"]
    try:
        state = await request.app[DESK].set_recording_paused(
            request[SESSION].username, call_id, paused
        )
    except CallActionRefused as exc:
        raise refused(exc) from exc
    return web.json_response({"ok": True, "call_id": call_id, "paused": state})


@require("agent")
async def recording_state(request: web.Request) -> web.Response:
    """Whether the call's recording is paused (the agent page asks after a reload)."""
    call_id = request.match_info["call_id"]
    try:
        paused = request.app[DESK].recording_paused(request[SESSION].username, call_id)
    except CallActionRefused as exc:
        raise refused(exc) from exc
    return web.json_response({"call_id": call_id, "paused": paused})


# ------------------------------------------------------------------ QA
async def qa_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "qa.html")


@qa_access
async def scorecard(request: web.Request) -> web.Response:
    return web.json_response(request.app[QA].scorecard.model_dump())


def _when(value: str, name: str, end: bool) -> datetime:
    """An ISO date (a whole day; ``end``: the day after) or date-time (UTC if naive)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise error(400, "bad_request", f"{name}: not an ISO date or time: {value[:40]!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _flag(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise error(400, "bad_request", f"{name} must be true or false")


def _text(query: Any, name: str, longest: int = 128) -> str | None:
    value = query.get(name)
    if value is None or value.strip() == "":
        return None
    if len(value) > longest:
        raise error(400, "bad_request", f"{name}: at most {longest} characters")
    return str(value.strip())


def call_filter(query: Any) -> CallFilter:
    since = _text(query, "since", 40)
    until = _text(query, "until", 40)
    limit_text = _text(query, "limit", 5) or "50"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= _MAX_LIMIT:
        raise error(400, "bad_request", f"limit must be 1-{_MAX_LIMIT}")
    return CallFilter(
        since=_when(since, "since", end=False) if since else None,
        until=_when(until, "until", end=True) if until else None,
        agent_id=_text(query, "agent", 64),
        queue=_text(query, "queue", 64),
        tag=_text(query, "tag", 64),
        caller_number=_text(query, "caller", 64),
        text=_search_text(query),
        has_recording=_flag(query.get("has_recording"), "has_recording"),
        training=_flag(query.get("training"), "training"),
        disposition=_text(query, "disposition", 64),
        survey_min=_survey(query, "survey_min"),
        survey_max=_survey(query, "survey_max"),
        limit=int(limit_text),
    )


def week_param(value: str | None, now: float) -> Week:
    """``week`` (``2026-W49``), or the week ``now`` is in."""
    if value is None or value == "":
        return week_of(ts(now))
    try:
        return parse_week(value)
    except BadWeek as exc:
        raise error(400, "bad_request", f"week: {exc}") from exc


def _search_text(query: Any) -> str | None:
    """The words to search the transcripts for; 400 when there are none to search."""
    value = _text(query, "text", MAX_QUERY_CHARS)
    if value is not None:
        try:
            query_terms(value)
        except BadQuery as exc:
            raise error(400, "bad_text", f"text: {exc}") from exc
    return value


def _survey(query: Any, name: str) -> int | None:
    value = _text(query, name, 2)
    if value is None:
        return None
    if value not in ("1", "2", "3", "4", "5"):
        raise error(400, "bad_request", f"{name} must be 1-5")
    return int(value)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def cdr_json(cdr: CallRecord) -> dict[str, Any]:
    return {
        "call_id": cdr.call_id,
        "caller_number": cdr.caller_number,
        "caller_name": cdr.caller_name,
        "ivr_path": cdr.ivr_path,
        "queue": cdr.queue,
        "agent_id": cdr.agent_id,
        "entered_at": _iso(cdr.entered_at),
        "answered_at": _iso(cdr.answered_at),
        "ended_at": _iso(cdr.ended_at),
        "wait_s": round(cdr.wait_s, 1),
        "talk_s": round(cdr.talk_s, 1),
        "disposition": cdr.disposition,
        "agent_disposition": cdr.agent_disposition,
        "agent_notes": cdr.agent_notes,
        "verified": cdr.verified,
        "survey_score": cdr.survey_score,
        "nps_score": cdr.nps_score,  # the survey's 0-10 question (None: not answered)
        "callback_outcome": cdr.callback_outcome,
        "has_recording": bool(cdr.recording_path or cdr.voicemail_path),
    }


@qa_access
async def search_calls(request: web.Request) -> web.Response:
    qa = request.app[QA]
    store = qa.store
    found = call_filter(request.query)
    if _flag(request.query.get("sample"), "sample"):
        week = week_param(request.query.get("week"), qa.now())
        sampled = await qa.sample(week)
        found = replace(found, only=frozenset(c for ids in sampled.values() for c in ids))
    rows = await store.search(found)
    ids = [r.call_id for r in rows]
    averages = await store.agent_averages({r.agent_id for r in rows if r.agent_id})
    scores = await store.call_scores(ids)
    training = await store.training_ids(ids)
    held = await store.held_ids(ids)
    calls = []
    for row in rows:
        avg = averages.get(row.agent_id or "")
        calls.append(
            cdr_json(row)
            | {
                "score": scores.get(row.call_id),
                "training": row.call_id in training,
                "hold": row.call_id in held,
                "agent_avg_score": round(avg[0], 1) if avg else None,
                "agent_scored_calls": avg[1] if avg else 0,
            }
        )
    return web.json_response({"calls": calls})


def _recording_name(recordings: Path, stored: str | None) -> str | None:
    """The name a stored recording path is served under, if it is inside the folder."""
    if not stored:
        return None
    path = Path(stored)
    try:
        relative = path.resolve().relative_to(recordings.resolve())
    except (ValueError, OSError):
        return None
    name = relative.as_posix()
    return name if _NAME.fullmatch(name) else None


def audio_json(recordings: Path, cdr: CallRecord) -> dict[str, str]:
    """URLs of the call's audio that exist: mixed, per party, voicemail."""
    urls: dict[str, str] = {}
    if cdr.recording_path:
        mixed = Path(cdr.recording_path)
        files = {"mixed": mixed} | {p: party_file(mixed, p) for p in PARTY_SUFFIXES}
        for party, path in files.items():
            name = _recording_name(recordings, str(path))
            if name and path.is_file():
                urls[party] = f"/api/qa/recordings/{name}"
    if cdr.voicemail_path:
        name = _recording_name(recordings, cdr.voicemail_path)
        if name and Path(cdr.voicemail_path).is_file():
            urls["voicemail"] = f"/api/qa/recordings/{name}"
    return urls


def detail_json(recordings: Path, detail: CallDetail, now: float) -> dict[str, Any]:
    cdr = detail.cdr
    start = _epoch(cdr.answered_at) or _epoch(cdr.entered_at) or 0.0
    end = _epoch(cdr.ended_at) or now
    pauses = []
    for span in detail.pauses:
        paused, resumed = _epoch(span.paused_at) or start, _epoch(span.resumed_at)
        pauses.append(
            {
                "agent_id": span.agent_id,
                "paused_at": _iso(span.paused_at),
                "resumed_at": _iso(span.resumed_at),
                # offsets into the recording, which starts when the call is answered
                "start_s": round(max(0.0, paused - start), 2),
                "end_s": round(max(0.0, (resumed if resumed is not None else end) - start), 2),
            }
        )
    return {
        "call": cdr_json(cdr),
        "ivr_steps": [s for s in cdr.ivr_path.split("|") if s] if cdr.ivr_path else [],
        "recording_pauses": pauses,
        "transcript": [_jsonable(t) for t in detail.transcript],
        "transcript_language": detail.language,
        "transcript_engine": detail.engine,
        "tags": [_jsonable(t) for t in detail.tags],
        "hold": any(t["tag"] == HOLD_TAG for t in detail.tags),
        "scores": [score_json(s) for s in detail.scores],
        "training": (
            {
                "marked_by": detail.training.marked_by,
                "marked_at": _iso(detail.training.marked_at),
                "note": detail.training.note,
            }
            if detail.training
            else None
        ),
        "audio": audio_json(recordings, cdr),
    }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = _iso(value)
        elif isinstance(value, str | int | float | bool | list | dict) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


def score_json(score: QaScore) -> dict[str, Any]:
    try:
        answers = json.loads(score.answers)
    except json.JSONDecodeError:
        answers = {}
    return {
        "id": score.id,
        "scorer": score.scorer,
        "scored_at": _iso(score.scored_at),
        "scorecard": score.scorecard,
        "total": score.total,
        "critical_failed": score.critical_failed,
        "answers": answers,
        "comments": score.comments,
    }


@qa_access
async def call_detail(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    qa = request.app[QA]
    detail = await qa.store.detail(call_id)
    if detail is None:
        raise error(404, "no_such_call", f"no call {call_id[:64]!r}")
    session = request[SESSION]
    await qa.audit_access(
        session.username,
        session.role,
        TRANSCRIPT_VIEW,
        call_id,
        request.remote,
        {"transcript": bool(detail.transcript)},
    )
    return web.json_response(detail_json(qa.recordings_dir, detail, qa.now()))


def resolve_recording(recordings: Path, name: str) -> Path:
    """The file ``name`` names inside ``recordings``; HTTP 400/404 otherwise.

    Only ``<file>.wav`` or ``voicemail/<file>.wav``: no other folders, no
    ``..``, no absolute paths, no backslashes or encoded separators, and no
    symbolic link that leads out of the recordings folder.
    """
    if not _NAME.fullmatch(name) or ".." in name:
        raise error(400, "bad_path", "not a recording name")
    root = recordings.resolve()
    try:
        path = (root / name).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise error(404, "no_such_recording", "no such recording") from exc
    allowed = (root, (root / VOICEMAIL_FOLDER).resolve())
    if path.parent not in allowed or not path.is_file():
        raise error(404, "no_such_recording", "no such recording")
    return path


@qa_access
async def recording_file(request: web.Request) -> web.FileResponse:
    # the raw path: aiohttp decodes %2F into "/" in match_info, which must not pass
    raw = request.raw_path.split("?", 1)[0].removeprefix("/api/qa/recordings/")
    if "%" in raw:
        raise error(400, "bad_path", "encoded characters are not allowed in recording names")
    qa = request.app[QA]
    name = request.match_info["name"]
    path = resolve_recording(qa.recordings_dir, name)
    # written before a byte is sent: a player's Range requests are one listen,
    # a request for the whole file is a download
    session = request[SESSION]
    if "Range" in request.headers:
        await qa.audit_listen(session.username, session.role, name, request.remote)
    else:
        await qa.audit_access(session.username, session.role, DOWNLOAD, name, request.remote)
    response = web.FileResponse(path, headers={"Cache-Control": "private, no-store"})
    response.content_type = "audio/wav"
    return response


@qa_access
async def save_score(request: web.Request) -> web.Response:
    body = await _json_body(request)
    call_id = request.match_info["call_id"]
    comments = body.get("comments", "")
    if not isinstance(comments, str) or len(comments) > 4000:
        raise error(400, "bad_request", "comments must be a string of at most 4000 characters")
    qa = request.app[QA]
    card = qa.scorecard
    try:
        score = score_call(card, body.get("answers"))
    except ScoreRejected as exc:
        raise error(400, "bad_score", str(exc)) from exc
    detail = await qa.store.detail(call_id)
    if detail is None:
        raise error(404, "no_such_call", f"no call {call_id[:64]!r}")
    row = await qa.store.save_score(
        QaScore(
            call_id=call_id,
            agent_id=detail.cdr.agent_id,
            scorer=request[SESSION].username,
            scored_at=ts(qa.now()),
            scorecard=f"{card.name}@{card.version}",
            total=score.total,
            critical_failed=score.critical_failed,
            answers=json.dumps(score.answers),
            comments=comments,
        )
    )
    return web.json_response({"ok": True, "score": score_json(row)})


@qa_access
async def mark_training(request: web.Request) -> web.Response:
    body = await _json_body(request)
    call_id = request.match_info["call_id"]
    on, note = body.get("training"), body.get("note", "")
    if not isinstance(on, bool):
        raise error(400, "bad_request", 'send {"training": true} or {"training": false}')
    if not isinstance(note, str) or len(note) > 1000:
        raise error(400, "bad_request", "note must be a string of at most 1000 characters")
    qa = request.app[QA]
    if await qa.store.detail(call_id) is None:
        raise error(404, "no_such_call", f"no call {call_id[:64]!r}")
    await qa.store.set_training(call_id, request[SESSION].username, qa.now(), note, on)
    return web.json_response({"ok": True, "call_id": call_id, "training": on})


def setup(app: web.Application) -> None:
    """Register the QA page, its API and the agent's recording pause on ``app``."""
    app.router.add_post("/api/calls/{call_id}/recording", recording_pause)
    app.router.add_get("/api/calls/{call_id}/recording", recording_state)
    app.router.add_get("/qa", qa_page)
    app.router.add_get("/api/qa/scorecard", scorecard)
    app.router.add_get("/api/qa/calls", search_calls)
    app.router.add_get("/api/qa/calls/{call_id}", call_detail)
    app.router.add_post("/api/qa/calls/{call_id}/scores", save_score)
    app.router.add_post("/api/qa/calls/{call_id}/training", mark_training)
    app.router.add_get("/api/qa/recordings/{name:.+}", recording_file)
    from cti.web import qa_spotcheck  # its routes use this module's guard

    qa_spotcheck.setup(app)
