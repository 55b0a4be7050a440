"""The AMI actions the CTI sends, and the least rights (manager.conf) they need.

Each action is registered in Asterisk with a set of classes; a user may send
it when its ``write`` holds at least one of them (none: anyone logged in).
:data:`WRITE` is the least ``write`` that covers :data:`ACTIONS`; manager.conf
grants exactly that (checked by a test, which also checks that the sources
send no other action).
"""

from __future__ import annotations

__all__ = ["ACTIONS", "FORBIDDEN_WRITE", "WRITE", "least_write"]

#: action -> the class of ``write`` that permits it (None: no class needed).
ACTIONS: dict[str, str | None] = {
    "Login": None,
    "Logoff": None,
    "Ping": None,
    "QueueStatus": None,
    "Setvar": "call",
    "Getvar": "call",
    "Hangup": "call",
    "Redirect": "call",
    # registered system|call: call is enough (the agent's recording pause)
    "MixMonitorMute": "call",
    "Originate": "originate",
    "QueueAdd": "agent",
    "QueueRemove": "agent",
    "QueuePause": "agent",
    # registered system|reporting: reporting is the read-only one
    "CoreShowChannels": "reporting",
}

#: Classes that must never be granted to the CTI: system allows ModuleLoad,
#: Reload and an Originate of System(); command runs CLI commands; config
#: rewrites the configuration.
FORBIDDEN_WRITE = frozenset({"system", "command", "config", "all"})


def least_write(actions: dict[str, str | None] = ACTIONS) -> frozenset[str]:
    """The classes a ``write =`` line needs for ``actions``."""
    return frozenset(c for c in actions.values() if c is not None)


WRITE = least_write()
