"""The survey's 0-10 question on a real call: the caller keys 4, then 1 and 0
(SIP INFO), and the CDR keeps the score 4 and the NPS answer 10."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.server import running_hotline
from tests.integration.test_ivr_endings import (
    SURVEY,
    agent_ready,
    ended_cdr,
    first_call,
    write_flow,
)
from tests.support.sipp import AgentPhone, agent_port, start_call

pytestmark = pytest.mark.asterisk


async def test_a_caller_keys_ten_and_the_cdr_keeps_the_nps_answer(
    hotline_settings, tmp_path: Path
) -> None:
    survey = {**SURVEY, "nps_prompt": "nps", "nps_invalid_prompt": "nps-invalid"}
    flow = write_flow(
        tmp_path, {"billing": {"type": "queue", "queue": "billing"}}, "billing", survey=survey
    )
    settings = hotline_settings.model_copy(update={"ivr_flow": flow})
    async with running_hotline(settings) as running:
        await agent_ready(running, "1002", "billing")
        async with AgentPhone(agent_port(1002), answer_after_s=0.5, hangup_after_s=2.0) as phone:
            # the score 7 s after the answer (the agent left at 2 s), then "1" "0"
            handle = await start_call(
                settings.sip_port,
                caller_number="15550100003",
                dtmf="",
                late_dtmf="410",
                late_dtmf_delay_s=7.0,
                late_dtmf_gap_s=1.0,
                talk_s=None,
                timeout=60,
            )
            async with handle:
                call_id = await first_call(running, handle)
                await phone.wait_completed(timeout=20)
                result = await handle.wait(50)
        assert result.ok and result.remote_hangup, result.describe()
        assert result.dtmf_sent == "410"
        cdr = await ended_cdr(running, call_id)
    assert (cdr.survey_score, cdr.nps_score) == (4, 10)
