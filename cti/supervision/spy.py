"""What a listen, whisper or barge asks of the PBX, chosen from the CTI's own state. Pure.

The dialplan contract (``[hotline-spy]`` in ``asterisk-conf/extensions.conf``,
declared in :mod:`cti.dialplan`): the supervisor's phone is originated into
``dialplan.SPY_CONTEXT`` at the extension named by the mode, with
``dialplan.SPY_TARGET`` set to the agent's channel.
Modes map to ChanSpy options there, never from a variable:

* listen:  ``qE``  the supervisor hears both sides, nobody hears the supervisor
* whisper: ``qEw`` the agent alone hears the supervisor
* barge:   ``qEB`` agent and caller both hear the supervisor

(``q``: no beep and no channel name spoken; ``E``: end when the agent's
channel hangs up.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from cti import dialplan

# The same checks the dialplan makes again before ChanSpy().
CHANNEL_PATTERN = re.compile(r"^PJSIP/[A-Za-z0-9_.]+-[0-9a-f]{8}$")
INTERFACE_PATTERN = re.compile(r"^PJSIP/[A-Za-z0-9_.]+$")


class SpyMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


CHANSPY_OPTIONS = {SpyMode.LISTEN: "qE", SpyMode.WHISPER: "qEw", SpyMode.BARGE: "qEB"}


class SpyRefused(Exception):
    """A monitor request that cannot be carried out; ``code`` for the API."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class SpyOrder:
    """One Originate: ring ``supervisor_interface`` into ``dialplan.SPY_CONTEXT`` at
    the mode's extension, then ChanSpy on ``agent_channel``."""

    mode: SpyMode
    agent_id: str
    call_id: str
    agent_channel: str
    supervisor_interface: str

    @property
    def caller_id(self) -> str:
        """What the supervisor's phone shows: the mode and the agent."""
        return f'"{self.mode.value} {self.agent_id}" <{self.agent_id}>'

    @property
    def variables(self) -> dict[str, str]:
        """The Originate's channel variables: the agent's channel to spy on."""
        return {dialplan.SPY_TARGET: self.agent_channel}


def parse_mode(value: object) -> SpyMode:
    if isinstance(value, str):
        try:
            return SpyMode(value)
        except ValueError:
            pass
    raise SpyRefused(400, "bad_mode", f"mode must be one of {[m.value for m in SpyMode]}")


def agent_channel(interface: str, call_id: str, channels: Iterable[Mapping[str, str]]) -> str:
    """The agent's channel in call ``call_id``, from a CoreShowChannels list.

    The channel must belong to the agent's interface (``PJSIP/agent1001-...``)
    and to the call (its Linkedid is the call's id); anything else is refused.
    """
    prefix = f"{interface}-"
    found = [
        ch.get("Channel", "")
        for ch in channels
        if ch.get("Channel", "").startswith(prefix) and ch.get("Linkedid", "") == call_id
    ]
    found = [name for name in found if CHANNEL_PATTERN.match(name)]
    if not found:
        raise SpyRefused(409, "no_agent_channel", "the agent's channel in this call was not found")
    return found[-1]


def check_interface(interface: str | None) -> str:
    if not interface or not INTERFACE_PATTERN.match(interface):
        raise SpyRefused(
            409, "no_phone", "you have no phone (PJSIP interface) to listen on: ask an admin"
        )
    return interface
