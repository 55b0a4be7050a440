"""Runs a flow over a FastAGI session.

Every step is appended to the call's IVR path (``HOTLINE_IVR_PATH``, which
the CTI follows through AMI and the CDR keeps); a ``queue`` node ends the
flow by setting ``HOTLINE_QUEUE``; the dialplan does the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from ivr.fastagi import AgiSession
from ivr.flow import Flow, Node

QUEUE_VARIABLE = "HOTLINE_QUEUE"
IVR_PATH_VARIABLE = "HOTLINE_IVR_PATH"
LANGUAGE_VARIABLE = "HOTLINE_LANGUAGE"
ACCOUNT_VARIABLE = "HOTLINE_ACCOUNT"
VERIFIED_VARIABLE = "HOTLINE_VERIFIED"
ACCOUNT_MAX_DIGITS = 12


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
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return ">".join(self.steps)


class FlowEngine:
    def __init__(
        self,
        flow: Flow,
        prompts_root: PurePosixPath,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        directory: CustomerDirectory | None = None,
    ) -> None:
        self.flow = flow
        self.prompts_root = prompts_root
        self.clock = clock
        self.directory: CustomerDirectory = directory or NoDirectory()

    def prompt(self, run: FlowRun, name: str) -> str:
        return str(self.prompts_root / run.language / name)

    async def run(self, session: AgiSession) -> FlowRun:
        run = FlowRun(self.flow, self.flow.language)
        name: str | None = self.flow.start
        for _ in range(MAX_STEPS):
            if name is None:
                break
            node = self.flow.nodes[name]
            name = await self._step(session, run, node)
            await session.set_variable(IVR_PATH_VARIABLE, run.path)
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
                await session.set_variable(LANGUAGE_VARIABLE, run.language)
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
                    run.variables[ACCOUNT_VARIABLE] = account
                    await session.set_variable(ACCOUNT_VARIABLE, account)
                run.steps.append("lookup=found" if account else "lookup=none")
                return node.found if account else node.not_found
            case "verify":
                return await self._verify(session, run, node)
            case "queue":
                assert node.queue is not None
                run.queue = node.queue
                run.steps.append(f"queue={node.queue}")
                await session.set_variable(QUEUE_VARIABLE, node.queue)
                return None
            case "hangup":
                if node.prompt:
                    await session.stream_file(self.prompt(run, node.prompt))
                run.steps.append("hangup")
                await session.command("HANGUP")
                return None
        raise AssertionError(f"unhandled node type {node.type}")  # load validates types

    async def _verify(self, session: AgiSession, run: FlowRun, node: Node) -> str | None:
        """Account number (unless the lookup found it) and PIN, limited attempts."""
        assert node.prompt is not None and node.pin_prompt is not None
        timeout_ms = int(node.timeout_s * 1000)
        known = run.variables.get(ACCOUNT_VARIABLE, "")
        for attempt in range(node.attempts):
            # after a failure the "try again" prompt leads the next attempt
            retry = node.invalid_prompt if attempt and node.invalid_prompt else None
            account = known
            if not account:
                account, _ = await session.get_data(
                    self.prompt(run, retry or node.prompt), timeout_ms, ACCOUNT_MAX_DIGITS
                )
                retry = None
            pin, _ = await session.get_data(
                self.prompt(run, retry or node.pin_prompt), timeout_ms, node.max_digits
            )
            if await self.directory.check_pin(account, pin):
                run.steps.append("verify=ok")
                await session.set_variable(VERIFIED_VARIABLE, "1")
                return node.next
            run.steps.append("verify=wrong")
            await session.set_variable(IVR_PATH_VARIABLE, run.path)
        run.steps.append("verify=failed")
        await session.set_variable(VERIFIED_VARIABLE, "0")
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
            await session.set_variable(IVR_PATH_VARIABLE, run.path)
            prompt = node.invalid_prompt or node.prompt if digits else node.prompt
        return node.on_fail
