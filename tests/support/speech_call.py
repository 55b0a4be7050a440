"""A scripted two-party call through the real Asterisk, for the speech tests.

Each party's lines are espeak-ng speech placed on its own track (faint noise
between lines, so RTP flows all through the call), sent by sipp as A-law RTP
(:mod:`tests.support.rtp_pcap`): the caller dials the hotline, picks English
billing in the IVR and talks; agent 1001's sipp phone answers and talks. The
call is recorded per party by Asterisk and stored; a transcription worker
process then takes the job the CDR writer queued.

The tracks do not start when the recording starts: the agent's starts when its
phone answers, the caller's when the caller is done with the IVR (its lines
are laid out ``CALLER_LEAD_S`` later, so they come after the bridge). Where a
track's start lies in the recording is measured from the recording itself, by
cross-correlating each party's recorded file with the track it was sent
(:func:`offset_in_recording`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from cti.domain.model import AgentState, CallState
from cti.server import Running
from recordings.transcribe.worker import WorkerConfig, start_workers
from tests.support.rtp_pcap import pcap_from_wav
from tests.support.sipp import AgentPhone, start_call
from tests.support.speech import RATE, read, say, seconds, track, write
from tests.support.waiting import wait_until
from tests.support.ws_frames import next_of_type

PARTIES = ("caller", "agent")
#: the caller's lines are sent this much later than laid out in call time: the
#: caller's track starts about 0.5 s before the bridge (after its last key)
CALLER_LEAD_S = 1.5
#: the agent's phone rings this long before it answers
ANSWER_AFTER_S = 0.5


@dataclass(frozen=True, slots=True)
class Line:
    party: str
    text: str
    pause_s: float  # silence before it (after the previous line of either party)
    voice: str


@dataclass(frozen=True, slots=True)
class Placed:
    """A line where it lies on its party's track."""

    party: str
    text: str
    track_start_s: float
    track_end_s: float
    clip: Path


@dataclass
class ScriptedAudio:
    """Each party's track (WAV and pcap) and where its lines lie on it."""

    lines: list[Placed]
    tracks: dict[str, Path]
    pcaps: dict[str, Path]
    seconds: float

    def said(self, party: str) -> list[Placed]:
        return [line for line in self.lines if line.party == party]


def lay_out(
    script: list[Line], folder: Path, *, tail_s: float = 2.0, speed: int = 150
) -> ScriptedAudio:
    """Synthesise ``script`` and lay each party's lines on its track.

    Lines follow each other in call time (0: the bridge). The agent's track
    starts at its answer (about call time 0), the caller's ``CALLER_LEAD_S``
    earlier. Both tracks are as long as the caller's talk time: the agent's
    phone still sends RTP when the caller hangs up.
    """
    shift = {"caller": CALLER_LEAD_S, "agent": 0.0}
    clips: dict[str, list[tuple[float, Path]]] = {party: [] for party in PARTIES}
    placed: list[Placed] = []
    cursor = 0.0
    for index, line in enumerate(script):
        clip = say(line.text, line.voice, folder / f"line{index}.wav", speed=speed)
        cursor += line.pause_s
        start = cursor + shift[line.party]
        clips[line.party].append((start, clip))
        placed.append(Placed(line.party, line.text, start, start + seconds(clip), clip))
        cursor += seconds(clip)
    total = cursor + tail_s + CALLER_LEAD_S
    tracks = {
        party: write(folder / f"{party}-track.wav", [track(clips[party], total)])
        for party in PARTIES
    }
    pcaps = {party: pcap_from_wav(tracks[party], folder / f"{party}.pcap") for party in PARTIES}
    return ScriptedAudio(placed, tracks, pcaps, total)


@dataclass(frozen=True, slots=True)
class Offset:
    """Where a sent track lies in a recorded file."""

    track_s: float  # seconds of the track already sent when the recording began
    correlation: float  # of the recording with the track at that offset (1: identical)

    def in_recording(self, track_time_s: float) -> float:
        return track_time_s - self.track_s


def offset_in_recording(recorded: Path, sent: Path) -> Offset:
    """Cross-correlate a recorded file with the track that was sent (FFT)."""
    rec, rec_rate = read(recorded)
    ref, ref_rate = read(sent)
    assert rec_rate == ref_rate == RATE, (recorded, rec_rate, sent, ref_rate)
    a, b = rec.astype(np.float64), ref.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.conj(np.fft.rfft(a, size)) * np.fft.rfft(b, size), size)
    # corr[k] = sum over n of rec[n] * ref[n + k]; negative k wrap to the end
    lags = np.concatenate([np.arange(0, len(b)), np.arange(-(len(a) - 1), 0)])
    values = np.concatenate([corr[: len(b)], corr[size - (len(a) - 1) :]])
    lag = int(lags[int(np.argmax(values))])
    first = max(0, -lag)
    last = min(len(a), len(b) - lag)
    x, y = a[first:last], b[first + lag : last + lag]
    coefficient = float(np.corrcoef(x, y)[0, 1]) if last - first > RATE else 0.0
    return Offset(lag / RATE, coefficient)


