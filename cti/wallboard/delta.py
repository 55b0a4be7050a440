"""Wallboard frames as changes: what differs from the frame sent before.

A whole board is about 200 bytes per agent, and between two frames (0.1 s
apart) only a few agents and figures change. A delta (``wallboard.delta``)
carries the top-level fields that changed, whole, and the agents that changed
or left, by ``agent_id``; the page applies it to the board it holds when its
``base`` is that board's ``seq`` (else it asks for the whole board again).

Two fields of an agent move with the clock alone and are not changes: the
time in state (``since_s``, which the page ages by the time between the
frames' ``at``; a new stint, even of the same state, is a change) and the
occupancy (sent fresh with any other change of the agent and in each whole
board, every ``FULL_EVERY_S`` at most).
"""

from __future__ import annotations

from typing import Any

FULL_EVERY_S = 5.0
#: fields of a frame that are not compared (the frame's own time and number)
FRAME_FIELDS = ("at", "seq")
#: agent fields that move with the clock alone
CLOCK_FIELDS = ("since_s", "occupancy")


def _steady(agent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in agent.items() if k not in CLOCK_FIELDS}


def board_delta(
    old: dict[str, Any],
    new: dict[str, Any],
    old_since: dict[str, float],
    new_since: dict[str, float],
) -> dict[str, Any]:
    """What turns board ``old`` into board ``new`` (``*_since``: each agent's
    stint start, by ``agent_id``)."""
    changed = {
        k: v for k, v in new.items() if k not in FRAME_FIELDS and k != "agents" and old.get(k) != v
    }
    before = {a["agent_id"]: a for a in old.get("agents", ())}
    agents = []
    for agent in new["agents"]:
        agent_id = agent["agent_id"]
        was = before.pop(agent_id, None)
        if (
            was is None
            or old_since.get(agent_id) != new_since.get(agent_id)
            or _steady(was) != _steady(agent)
        ):
            agents.append(agent)
    return {
        "at": new["at"],
        "seq": new["seq"],
        "base": old["seq"],
        "changed": changed,
        "agents": agents,
        "agents_gone": sorted(before),
    }
