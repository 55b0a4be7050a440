"""The QA page in headless Chromium (Python playwright), on the whole hotline
process started against the test Asterisk.

A call is in the database as the call path and the transcription side leave
it: its CDR, per-party recordings (known speech made with espeak-ng and
sox), transcript turns with word times and tags with time spans. A QA user
logs in, searches by tag, opens the call, sees the IVR path, transcript and
tags, plays the recording (served by range requests; the current word
follows the audio), clicks a tag to seek there, saves a score and marks the
call for training. An agent is refused. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Request, async_playwright, expect

from cti.db.models import CallRecord, CallTag, QaScore, TrainingCall, Transcript
from cti.server import Running
from ivr.prompts import render
from tests.browser.page import ARTIFACTS, chromium_path

pytestmark = pytest.mark.asterisk

CALL_ID = "1764800000.42"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
AGENT_LINES = ("Thank you for calling billing, my name is Anna.", 0.3)
CALLER_LINES = ("I want to cancel my contract. Let me speak to your manager.", 4.0)


def speak(text: str, out: Path) -> float:
    """espeak-ng speech as 8 kHz mono 16-bit WAV (as IVR prompts are made); its length."""
    render(text, "en-us", out)
    length = subprocess.run(
        ["soxi", "-D", str(out)], capture_output=True, text=True, check=True, timeout=30
    )
    return float(length.stdout)


def party_track(text: str, start: float, total: float, out: Path, tmp: Path) -> dict[str, Any]:
    """One party's file: silence, the line at ``start``, silence to ``total`` s; its turn."""
    line = tmp / f"{out.stem}-line.wav"
    length = speak(text, line)
    after = max(0.0, total - start - length)
    subprocess.run(
        ["sox", "-D", str(line), str(out), "pad", f"{start}", f"{after}"], check=True, timeout=30
    )
    words = text.split()
    step = length / len(words)
    return {
        "party": "agent" if out.stem.endswith("agent") else "caller",
        "start": start,
        "end": round(start + length, 2),
        "text": text,
        "words": [
            {"w": w, "start": round(start + i * step, 2), "end": round(start + (i + 1) * step, 2)}
            for i, w in enumerate(words)
        ],
    }