def _slide(haystack: np.ndarray, needle: np.ndarray) -> tuple[int, float]:
    """Where ``needle`` fits best in ``haystack`` (sample index) and how well
    (normalised correlation, 1: the same waveform)."""
    n = len(haystack)
    size = 1 << int(np.ceil(np.log2(n + len(needle))))
    corr = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)
    valid = corr[: n - len(needle) + 1]
    energy = np.concatenate([[0.0], np.cumsum(haystack * haystack)])
    window = energy[len(needle) :] - energy[: n - len(needle) + 1]
    score = valid / np.sqrt(np.maximum(window, 1e-9) * float(np.dot(needle, needle)))
    best = int(np.argmax(score))
    return best, float(score[best])


@dataclass(frozen=True, slots=True)
class Heard:
    """Where a line was found in its party's recorded file and in the mixed file."""

    line: Placed
    start_s: float
    correlation: float  # of the whole line (a packet sent late shifts the rest by 20 ms)
    intact: float  # share of its quarter-seconds of speech found intact (correlation > 0.8)
    mixed_start_s: float


#: pieces of a line checked one by one, and how far each may have moved
PIECE_S, PIECE_SHIFT_S = 0.25, 0.15


def _intact_share(data: np.ndarray, clip: np.ndarray, start: int) -> float:
    """Share of ``clip``'s quarter-seconds of speech found (correlation > 0.8) in
    ``data`` near where the clip starts at ``start``."""
    piece, shift = int(PIECE_S * RATE), int(PIECE_SHIFT_S * RATE)
    scores = []
    for offset in range(0, len(clip) - piece + 1, piece):
        needle = clip[offset : offset + piece]
        if np.sqrt(np.mean(needle**2)) < 300:  # a pause in the line
            continue
        lo = max(0, start + offset - shift)
        hay = data[lo : start + offset + piece + shift].astype(np.float64)
        if len(hay) < piece:
            scores.append(0.0)
            continue
        scores.append(_slide(hay, needle)[1])
    return sum(score > 0.8 for score in scores) / max(1, len(scores))


def locate_line(
    party_file: np.ndarray, mixed_file: np.ndarray, line: Placed, around_s: float
) -> Heard:
    """Find ``line``'s clip within 1.5 s of ``around_s`` in the recorded files."""
    clip = read(line.clip)[0].astype(np.float64)
    first = max(0, int((around_s - 1.5) * RATE))
    found = {}
    for name, data in (("party", party_file), ("mixed", mixed_file)):
        last = min(len(data), int((around_s + 1.5) * RATE) + len(clip))
        assert last - first > len(clip), (line, around_s, len(data) / RATE)
        at, score = _slide(data[first:last].astype(np.float64), clip)
        found[name] = (first + at, score)
    start, score = found["party"]
    intact = _intact_share(party_file, clip, start)
    return Heard(line, start / RATE, score, intact, found["mixed"][0] / RATE)


def _loud_frames(clip: Path) -> list[int]:
    """Sample index of each 10 ms of ``clip`` above -40 dBFS."""
    data = read(clip)[0].astype(np.float64)
    step = RATE // 100
    loud = [
        i
        for i in range(0, len(data) - step + 1, step)
        if np.sqrt(np.mean(data[i : i + step] ** 2)) > 32768 * 10 ** (-40 / 20)
    ]
    assert loud, clip
    return loud


def speech_start_s(clip: Path) -> float:
    """Where the speech in ``clip`` starts (its first 10 ms above -40 dBFS)."""
    return _loud_frames(clip)[0] / RATE


