"""Runs a flow over a FastAGI session, and the post-call survey.

Every step is appended to the call's IVR path (``HOTLINE_IVR_PATH``, which
the CTI follows through AMI and the CDR keeps); a ``queue`` node ends the
flow by setting ``HOTLINE_QUEUE``, a ``transfer`` node by setting
``HOTLINE_TRANSFER``; the dialplan does the rest. A ``voicemail`` node
records the caller into ``<recordings>/voicemail/`` (``HOTLINE_VOICEMAIL``)
and hangs up. The survey (its own FastAGI script, run by the dialplan after
the agent hung up) sets ``HOTLINE_SURVEY`` to the caller's score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from cti import dialplan
from ivr.fastagi import AgiSession
from ivr.flow import Flow, Node, Survey
from ivr.lockout import PinAttempts, pin_keys
from ivr.nps import MAX_DIGITS as NPS_MAX_DIGITS
from ivr.nps import parse_nps

ACCOUNT_MAX_DIGITS = 12
SURVEY_SCORES = frozenset("12345")
#: Where voicemail is recorded, as Asterisk sees it (<recordings>/voicemail/<uniqueid>.wav).
VOICEMAIL_DIR = dialplan.RECORDINGS_DIR / dialplan.VOICEMAIL_FOLDER


class CustomerDirectory(Protocol):
    """What the IVR asks about customers (the CTI's repository provides it)."""

    async def account_for_phone(self, phone: str) -> str | None: ...

    async def check_pin(self, account_number: str, pin: str) -> bool: ...


class NoDirectory:
    async def account_for_phone(self, phone: str) -> str | None:
        return None

    async def check_pin(self, account_number: str, pin: str) -> bool:
        return False


MAX_STEPS = 100  # a guard on top of the loop check done at load


@dataclass(slots=True)
class FlowRun:
    flow: Flow
    language: str
    steps: list[str] = field(default_factory=list)
    queue: str | None = None
    transfer: str | None = None
    voicemail: str | None = None  # path of the message, as Asterisk wrote it
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return ">".join(self.steps)

    @property
    def outcome(self) -> str:
        """Where the flow left the caller, for the log."""
        if self.queue:
            return f"queue {self.queue}"
        if self.transfer:
            return f"transfer {self.transfer}"
        if self.voicemail:
            return f"voicemail {self.voicemail}"
        return "end"


class FlowEngine:
    def __init__(
        self,
        flow: Flow,
        prompts_root: PurePosixPath,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        directory: CustomerDirectory | None = None,
        voicemail_dir: PurePosixPath = VOICEMAIL_DIR,
        pin_attempts: PinAttempts | None = None,
        announcement: str | None = None,
    ) -> None:
        self.flow = flow
        self.announcement = announcement  # played first (the crisis switch's announcement)
        # wrong PINs counted across calls (None: per call only, for tests of the flow)
        self.pin_attempts = pin_attempts
        self.prompts_root = prompts_root
        self.clock = clock
        self.directory: CustomerDirectory = directory or NoDirectory()
        self.voicemail_dir = voicemail_dir

    def prompt(self, run: FlowRun, name: str) -> str:
        return str(self.prompts_root / run.language / name)

    async def run(self, session: AgiSession) -> FlowRun:
        run = FlowRun(self.flow, self.flow.language)
        if self.announcement:
            run.steps.append(f"announcement={self.announcement}")
            await session.set_variable(dialplan.IVR_PATH, run.path)
            await session.stream_file(self.prompt(run, self.announcement))
        name: str | None = self.flow.start
        for _ in range(MAX_STEPS):
            if name is None:
                break
            node = self.flow.nodes[name]
            name = await self._step(session, run, node)
            await session.set_variable(dialplan.IVR_PATH, run.path)
        return run

    async def _step(self, session: AgiSession, run: FlowRun, node: Node) -> str | None:
        match node.type:
            case "play":
                assert node.prompt is not None
                await session.stream_file(self.prompt(run, node.prompt))
                return node.next
            case "menu":
                return await self._menu(session, run, node)
            case "collect":
                assert node.prompt is not None and node.variable is not None
                digits, _ = await session.get_data(
                    self.prompt(run, node.prompt), int(node.timeout_s * 1000), node.max_digits
                )
                run.variables[node.variable] = digits
                await session.set_variable(node.variable, digits)
                run.steps.append(f"{node.name}={'*' * len(digits) or 'none'}")
                return node.next
            case "language":
                assert node.prompt is not None
                digits, _ = await session.get_data(
                    self.prompt(run, node.prompt), int(node.timeout_s * 1000), 1
                )
                run.language = node.choices.get(digits, run.language)
                await session.set_variable(dialplan.LANGUAGE, run.language)
                run.steps.append(f"lang={run.language}")
                return node.next
            case "set":
                for key, value in node.variables.items():
                    run.variables[key] = value
                    await session.set_variable(key, value)
                run.steps.append(f"{node.name}")
                return node.next
            case "hours":
                is_open = self.flow.is_open(node, self.clock())
                run.steps.append("open" if is_open else "closed")
                return node.open if is_open else node.closed
            case "lookup":
                account = await self.directory.account_for_phone(session.caller_number)
                if account:
                    run.variables[dialplan.ACCOUNT] = account
                    await session.set_variable(dialplan.ACCOUNT, account)
                run.steps.append("lookup=found" if account else "lookup=none")
                return node.found if account else node.not_found
            case "verify":
                return await self._verify(session, run, node)
            case "queue":
                assert node.queue is not None
                run.queue = node.queue
                run.steps.append(f"queue={node.queue}")
                await session.set_variable(dialplan.QUEUE, node.queue)
                return None
            case "hangup":
                if node.prompt:
                    await session.stream_file(self.prompt(run, node.prompt))
                run.steps.append("hangup")
                await session.command("HANGUP")
                return None
            case "voicemail":
                await self._voicemail(session, run, node)
                return None
            case "transfer":
                assert node.target is not None
                if node.prompt:
                    await session.stream_file(self.prompt(run, node.prompt))
                run.transfer = node.target
                run.steps.append(f"transfer={node.target}")
                await session.set_variable(dialplan.TRANSFER, node.target)
                return None
        raise AssertionError(f"unhandled node type {node.type}")  # load validates types

    async def _voicemail(self, session: AgiSession, run: FlowRun, node: Node) -> None:
        """Prompt, beep, record until '#', silence or ``max_s``; thank and hang up.

        The path is set before recording: a caller who hangs up mid-message
        ends the AGI session, and what was said is still kept by Asterisk.
        """
        assert node.prompt is not None
        await session.stream_file(self.prompt(run, node.prompt))
        name = _file_name(session.uniqueid) or f"vm-{int(self.clock().timestamp())}"
        path = self.voicemail_dir / name
        run.voicemail = f"{path}.wav"
        run.steps.append("voicemail")
        await session.set_variable(dialplan.IVR_PATH, run.path)
        await session.set_variable(dialplan.VOICEMAIL, run.voicemail)
        await session.record_file(str(path), max_s=node.max_s, silence_s=node.silence_s)
        if node.thanks_prompt:
            await session.stream_file(self.prompt(run, node.thanks_prompt))
        await session.command("HANGUP")

    async def _verify(self, session: AgiSession, run: FlowRun, node: Node) -> str | None:
        """Account number, then the PIN (limited attempts, lockout across calls).

        The account is always asked: a caller ID (forgeable) never picks it.
        An account or caller number locked after too many wrong PINs is not
        checked at all (``verify=locked``).
        """
        assert node.prompt is not None and node.pin_prompt is not None
        timeout_ms = int(node.timeout_s * 1000)
        account, _ = await session.get_data(
            self.prompt(run, node.prompt), timeout_ms, ACCOUNT_MAX_DIGITS
        )
        keys = pin_keys(account, session.caller_number)
        for attempt in range(node.attempts):
            # after a failure the "try again" prompt leads the next attempt
            retry = node.invalid_prompt if attempt and node.invalid_prompt else None
            pin, _ = await session.get_data(
                self.prompt(run, retry or node.pin_prompt), timeout_ms, node.max_digits
            )
            guard = self.pin_attempts
            if guard is not None and await guard.locked(keys):
                run.steps.append("verify=locked")
                break
            if await self.directory.check_pin(account, pin):
                if guard is not None:
                    await guard.succeeded(keys)
                run.steps.append("verify=ok")
                await session.set_variable(dialplan.VERIFIED, "1")
                return node.next
            if guard is not None:
                await guard.failed(keys)
            run.steps.append("verify=wrong")
            await session.set_variable(dialplan.IVR_PATH, run.path)
        run.steps.append("verify=failed")
        await session.set_variable(dialplan.VERIFIED, "0")
        return node.on_fail

    async def _menu(self, session: AgiSession, run: FlowRun, node: Node) -> str | None:
        assert node.prompt is not None
        prompt = node.prompt
        for _ in range(node.attempts):
            digits, timed_out = await session.get_data(
                self.prompt(run, prompt), int(node.timeout_s * 1000), 1
            )
            if digits in node.choices:
                run.steps.append(f"{node.name}={digits}")
                return node.choices[digits]
            run.steps.append(
                f"{node.name}=timeout" if timed_out or not digits else f"{node.name}=invalid"
            )
            await session.set_variable(dialplan.IVR_PATH, run.path)
            prompt = node.invalid_prompt or node.prompt if digits else node.prompt
        return node.on_fail


def _file_name(uniqueid: str) -> str:
    """A channel's uniqueid as a safe file name ('1700000000.12')."""
    return "".join(c for c in uniqueid if c.isascii() and (c.isalnum() or c in "._-")).strip(".")


@dataclass(frozen=True, slots=True)
class SurveyResult:
    score: int | None  # None: no valid answer (or no survey)
    tries: int
    nps: int | None = None  # 0-10 when the flow asks it and the caller answered


class SurveyRunner:
    """The post-call survey: one digit 1-5, limited tries, then a polite goodbye."""

    def __init__(self, flow: Flow, prompts_root: PurePosixPath, languages: frozenset[str]):
        self.survey: Survey | None = flow.survey
        self.default_language = flow.language
        self.prompts_root = prompts_root
        self.languages = languages

    @property
    def enabled(self) -> bool:
        return self.survey is not None and self.survey.enabled

    async def run(self, session: AgiSession) -> SurveyResult:
        survey = self.survey
        if survey is None or not survey.enabled:
            return SurveyResult(None, 0)
        chosen = await session.get_variable(dialplan.LANGUAGE)
        language = chosen if chosen in self.languages else self.default_language

        def prompt(name: str) -> str:
            return str(self.prompts_root / language / name)

        name = survey.prompt
        for tries in range(1, survey.attempts + 1):
            digits, _ = await session.get_data(prompt(name), int(survey.timeout_s * 1000), 1)
            if digits in SURVEY_SCORES:
                await session.set_variable(dialplan.SURVEY, digits)
                nps = await self._nps(session, survey, prompt)
                if survey.thanks_prompt:
                    await session.stream_file(prompt(survey.thanks_prompt))
                return SurveyResult(int(digits), tries, nps)
            name = survey.invalid_prompt or survey.prompt
        if survey.goodbye_prompt:
            await session.stream_file(prompt(survey.goodbye_prompt))
        return SurveyResult(None, survey.attempts)

    async def _nps(
        self, session: AgiSession, survey: Survey, prompt: Callable[[str], str]
    ) -> int | None:
        """The optional 0-10 question: the keys, then '#' or a pause; ``attempts`` tries."""
        if not survey.nps_prompt:
            return None
        name = survey.nps_prompt
        for _ in range(survey.attempts):
            keys, _ = await session.get_data(
                prompt(name), int(survey.timeout_s * 1000), NPS_MAX_DIGITS
            )
            score = parse_nps(keys)
            if score is not None:
                await session.set_variable(dialplan.NPS, str(score))
                return score
            name = survey.nps_invalid_prompt or survey.nps_prompt
        return None
