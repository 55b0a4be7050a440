"""The flow engine's voicemail and transfer nodes, the post-call survey, and
the AGI commands they use (a scripted AGI session, no Asterisk)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

import pytest

from cti.dialplan import SURVEY as SURVEY_VARIABLE
from cti.dialplan import TRANSFER as TRANSFER_VARIABLE
from cti.dialplan import VOICEMAIL as VOICEMAIL_VARIABLE
from ivr.engine import VOICEMAIL_DIR, FlowEngine, SurveyRunner
from ivr.fastagi import AgiError, AgiHangup, AgiResult, AgiSession
from ivr.flow import parse_flow

ROOT = PurePosixPath("/sounds")
PROMPTS = {"menu", "vm", "vm-thanks", "hold", "rate", "rate-again", "thanks", "bye"}


class ScriptedAgi:
    """Stands in for AgiSession: digits and variables are scripted, calls logged."""

    def __init__(
        self,
        digits: Iterable[str] = (),
        variables: dict[str, str] | None = None,
        hangup_in_record: bool = False,
    ) -> None:
        self.digits = list(digits)
        self.variables = dict(variables or {})
        self.hangup_in_record = hangup_in_record
        self.log: list[tuple[str, ...]] = []
        self.uniqueid = "1700000000.7"
        self.caller_number = "15550100001"

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value
        self.log.append(("set", name, value))

    async def get_variable(self, name: str) -> str | None:
        self.log.append(("get", name))
        return self.variables.get(name)

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        self.log.append(("get_data", prompt))
        digits = self.digits.pop(0) if self.digits else ""
        return digits, not digits

    async def stream_file(self, prompt: str, escape_digits: str = '""') -> None:
        self.log.append(("play", prompt))

    async def record_file(self, path: str, *, max_s: float, silence_s: float) -> AgiResult:
        self.log.append(("record", path, str(max_s), str(silence_s)))
        if self.hangup_in_record:
            raise AgiHangup("hangup during RECORD FILE")
        return AgiResult("35", "dtmf", "200 result=35 (dtmf) endpos=8000")

    async def command(self, line: str, **_: Any) -> AgiResult:
        self.log.append(("command", line))
        return AgiResult("1", "", "200 result=1")


def flow_with(nodes: dict[str, Any], start: str, **top: Any) -> Any:
    return parse_flow({"start": start, "nodes": nodes, **top}, "t.yaml", PROMPTS)


def engine(flow: Any) -> FlowEngine:
    return FlowEngine(flow, ROOT)


VOICEMAIL = {"vm": {"type": "voicemail", "prompt": "vm", "thanks_prompt": "vm-thanks", "max_s": 90}}


async def test_voicemail_records_into_the_voicemail_folder_then_hangs_up() -> None:
    session = ScriptedAgi()
    run = await engine(flow_with(VOICEMAIL, "vm")).run(session)  # type: ignore[arg-type]
    path = f"{VOICEMAIL_DIR}/1700000000.7"
    assert run.voicemail == f"{path}.wav"
    assert run.path == "voicemail"
    assert session.variables[VOICEMAIL_VARIABLE] == f"{path}.wav"
    steps = [entry for entry in session.log if entry[0] != "set"]
    assert steps == [
        ("play", "/sounds/en/vm"),
        ("record", path, "90.0", "5.0"),
        ("play", "/sounds/en/vm-thanks"),
        ("command", "HANGUP"),
    ]
    # the path is known to the CTI before the recording starts
    assert session.log.index(("set", VOICEMAIL_VARIABLE, f"{path}.wav")) < session.log.index(
        ("record", path, "90.0", "5.0")
    )


async def test_caller_hanging_up_mid_message_keeps_the_voicemail_path() -> None:
    session = ScriptedAgi(hangup_in_record=True)
    with pytest.raises(AgiHangup):
        await engine(flow_with(VOICEMAIL, "vm")).run(session)  # type: ignore[arg-type]
    assert session.variables[VOICEMAIL_VARIABLE].endswith("/voicemail/1700000000.7.wav")
    assert session.variables["HOTLINE_IVR_PATH"] == "voicemail"
    assert ("command", "HANGUP") not in session.log


async def test_transfer_node_ends_the_flow_with_the_target() -> None:
    nodes = {
        "menu": {"type": "menu", "prompt": "menu", "choices": {"0": "operator", "1": "q"}},
        "operator": {"type": "transfer", "prompt": "hold", "target": "1003"},
        "q": {"type": "queue", "queue": "billing"},
    }
    session = ScriptedAgi(digits=["0"])
    run = await engine(flow_with(nodes, "menu")).run(session)  # type: ignore[arg-type]
    assert (run.transfer, run.queue) == ("1003", None)
    assert run.path == "menu=0>transfer=1003"
    assert session.variables[TRANSFER_VARIABLE] == "1003"
    assert session.variables["HOTLINE_IVR_PATH"] == "menu=0>transfer=1003"
    assert "HOTLINE_QUEUE" not in session.variables
    assert ("play", "/sounds/en/hold") in session.log
    assert run.outcome == "transfer 1003"


# ----------------------------------------------------------------------------- survey

SURVEY = {
    "prompt": "rate",
    "invalid_prompt": "rate-again",
    "thanks_prompt": "thanks",
    "goodbye_prompt": "bye",
    "attempts": 3,
    "timeout_s": 4,
}
QUEUE_ONLY = {"q": {"type": "queue", "queue": "billing"}}


def survey_runner(**survey: Any) -> SurveyRunner:
    flow = flow_with(QUEUE_ONLY, "q", survey={**SURVEY, **survey})
    return SurveyRunner(flow, ROOT, frozenset({"en", "zh"}))


async def test_survey_score_on_the_first_try() -> None:
    session = ScriptedAgi(digits=["4"])
    result = await survey_runner().run(session)  # type: ignore[arg-type]
    assert (result.score, result.tries) == (4, 1)
    assert session.variables[SURVEY_VARIABLE] == "4"
    assert session.log[-1] == ("play", "/sounds/en/thanks")


async def test_survey_retries_in_the_callers_language_then_takes_the_score() -> None:
    session = ScriptedAgi(digits=["9", "", "5"], variables={"HOTLINE_LANGUAGE": "zh"})
    result = await survey_runner().run(session)  # type: ignore[arg-type]
    assert (result.score, result.tries) == (5, 3)
    asked = [entry[1] for entry in session.log if entry[0] == "get_data"]
    assert asked == ["/sounds/zh/rate", "/sounds/zh/rate-again", "/sounds/zh/rate-again"]
    assert session.variables[SURVEY_VARIABLE] == "5"


async def test_survey_gives_up_politely_and_sets_no_score() -> None:
    session = ScriptedAgi(digits=["0", "#"], variables={"HOTLINE_LANGUAGE": "xx"})
    result = await survey_runner(attempts=2).run(session)  # type: ignore[arg-type]
    assert (result.score, result.tries) == (None, 2)
    assert SURVEY_VARIABLE not in session.variables
    assert session.log[-1] == ("play", "/sounds/en/bye")  # unknown language: the flow's


async def test_disabled_or_missing_survey_does_nothing() -> None:
    session = ScriptedAgi(digits=["5"])
    runner = survey_runner(enabled=False)
    assert not runner.enabled
    assert (await runner.run(session)).score is None  # type: ignore[arg-type]
    no_survey = SurveyRunner(flow_with(QUEUE_ONLY, "q"), ROOT, frozenset({"en"}))
    assert not no_survey.enabled
    assert (await no_survey.run(session)).score is None  # type: ignore[arg-type]
    assert session.log == []


# ----------------------------------------------------------------------------- AGI commands


class Writer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data.decode())

    async def drain(self) -> None:
        return None


def agi(*replies: str) -> tuple[AgiSession, Writer]:
    reader = asyncio.StreamReader()
    for reply in replies:
        reader.feed_data(f"{reply}\n".encode())
    writer = Writer()
    return AgiSession(reader, writer, {}, command_timeout=1.0), writer  # type: ignore[arg-type]


async def test_record_file_command_and_replies() -> None:
    session, writer = agi("200 result=35 (dtmf) endpos=16000")
    result = await session.record_file("/vm/1", max_s=120, silence_s=5)
    assert writer.sent == ["RECORD FILE /vm/1 wav # 120000 0 BEEP s=5\n"]
    assert (result.code, result.data) == (35, "dtmf")
    session, _ = agi("HANGUP", "200 result=-1 (hangup) endpos=240")
    with pytest.raises(AgiHangup):
        await session.record_file("/vm/2", max_s=60, silence_s=3)
    session, _ = agi("200 result=-1 (writefile)")
    with pytest.raises(AgiError, match="writefile"):
        await session.record_file("/nowhere/3", max_s=60, silence_s=3)


async def test_get_variable() -> None:
    session, writer = agi("200 result=1 (zh)", "200 result=0")
    assert await session.get_variable("HOTLINE_LANGUAGE") == "zh"
    assert await session.get_variable("NOT_SET") is None
    assert writer.sent == ["GET VARIABLE HOTLINE_LANGUAGE\n", "GET VARIABLE NOT_SET\n"]
