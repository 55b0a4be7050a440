"""Recording per party and the agent's recording pause, on a real call.

A sipp caller talks all through the call (g711a.pcap, repeated); the agent's
phone plays the same capture once after answering (about 7 s). Early in the
call the agent pauses the recording through the API for about 3 s: that
span is silence in the mixed file and in each party's file (measured with
sox), the audio before and after it is kept, and the span is stored against
the call.

Measured here: Asterisk's MixMonitor writes nothing more once one party
sends no RTP at all (the agent's sipp after its 7 s capture; a real phone
keeps sending packets, silence included), so every check lies within the
agent's capture.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import aiohttp
import pytest

from cti.domain.model import AgentState, CallState
from tests.support.agent_client import login, next_of_type, set_state
from tests.support.sipp import AgentPhone, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk

SILENT_DB = -60.0  # RMS below this is silence (paused spans are digital zeros)
SPEECH_DB = -45.0  # RMS above this is the capture's audio


def rms_db(path: Path, start_s: float, end_s: float) -> float:
    """RMS level (dB) of ``path`` from ``start_s`` to ``end_s``, from ``sox ... stats``."""
    result = subprocess.run(
        ["sox", str(path), "-n", "trim", f"{start_s:.2f}", f"={end_s:.2f}", "stats"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    match = re.search(r"^RMS lev dB\s+(\S+)", result.stderr, re.M)
    assert match, result.stderr
    value = match.group(1)
    return float("-inf") if value == "-inf" else float(value)


def profile(path: Path, step_s: float = 1.0) -> list[str]:
    """RMS level of each second of ``path`` (for failure messages)."""
    levels = []
    start = 0.0
    while start + step_s <= duration_s(path):
        levels.append(f"{start:.0f}s:{rms_db(path, start, start + step_s):.0f}")
        start += step_s
    return levels


def duration_s(path: Path) -> float:
    out = subprocess.run(
        ["soxi", "-D", str(path)], capture_output=True, text=True, check=True, timeout=30
    )
    return float(out.stdout.strip())


async def post(
    http: aiohttp.ClientSession, url: str, token: str, body: dict[str, object]
) -> tuple[int, dict[str, object]]:
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json()


async def test_a_paused_span_is_silent_in_every_party_file_and_stored_on_the_call(
    hotline, demo_password
) -> None:
    running = hotline
    base = running.web_url
    core = running.hotline.core
    async with aiohttp.ClientSession() as http:
        token = await login(http, base, "1001", demo_password)
        other = await login(http, base, "1002", demo_password)
        async with http.ws_connect(
            f"{base}/ws", headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            await next_of_type(ws, "hello", 5)
            await set_state(http, base, token, state="ready")
            await wait_until(
                lambda: (
                    core.queues["billing"].members.get("1001") is not None
                    and not core.queues["billing"].members["1001"].paused
                ),
                within=10,
                what="Asterisk to report agent 1001 unpaused in billing",
            )
            async with AgentPhone(port=51001, answer_after_s=0.5):
                call = await start_call(
                    running.settings.sip_port,
                    caller_number="13800138000",
                    dtmf="11",  # English, then billing
                    dtmf_gap_s=1.0,
                    talk_s=12,
                )
                pop = await next_of_type(ws, "screen.pop", 30)
                call_id = pop["call_id"]
                await wait_until(
                    lambda: (
                        call_id in core.calls and core.calls[call_id].state is CallState.TALKING
                    ),
                    within=30,
                    what="agent 1001 to answer",
                )
                url = f"{base}/api/calls/{call_id}/recording"
                await asyncio.sleep(1.5)  # talk a while before the card details
                # only the agent on the call may pause it
                status, body = await post(http, url, other, {"paused": True})
                assert (status, body["error"]) == (403, "not_your_call")
                status, body = await post(http, url, token, {"paused": True})
                assert (status, body["paused"]) == (200, True), body
                await asyncio.sleep(3.0)  # the card details, not recorded
                status, body = await post(http, url, token, {"paused": False})
                assert (status, body["paused"]) == (200, False), body
                result = await call.wait(60)
                assert result.answered, result
                await wait_until(
                    lambda: (
                        call_id not in core.calls and core.agents["1001"].state is AgentState.READY
                    ),
                    within=20,
                    what="the call to end",
                )
    await running.hotline.drain()
    cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None and cdr.recording_path is not None
    mixed = Path(cdr.recording_path)
    caller = mixed.with_name(f"{mixed.stem}-caller.wav")
    agent = mixed.with_name(f"{mixed.stem}-agent.wav")

    # the spans are on the call, as the QA API shows them
    async with aiohttp.ClientSession() as http:
        qa = await login(http, base, "qa", demo_password)
        async with http.get(
            f"{base}/api/qa/calls/{call_id}", headers={"Authorization": f"Bearer {qa}"}
        ) as r:
            assert r.status == 200
            detail = await r.json()
    (span,) = detail["recording_pauses"]
    assert span["agent_id"] == "1001"
    assert 1.0 <= span["start_s"] <= 3.0, span
    assert 2.5 <= span["end_s"] - span["start_s"] <= 4.0, span
    assert set(detail["audio"]) == {"mixed", "caller", "agent"}

    # the three files start together and are as long as each other
    files = (mixed, caller, agent)
    for path in files:
        assert path.is_file(), path
    shape = {p.name: (duration_s(p), profile(p)) for p in files} | {"span": span}
    lengths = [duration_s(p) for p in files]
    assert max(lengths) - min(lengths) < 0.1, shape
    assert min(lengths) > span["end_s"] + 2.0, shape
    # margins of 0.4-0.5 s allow for the moment the bridge (and the recording) began
    for path in files:
        paused = rms_db(path, span["start_s"] + 0.5, span["end_s"] - 0.5)
        assert paused < SILENT_DB, (path.name, "paused span", paused, shape)
        before = rms_db(path, 0.6, span["start_s"] - 0.3)
        assert before > SPEECH_DB, (path.name, "before the pause", before, shape)
        after = rms_db(path, span["end_s"] + 0.4, span["end_s"] + 2.0)
        assert after > SPEECH_DB, (path.name, "after the pause", after, shape)