def make_call_audio(folder: Path, tmp: Path, total: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each party's file and the mixed one; the two turns with their word times."""
    agent_turn = party_track(*AGENT_LINES, total, folder / f"{CALL_ID}-agent.wav", tmp)
    caller_turn = party_track(*CALLER_LINES, total, folder / f"{CALL_ID}-caller.wav", tmp)
    subprocess.run(
        [
            "sox",
            "-D",
            "-m",
            str(folder / f"{CALL_ID}-caller.wav"),
            str(folder / f"{CALL_ID}-agent.wav"),
            str(folder / f"{CALL_ID}.wav"),
        ],
        check=True,
        timeout=30,
    )
    return agent_turn, caller_turn


@pytest.fixture
async def qa_call(hotline: Running, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The call in the database and the recordings folder, as the pipeline leaves it."""
    folder = hotline.settings.recordings_dir
    folder.mkdir(parents=True, exist_ok=True)
    total = 12.0
    mixed = folder / f"{CALL_ID}.wav"
    agent_turn, caller_turn = await asyncio.to_thread(make_call_audio, folder, tmp_path, total)
    cancel = next(w for w in caller_turn["words"] if w["w"] == "cancel")
    manager = next(w for w in caller_turn["words"] if w["w"].startswith("manager"))
    at = datetime.now(UTC).replace(microsecond=0)
    async with hotline.hotline.repository.sessions.begin() as session:
        session.add(
            CallRecord(
                call_id=CALL_ID,
                caller_number="13800138000",
                caller_name="张伟",
                ivr_path="lang=en|menu=1|verified",
                queue="billing",
                agent_id="1001",
                entered_at=at,
                answered_at=at,
                ended_at=at,
                wait_s=12.0,
                talk_s=total,
                disposition="answered",
                recording_path=str(mixed),
            )
        )
        session.add(
            Transcript(
                call_id=CALL_ID,
                engine="whisper",
                language="en",
                created_at=at,
                duration_s=total,
                turns=[agent_turn, caller_turn],
                analytics={},
                text=f"{agent_turn['text']}\n{caller_turn['text']}",
            )
        )
        for tag, word in (("cancel", cancel), ("supervisor_request", manager)):
            session.add(
                CallTag(
                    call_id=CALL_ID,
                    tag=tag,
                    start_s=word["start"],
                    end_s=word["end"],
                    detail={},
                    created_at=at,
                )
            )
    yield {"cancel": cancel, "caller_turn": caller_turn}


async def until(page: Page, predicate: str, within: float = 10, arg: Any = None) -> None:
    """Poll a JavaScript predicate (a function source) in the page until it is true.

    Not ``page.wait_for_function``: that evaluates a string inside the page,
    which the page's Content-Security-Policy (no 'unsafe-eval') refuses.
    """
    async with asyncio.timeout(within):
        while True:
            if await page.evaluate(predicate, arg):
                return
            await asyncio.sleep(0.1)


async def log_in(page: Page, base: str, user: str, password: str) -> None:
    await page.goto(f"{base}/qa")
    await page.fill("#username", user)
    await page.fill("#password", password)
    await page.click("#login-submit")


async def test_qa_user_finds_plays_and_scores_a_call_and_an_agent_is_refused(
    hotline: Running, qa_call: dict[str, Any], demo_password: str
) -> None:
    base = hotline.web_url
    ARTIFACTS.mkdir(exist_ok=True)
    served: list[tuple[str, int, str]] = []  # (url, status, Range asked)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            # an agent may not use the QA page
            page = await browser.new_page()
            await log_in(page, base, "1001", demo_password)
            await expect(page.locator("#login-error")).to_have_text(
                "You may not use the QA page.", timeout=10_000
            )
            assert await page.locator("#qa-view").is_hidden()
            status = await page.evaluate(
                "fetch('/api/qa/calls', {credentials: 'same-origin'}).then(r => r.status)"
            )
            assert status == 403
            await page.close()

            page = await browser.new_page(viewport={"width": 1280, "height": 1400})

            async def on_response(response: Any) -> None:
                request: Request = response.request
                if "/api/qa/recordings/" in request.url:
                    range_header = await request.header_value("range") or ""
                    served.append((request.url, response.status, range_header))

            page.on("response", on_response)
            await log_in(page, base, "qa", demo_password)
            await expect(page.locator("#qa-view")).to_be_visible(timeout=10_000)

            # search by tag: the one call
            await page.fill("#f-tag", "cancel")
            await page.click("#btn-search")
            rows = page.locator("#results tbody tr")
            await expect(rows).to_have_count(1, timeout=10_000)
            await expect(rows.first).to_contain_text("13800138000")
            await page.fill("#f-tag", "no-such-tag")
            await page.click("#btn-search")
            await expect(page.locator("#results-empty")).to_be_visible()
            await page.fill("#f-tag", "")
            await page.fill("#f-text", "speak to your manager")
            await page.click("#btn-search")
            await expect(rows).to_have_count(1)
            await rows.first.click()

            # the call: IVR path, tags, transcript
            await expect(page.locator("#detail")).to_be_visible()
            await expect(page.locator("#d-ivr li")).to_have_count(3)
            await expect(page.locator("#d-tags button")).to_have_count(2)
            await expect(page.locator("#d-tags")).to_contain_text("supervisor_request")
            turns = page.locator("#d-transcript li")
            await expect(turns).to_have_count(2)
            await expect(turns.nth(1)).to_contain_text("I want to cancel my contract")

            # play: the recording is served by range requests and time moves on
            await page.evaluate("document.getElementById('player').play()")
            await until(page, "() => document.getElementById('player').currentTime > 1.0", 15)
            assert any(status == 206 and rng.startswith("bytes=") for _, status, rng in served), (
                served
            )
            # the highlighted word follows the audio
            await until(page, "() => document.querySelector('#d-transcript .w.current') !== null")
            first_word = await page.locator("#d-transcript .w.current").text_content()
            await until(
                page,
                "(w) => { const c = document.querySelector('#d-transcript .w.current');"
                " return c !== null && c.textContent !== w; }",
                arg=first_word,
            )
            await page.screenshot(path=str(ARTIFACTS / "qa-page-playing.png"), full_page=True)

            # a click on the tag seeks to where "cancel" was said
            await page.evaluate(
                "(() => { const p = document.getElementById('player'); p.pause();"
                " p.currentTime = 11; })()"
            )
            await until(page, "() => document.getElementById('player').currentTime > 10")
            await page.locator("#d-tags button", has_text="cancel").click()
            cancel_at = qa_call["cancel"]["start"]
            await until(
                page,
                "(at) => { const t = document.getElementById('player').currentTime;"
                " return t >= at - 0.2 && t < at + 1.5; }",
                arg=cancel_at,
                within=5,
            )

            # score the call and mark it for training
            for criterion in (
                "greeting",
                "identity_before_account",
                "no_promises_outside_policy",
                "accurate_answer",
            ):
                await page.check(f"#s-criteria input[name='{criterion}'][value='pass']")
            await page.check("#s-criteria input[name='closing'][value='fail']")
            await page.fill("#s-comments", "没有结束语 / no closing")
            await page.click("#btn-score")
            await expect(page.locator("#s-status")).to_have_text("Score saved: 85", timeout=10_000)
            await expect(page.locator("#d-scores tbody tr")).to_have_count(1)
            await expect(page.locator("#results tbody tr .agent-avg")).to_contain_text("85")
            await page.check("#t-on")
            await page.fill("#t-note", "good cancel handling")
            await page.click("#btn-training")
            await expect(page.locator("#t-status")).to_have_text("Saved.")

            # the page in Chinese
            await page.select_option("#lang", "zh")
            await expect(page.locator("#search h2")).to_have_text("搜索通话")
            await expect(page.locator("#s-status")).to_have_text("评分已保存：85")
            await page.screenshot(path=str(ARTIFACTS / "qa-page-scored-zh.png"), full_page=True)
        finally:
            await browser.close()

    async with hotline.hotline.repository.sessions() as session:
        score = (await session.execute(QaScore.__table__.select())).mappings().one()
        training = await session.get(TrainingCall, CALL_ID)
    assert (score["call_id"], score["scorer"], score["total"]) == (CALL_ID, "qa", 85.0)
    assert json.loads(score["answers"])["closing"] == "fail"
    assert score["comments"] == "没有结束语 / no closing"
    assert training is not None and training.marked_by == "qa"
