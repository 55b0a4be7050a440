"""The QA page's full-text search (Chinese), spot-check sample and hold, and a
red-flag escalation and alarm on the supervisor's wallboard, in headless Chromium
(Python playwright, Debian's chromium).

The server is the real core, database and web app with a stub AMI (the calls
are in the database as the call path and the transcription side leave them;
the real-call tests of those are elsewhere). Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Locator, Page, expect
from sqlalchemy import select

from cti.db.models import AuditEntry, CallRecord, CallTag, Transcript
from cti.qa.sample import pick, week_of
from tests.browser.fixtures import LoggedInPage
from tests.support.stub_service import PASSWORD, SUPERVISOR_PASSWORD
from tests.support.waiting import wait_until
from tests.support.wallboard_app import T0, Board, wallboard_app

NOW = datetime.fromtimestamp(T0, UTC)  # the server's clock: 2027-01-15, week 2027-W02


async def add_call(
    board: Board,
    call_id: str,
    agent: str,
    at: datetime,
    number: str,
    words: str | None,
    survey: tuple[int, int] | None = None,  # the caller's survey score and NPS answer
) -> None:
    async with board.hotline.repository.sessions.begin() as session:
        session.add(
            CallRecord(
                call_id=call_id,
                caller_number=number,
                caller_name="",
                ivr_path="lang=zh|menu=1",
                queue="billing",
                agent_id=agent,
                entered_at=at,
                answered_at=at,
                ended_at=at + timedelta(minutes=3),
                wait_s=5.0,
                talk_s=175.0,
                disposition="answered",
                survey_score=survey[0] if survey else None,
                nps_score=survey[1] if survey else None,
            )
        )
        if words is not None:
            session.add(
                Transcript(
                    call_id=call_id,
                    engine="whisper",
                    language="zh",
                    created_at=at,
                    duration_s=175.0,
                    turns=[{"party": "caller", "start": 1.0, "end": 4.0, "text": words}],
                    analytics={},
                    text=words,
                )
            )


def answer(page: Page, label: str) -> Locator:
    """The value the call's details show under ``label``."""
    return page.locator(f"xpath=//dl[@id='d-cdr']/dt[.='{label}']/following-sibling::dd[1]")


