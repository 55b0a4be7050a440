"""How an IVR call can end besides a queue: post-call survey, voicemail, transfer.

Real SIP calls (sipp, DTMF as SIP INFO) on the real Asterisk, with the whole
hotline process (AMI core, FastAGI IVR and survey, CDR writer).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cti.server import running_hotline
from recordings.catalogue import VOICEMAIL_FOLDER, audio_level
from tests.support.ivr_calls import (
    SURVEY,
    SurveyCall,
    billing_flow,
    call_through_the_survey,
    ended_cdr,
    first_call,
    write_flow,
)
from tests.support.sipp import AgentPhone, agent_port, start_call

pytestmark = pytest.mark.asterisk


def closed_today() -> dict[str, Any]:
    """An hours node that is closed now (today and tomorrow are holidays, in UTC)."""
    today = dt.datetime.now(dt.UTC).date()
    return {
        "type": "hours",
        "timezone": "UTC",
        "hours": {"mon-sun": "00:00-24:00"},
        "holidays": [str(today), str(today + dt.timedelta(days=1))],
        "open": "general",
        "closed": "closed",
    }


# ----------------------------------------------------------------------------- survey


async def test_survey_after_the_agent_hangs_up_stores_the_score(hotline_settings, tmp_path) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": billing_flow(tmp_path, SURVEY)})
    async with running_hotline(settings) as running:
        # the agent talks 2 s and hangs up; the caller stays, hears the question
        # and presses 4 (sent 7 s after the answer: well after the agent left)
        result, cdr = await call_through_the_survey(
            running, settings, SurveyCall(caller_number="15550100002", keys="4")
        )
    assert result.ok and result.remote_hangup, result.describe()
    assert result.dtmf_sent == "4"
    assert cdr.survey_score == 4
    assert cdr.disposition == "answered" and cdr.agent_id == "1002"
    assert 1.0 < cdr.talk_s < 6.0  # the talk with the agent, not the survey after it


async def test_survey_gives_up_politely_without_an_answer(hotline_settings, tmp_path) -> None:
    survey = {**SURVEY, "timeout_s": 2, "attempts": 2}
    settings = hotline_settings.model_copy(update={"ivr_flow": billing_flow(tmp_path, survey)})
    async with running_hotline(settings) as running:
        # 9 is no score; then nothing: two tries, goodbye, Asterisk hangs up
        result, cdr = await call_through_the_survey(
            running,
            settings,
            SurveyCall(
                caller_number="15550100002",
                keys="9",
                keys_after_s=6.0,
                agent_hangs_up_after_s=1.0,
                call_timeout_s=90,
                wait_s=75,
            ),
        )
    assert result.ok and result.remote_hangup, result.describe()
    assert cdr.survey_score is None
    assert cdr.disposition == "answered"


# ----------------------------------------------------------------------------- voicemail


def voicemail_flow(tmp_path: Path) -> Path:
    # A short prompt (about 3 s): of the test caller's audio only the first 7 s
    # (sipp's first replay of its capture) was seen to reach the recording, so
    # the message starts early enough to hold some of it.
    return write_flow(
        tmp_path,
        {
            "hours": closed_today(),
            "general": {"type": "queue", "queue": "general"},
            "closed": {
                "type": "voicemail",
                "prompt": "transfer",
                "thanks_prompt": "voicemail-thanks",
                "max_s": 30,
                "silence_s": 5,
            },
        },
        "hours",
    )


async def test_after_hours_the_caller_leaves_a_voicemail(hotline_settings, tmp_path) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": voicemail_flow(tmp_path)})
    async with running_hotline(settings) as running:
        # the caller talks over the prompt and after the beep, then hangs up
        handle = await start_call(settings.sip_port, caller_number="15550100001", dtmf="", talk_s=9)
        async with handle:
            call_id = await first_call(running, handle)
            result = await handle.wait(40)
        assert result.ok and result.local_hangup, result.describe()
        cdr = await ended_cdr(running, call_id)
    expected = settings.recordings_dir / VOICEMAIL_FOLDER / f"{call_id}.wav"
    assert cdr.voicemail_path == str(expected.resolve())
    assert cdr.disposition == "voicemail"
    assert cdr.ivr_path.startswith("closed>voicemail")
    assert cdr.queue is None and cdr.recording_path is None
    level = audio_level(expected)
    assert level.seconds > 2.0, level
    assert not level.silent, level


async def test_voicemail_ends_with_hash_and_the_caller_is_thanked(
    hotline_settings, tmp_path
) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": voicemail_flow(tmp_path)})
    async with running_hotline(settings) as running:
        handle = await start_call(
            settings.sip_port,
            caller_number="15550100001",
            dtmf="",
            late_dtmf="#",
            late_dtmf_delay_s=6.0,
            talk_s=None,
            timeout=60,
        )
        async with handle:
            call_id = await first_call(running, handle)
            result = await handle.wait(45)
        # '#' ended the message, the thanks prompt played, Asterisk hung up
        assert result.ok and result.remote_hangup, result.describe()
        cdr = await ended_cdr(running, call_id)
    expected = settings.recordings_dir / VOICEMAIL_FOLDER / f"{call_id}.wav"
    assert cdr.voicemail_path == str(expected.resolve())
    assert expected.is_file() and audio_level(expected).seconds > 1.0
    assert cdr.disposition == "voicemail"


# ----------------------------------------------------------------------------- transfer


def transfer_flow(tmp_path: Path, target: str) -> Path:
    return write_flow(
        tmp_path,
        {
            "menu": {
                "type": "menu",
                "prompt": "invalid",
                "timeout_s": 3,
                "attempts": 1,
                "choices": {"1": "billing", "2": "transfer"},
                "on_fail": "billing",
            },
            "billing": {"type": "queue", "queue": "billing"},
            "transfer": {"type": "transfer", "prompt": "transfer", "target": target},
        },
        "menu",
    )


async def test_menu_choice_transfers_to_an_agent_extension(hotline_settings, tmp_path) -> None:
    settings = hotline_settings.model_copy(update={"ivr_flow": transfer_flow(tmp_path, "1003")})
    async with running_hotline(settings) as running:
        # agent 1003 is not logged in: the transfer dials the extension directly
        async with AgentPhone(agent_port(1003), answer_after_s=0.5) as phone:
            handle = await start_call(
                settings.sip_port, caller_number="15550100002", dtmf="2", talk_s=10
            )
            async with handle:
                call_id = await first_call(running, handle)
                await phone.wait_answered(timeout=20)
                result = await handle.wait(30)
            await phone.wait_completed(timeout=10)
        assert result.ok and result.local_hangup, result.describe()
        cdr = await ended_cdr(running, call_id)
    assert "menu=2>transfer=1003" in cdr.ivr_path
    assert cdr.disposition == "transferred"
    assert cdr.queue is None


async def test_transfer_to_an_outside_number_goes_through_the_trunk(
    hotline_settings, tmp_path
) -> None:
    settings = hotline_settings.model_copy(
        update={"ivr_flow": transfer_flow(tmp_path, "+8613800138000")}
    )
    host, _, port = settings.trunk_host.partition(":")
    async with running_hotline(settings) as running:
        async with AgentPhone(int(port), host=host, answer_after_s=0.3) as carrier:
            handle = await start_call(
                settings.sip_port, caller_number="15550100002", dtmf="2", talk_s=8
            )
            async with handle:
                call_id = await first_call(running, handle)
                await carrier.wait_answered(timeout=20)
                result = await handle.wait(30)
        assert result.ok, result.describe()
        cdr = await ended_cdr(running, call_id)
    assert "transfer=+8613800138000" in cdr.ivr_path
    assert cdr.disposition == "transferred"
