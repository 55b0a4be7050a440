"""The hotline's first IVR flow: a welcome prompt and one DTMF menu.

Every step is appended to the call's IVR path, published as the channel
variable ``HOTLINE_IVR_PATH`` (the CTI follows it through AMI VarSet events
and the CDR keeps it). The chosen queue is returned in ``HOTLINE_QUEUE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.fastagi import AgiSession

QUEUE_VARIABLE = "HOTLINE_QUEUE"
IVR_PATH_VARIABLE = "HOTLINE_IVR_PATH"


@dataclass(frozen=True, slots=True)
class MenuConfig:
    prompt: str = "/var/lib/asterisk/sounds/hotline/en/main-menu"
    invalid_prompt: str = "/var/lib/asterisk/sounds/hotline/en/invalid"
    choices: dict[str, str] = field(
        default_factory=lambda: {"1": "billing", "2": "technical", "3": "account"}
    )
    default_queue: str = "general"
    timeout_ms: int = 5000
    attempts: int = 3


@dataclass(slots=True)
class MenuOutcome:
    """Pure bookkeeping of the menu: which steps were taken, which queue won."""

    config: MenuConfig
    steps: list[str] = field(default_factory=list)
    queue: str | None = None

    def take(self, digits: str, timed_out: bool) -> bool:
        """Record one attempt; True when the menu is finished."""
        if digits in self.config.choices:
            self.steps.append(f"menu={digits}")
            self.queue = self.config.choices[digits]
            return True
        self.steps.append("menu=timeout" if timed_out or not digits else f"menu=invalid({digits})")
        if len(self.steps) >= self.config.attempts:
            self.steps.append(f"default={self.config.default_queue}")
            self.queue = self.config.default_queue
            return True
        return False

    @property
    def path(self) -> str:
        return ">".join(self.steps)


async def run_menu(session: AgiSession, config: MenuConfig) -> MenuOutcome:
    outcome = MenuOutcome(config)
    prompt = config.prompt
    while True:
        digits, timed_out = await session.get_data(prompt, config.timeout_ms, 1)
        done = outcome.take(digits, timed_out)
        await session.set_variable(IVR_PATH_VARIABLE, outcome.path)
        if done:
            break
        prompt = config.invalid_prompt if digits else config.prompt
    assert outcome.queue is not None
    await session.set_variable(QUEUE_VARIABLE, outcome.queue)
    return outcome