def speech_end_s(clip: Path) -> float:
    """Where the speech in ``clip`` ends (its last 10 ms above -40 dBFS)."""
    return (_loud_frames(clip)[-1] + RATE // 100) / RATE


@dataclass
class RecordedCall:
    call_id: str
    files: dict[str, Path]  # "mixed", "caller", "agent"
    offsets: dict[str, Offset] = field(default_factory=dict)
    heard: list[Heard] = field(default_factory=list)

    def line(self, index: int) -> Heard:
        return self.heard[index]

    def speech(self) -> list[tuple[str, float, float]]:
        """(party, start, end) of the speech of each line, in the recording."""
        return [
            (
                h.line.party,
                h.start_s + speech_start_s(h.line.clip),
                h.start_s + speech_end_s(h.line.clip),
            )
            for h in self.heard
        ]


async def _login(http: aiohttp.ClientSession, base: str, user: str, password: str) -> str:
    async with http.post(f"{base}/api/login", json={"username": user, "password": password}) as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["token"])


class Frames:
    """Reads a WebSocket in the background (answering the server's pings) and keeps
    the frames of one type; ``async with Frames(ws, kind) as frames``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, kind: str) -> None:
        self.ws, self.kind = ws, kind
        self.frames: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Frames:
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                data = msg.json()
                if data["type"] == self.kind:
                    self.frames.append(data["data"])
                    self._new.set()

    async def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], within: float) -> None:
        """Wait until ``done(frames)`` holds."""
        async with asyncio.timeout(within):
            while not done(self.frames):
                assert self._task is not None and not self._task.done(), "WebSocket closed"
                self._new.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._new.wait()


async def place_scripted_call(
    running: Running, audio: ScriptedAudio, agent_password: str
) -> RecordedCall:
    """Agent 1001 ready with its sipp phone; the caller dials, picks English billing
    (1, 1) and talks its track; returns once the CDR with the recording is stored."""
    base = running.web_url
    core = running.hotline.core
    async with aiohttp.ClientSession() as http:
        token = await _login(http, base, "1001", agent_password)
        headers = {"Authorization": f"Bearer {token}"}
        async with http.ws_connect(f"{base}/ws", headers=headers) as ws:
            await next_of_type(ws, "hello", 5)
            async with http.post(
                f"{base}/api/agent/state", json={"state": "ready"}, headers=headers
            ) as r:
                assert r.status == 200, await r.text()
            await wait_until(
                lambda: (
                    core.queues["billing"].members.get("1001") is not None
                    and not core.queues["billing"].members["1001"].paused
                ),
                within=10,
                what="Asterisk to report agent 1001 unpaused in billing",
            )
            async with AgentPhone(
                port=51001, answer_after_s=ANSWER_AFTER_S, audio=audio.pcaps["agent"]
            ):
                call = await start_call(
                    running.settings.sip_port,
                    caller_number="13800138000",
                    dtmf="11",  # English, then billing
                    dtmf_gap_s=1.0,
                    talk_s=audio.seconds,
                    audio=audio.pcaps["caller"],
                )
                async with call:
                    pop = await next_of_type(ws, "screen.pop", 30)
                    call_id = str(pop["call_id"])
                    await wait_until(
                        lambda: (
                            call_id in core.calls and core.calls[call_id].state is CallState.TALKING
                        ),
                        within=30,
                        what="agent 1001 to answer",
                    )
                    result = await call.wait(audio.seconds + 30)
                assert result.answered and result.completed, result.describe()
                await wait_until(
                    lambda: (
                        call_id not in core.calls and core.agents["1001"].state is AgentState.READY
                    ),
                    within=20,
                    what="the call to end",
                )
    await running.hotline.drain()
    cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None and cdr.recording_path, cdr
    mixed = Path(cdr.recording_path)
    files = {
        "mixed": mixed,
        "caller": mixed.with_name(f"{mixed.stem}-caller.wav"),
        "agent": mixed.with_name(f"{mixed.stem}-agent.wav"),
    }
    for path in files.values():
        assert path.is_file(), path
    recorded = RecordedCall(call_id, files)
    for party in PARTIES:
        recorded.offsets[party] = offset_in_recording(files[party], audio.tracks[party])
    mixed_data = read(files["mixed"])[0]
    party_data = {party: read(files[party])[0] for party in PARTIES}
    for line in audio.lines:
        around = recorded.offsets[line.party].in_recording(line.track_start_s)
        recorded.heard.append(locate_line(party_data[line.party], mixed_data, line, around))
    return recorded


async def run_one_worker(config: WorkerConfig, within: float) -> None:
    """A real worker process (spawned, as ``hotline transcribe`` starts them) that
    works off the queue and exits when it is empty."""
    (process,) = start_workers(config, 1)
    try:
        await asyncio.to_thread(process.join, within)
        assert process.exitcode == 0, f"worker exit code {process.exitcode} after {within} s"
    finally:
        if process.is_alive():
            process.kill()
            process.join(5)


def recorded_seconds(path: Path) -> float:
    data, rate = read(path)
    return len(data) / rate