async def test_qa_user_searches_a_chinese_word_the_sample_and_puts_a_call_on_hold(
    tmp_path: Path, logged_in_page: LoggedInPage
) -> None:
    async with wallboard_app(tmp_path) as board:
        monday = week_of(NOW).start
        await add_call(
            board, "zh1", "1001", monday + timedelta(hours=9), "13800138000", "我要退款", (2, 0)
        )
        await add_call(board, "zh2", "1001", monday + timedelta(hours=10), "13900139000", "退一下")
        await add_call(board, "en1", "1001", monday + timedelta(hours=11), "15550100001", "cancel")
        for i in range(20):
            at = monday + timedelta(hours=12 + i)
            await add_call(board, f"f{i:02d}", "1001", at, f"1555020{i:04d}", None)
        await add_call(board, "y1", "1002", monday + timedelta(hours=8), "15550300001", None)
        week_calls = [(f"f{i:02d}", "1001") for i in range(20)]
        week_calls += [("zh1", "1001"), ("zh2", "1001"), ("en1", "1001"), ("y1", "1002")]
        expected_sample = {c for ids in pick(week_of(NOW), week_calls, 5.0).values() for c in ids}
        assert len(expected_sample) == 3  # 2 of agent 1001's 23 calls, 1 of 1002's one

        browser_page = await logged_in_page(
            board.url.rstrip("/"), "qa", path="/qa", username="qa", password=PASSWORD
        )
        page = browser_page.page
        await expect(page.locator("#qa-view")).to_be_visible()
        rows = page.locator("#results tbody tr")
        await expect(rows).to_have_count(24)  # every call, before any filter

        # a two-character Chinese word: the call that says it, not 退 ... alone
        await page.fill("#f-text", "退款")
        await page.click("#btn-search")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("13800138000")
        # one character: both calls that hold it
        await page.fill("#f-text", "退")
        await page.click("#btn-search")
        await expect(rows).to_have_count(2)
        # FTS syntax is plain words, never an error
        await page.fill("#f-text", 'NEAR("退款" *')
        await page.click("#btn-search")
        await expect(rows).to_have_count(0)
        await expect(page.locator("#results-empty")).to_be_visible()
        assert await page.locator("#notice").is_hidden()
        await page.fill("#f-text", '"')
        await page.click("#btn-search")
        await expect(page.locator("#notice")).to_contain_text("no letters or digits")

        # the week's spot-check sample
        await page.fill("#f-text", "")
        await page.check("#f-sample")
        await page.click("#btn-search")
        await expect(rows).to_have_count(3)
        shown = {await rows.nth(i).get_attribute("data-call-id") for i in range(3)}
        assert shown == expected_sample
        await expect(page.locator("#sample-info")).to_contain_text("2027-W02")
        assert await page.input_value("#f-week") == "2027-W02"
        await browser_page.screenshot("qa-sample.png")

        # open the Chinese call and put it on hold
        await page.uncheck("#f-sample")
        await page.fill("#f-text", "退款")
        await page.click("#btn-search")
        await expect(rows).to_have_count(1)
        await rows.first.click()
        await expect(page.locator("#d-call")).to_have_text("zh1")
        # the survey score and, beside it, the NPS answer (0 is an answer)
        await expect(answer(page, "Survey")).to_have_text("2")
        await expect(answer(page, "NPS (0-10)")).to_have_text("0")
        await expect(page.locator("#hold-state")).to_have_text("Not on hold.")
        await page.click("#btn-hold")
        await expect(page.locator("#hold-state")).to_have_text("On hold: kept from deletion.")
        await expect(page.locator("#btn-hold")).to_have_text("Remove hold")
        await expect(rows.first.locator("td.hold")).to_have_text("held")
        await expect(page.locator("#d-tags")).to_contain_text("hold")
        await page.select_option("#lang", "zh")
        await expect(page.locator("#hold-state")).to_have_text("已保留：不会被删除。")
        await expect(rows.first.locator("td.hold")).to_have_text("已保留")
        await expect(answer(page, "推荐意愿（0-10）")).to_have_text("0")
        await browser_page.screenshot("qa-hold-zh.png")
        assert await browser_page.page_errors() == []

        async with board.hotline.repository.sessions() as session:
            tags = list(await session.scalars(select(CallTag).where(CallTag.tag == "hold")))
            audit = list(
                await session.scalars(select(AuditEntry).where(AuditEntry.action == "qa.hold"))
            )
        assert [(t.call_id, t.source, t.created_by) for t in tags] == [("zh1", "manual", "qa")]
        assert [(a.username, a.target) for a in audit] == [("qa", "zh1")]


async def test_a_red_flag_escalation_and_its_alarm_appear_on_the_supervisors_wallboard(
    tmp_path: Path, logged_in_page: LoggedInPage
) -> None:
    # and an alarm on red-flagged calls, raised at the first
    rules = "alarms:\n  - {name: red-flags, kind: qa_red_flags, queue: all, threshold: 0}\n"
    async with wallboard_app(tmp_path, rules, escalation_poll_s=0.05) as board:
        browser_page = await logged_in_page(
            board.url.rstrip("/"),
            "supervisor",
            path="/wallboard?lang=en",
            password=SUPERVISOR_PASSWORD,
        )
        page = browser_page.page
        await expect(page.locator("#conn.on")).to_have_count(1)
        escalations = board.hotline.escalations
        # the CTI has looked once: tags stored from now on are new
        await wait_until(lambda: escalations.last_id is not None, within=5, what="the first look")
        await add_call(board, "c1", "1001", NOW, "15550100001", "I will go to the regulator")
        async with board.hotline.repository.sessions.begin() as session:
            session.add(
                CallTag(
                    call_id="c1",
                    tag="regulator",
                    start_s=12.5,
                    end_s=14.0,
                    detail={"red_flag": True},
                    created_at=NOW,
                )
            )
        flag = page.locator('#escalations li.escalation[data-call="c1"]')
        await expect(flag).to_have_count(1, timeout=5000)
        await expect(flag).to_contain_text('Red flag "regulator" on call c1 (agent 1001) at 13 s')
        assert await flag.locator("a").get_attribute("href") == "/qa"
        alarm = page.locator('#alarms li[data-rule="red-flags"]')
        await expect(alarm).to_contain_text("All calls: 1 calls with QA red flags (over 0)")
        await browser_page.screenshot("wallboard-escalation.png")
        await page.select_option("#lang", "zh")
        await expect(alarm).to_contain_text("全部来电：1 通来电出现质检红色警示（超过 0）")
        assert await browser_page.page_errors() == []
