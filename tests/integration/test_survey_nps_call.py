"""The survey's 0-10 question on a real call: the caller keys 4, then 1 and 0
(SIP INFO), and the CDR keeps the score 4 and the NPS answer 10."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.server import running_hotline
from tests.support.ivr_calls import SURVEY, SurveyCall, billing_flow, call_through_the_survey

pytestmark = pytest.mark.asterisk


async def test_a_caller_keys_ten_and_the_cdr_keeps_the_nps_answer(
    hotline_settings, tmp_path: Path
) -> None:
    survey = {**SURVEY, "nps_prompt": "nps", "nps_invalid_prompt": "nps-invalid"}
    settings = hotline_settings.model_copy(update={"ivr_flow": billing_flow(tmp_path, survey)})
    async with running_hotline(settings) as running:
        # the score 7 s after the answer (the agent left at 2 s), then "1" "0"
        result, cdr = await call_through_the_survey(
            running,
            settings,
            SurveyCall(caller_number="15550100003", keys="410", key_gap_s=1.0, wait_s=50),
        )
    assert result.ok and result.remote_hangup, result.describe()
    assert result.dtmf_sent == "410"
    assert (cdr.survey_score, cdr.nps_score) == (4, 10)
