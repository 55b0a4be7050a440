"""The CTI stops during a talking call (nothing of it is written then, as after
kill -9) and comes back while the call goes on: the call's one CDR still has
its recording, IVR path, queue, caller name and the disposition the agent was
told is pending. Real Asterisk, real SIP calls."""

from __future__ import annotations

import pytest

from cti.server import running_hotline
from tests.support.sipp import AgentPhone, start_call
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk


async def test_a_call_that_outlives_the_cti_keeps_what_the_cti_knew(hotline_settings) -> None:
    phone = AgentPhone(port=51001, answer_after_s=0.3)
    await phone.start()
    try:
        async with running_hotline(hotline_settings) as running:
            service, core = running.hotline, running.hotline.core
            service.desk.login("1001")
            service.desk.ready("1001")
            await wait_until(
                lambda: core.agents["1001"].state.value == "ready",
                within=10,
                what="agent 1001 ready",
            )
            call = await start_call(
                hotline_settings.sip_port,
                caller_number="13800138000",
                caller_name="张伟",
                dtmf="21",  # Mandarin, billing
                dtmf_gap_s=1.0,
                talk_s=40,
            )
            await wait_until(
                lambda: any(c.agent_id == "1001" for c in core.calls.values()),
                within=40,
                what="the call to be answered by agent 1001",
            )
            call_id = next(iter(core.calls))
            before = core.calls[call_id]
            assert before.recording_path and before.queue == "billing"
            said = await service.desk.disposition("1001", call_id, "follow_up", "send invoice")
            assert said == "pending"
        # the CTI is gone; the call goes on. A new CTI starts and adopts it.
        async with running_hotline(hotline_settings) as running:
            core = running.hotline.core
            assert call_id in core.calls, "the restarted CTI did not adopt the live call"
            result = await call.wait(60)
            assert result.answered
            await wait_until(lambda: call_id not in core.calls, within=20, what="the call to end")
            await running.hotline.drain()
            cdr = await running.hotline.repository.cdr(call_id)
    finally:
        await phone.stop()
    assert cdr is not None
    # as live CDRs keep it: the file on this host
    recording = hotline_settings.recordings_dir.resolve() / f"{call_id}.wav"
    assert before.recording_path.endswith(f"/{call_id}.wav")
    assert cdr.recording_path == str(recording) and recording.exists()
    assert "menu=1" in cdr.ivr_path and "lang=zh" in cdr.ivr_path
    assert cdr.queue == "billing"
    assert cdr.caller_name == "张伟"
    assert (cdr.agent_id, cdr.agent_disposition, cdr.agent_notes) == (
        "1001",
        "follow_up",
        "send invoice",
    )
