"""Real-call helpers for IVR endings: flow files, a ready agent, the call's CDR.

Shared by the integration tests of the survey, the NPS question, voicemail and
transfer, which all run the whole hotline process against the real Asterisk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cti.server import Running
from tests.support.sipp import AgentPhone, CallHandle, CallResult, agent_port, start_call
from tests.support.waiting import wait_until

SURVEY = {
    "enabled": True,
    "prompt": "survey",
    "invalid_prompt": "survey-invalid",
    "thanks_prompt": "survey-thanks",
    "goodbye_prompt": "survey-goodbye",
    "attempts": 2,
    "timeout_s": 8,
}


def write_flow(tmp_path: Path, nodes: dict[str, Any], start: str, **top: Any) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump({"flow": "test", "start": start, "nodes": nodes, **top}))
    return path


def billing_flow(tmp_path: Path, survey: dict[str, Any]) -> Path:
    """Straight into the billing queue, with this survey after the agent."""
    return write_flow(
        tmp_path, {"billing": {"type": "queue", "queue": "billing"}}, "billing", survey=survey
    )


async def ended_cdr(running: Running, call_id: str) -> Any:
    core = running.hotline.core
    await wait_until(lambda: call_id not in core.calls, within=15, what="the call to end")
    await running.hotline.drain()
    cdr = await running.hotline.repository.cdr(call_id)
    assert cdr is not None
    return cdr


async def first_call(running: Running, handle: CallHandle) -> str:
    core = running.hotline.core
    await wait_until(lambda: bool(core.calls), within=15, what="the call to start")
    return next(iter(core.calls))


async def agent_ready(running: Running, agent: str, queue: str) -> None:
    hotline = running.hotline
    hotline.desk.login(agent)
    hotline.desk.ready(agent)
    members = hotline.core.queues[queue].members
    await wait_until(
        lambda: agent in members and not members[agent].paused,
        within=10,
        what=f"Asterisk to report agent {agent} ready in {queue}",
    )


@dataclass(frozen=True)
class SurveyCall:
    """A caller who stays on after the agent hangs up and keys ``keys`` late."""

    caller_number: str
    keys: str
    keys_after_s: float = 7.0
    key_gap_s: float | None = None
    agent_hangs_up_after_s: float = 2.0
    call_timeout_s: int = 60
    wait_s: float = 45


async def call_through_the_survey(
    running: Running, settings: Any, call: SurveyCall
) -> tuple[CallResult, Any]:
    """Agent 1002 answers on billing and hangs up; the caller then answers the survey.

    Returns sipp's result for the caller and the call's stored CDR.
    """
    await agent_ready(running, "1002", "billing")
    extra: dict[str, Any] = {}
    if call.key_gap_s is not None:
        extra["late_dtmf_gap_s"] = call.key_gap_s
    async with AgentPhone(
        agent_port(1002), answer_after_s=0.5, hangup_after_s=call.agent_hangs_up_after_s
    ) as phone:
        handle = await start_call(
            settings.sip_port,
            caller_number=call.caller_number,
            dtmf="",
            late_dtmf=call.keys,
            late_dtmf_delay_s=call.keys_after_s,
            talk_s=None,
            timeout=call.call_timeout_s,
            **extra,
        )
        async with handle:
            call_id = await first_call(running, handle)
            await phone.wait_completed(timeout=20)
            assert any(line.startswith("LOCAL_BYE ") for line in phone.log_lines)
            result = await handle.wait(call.wait_s)
    return result, await ended_cdr(running, call_id)
