"""The board a wallboard page holds, from the frames its socket gets: whole
boards (``wallboard.update``) taken, deltas (``wallboard.delta``) applied the
way ``cti/web/static/wallboard.js`` applies them."""

from __future__ import annotations

from typing import Any


class BoardView:
    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None
        self.deltas = 0  # deltas applied

    def take(self, frame: dict[str, Any]) -> bool:
        """True when ``frame`` changed the board held (a whole board, or a delta
        on the board it was made against)."""
        if frame["type"] == "wallboard.update":
            self.data = frame["data"]
            return True
        if frame["type"] != "wallboard.delta":
            return False
        delta, data = frame["data"], self.data
        if data is None or data["seq"] != delta["base"]:
            return False  # the page would ask for the whole board again
        aged = delta["at"] - data["at"]
        for agent in data["agents"]:
            if agent["since_s"] is not None:
                agent["since_s"] = round(agent["since_s"] + aged, 1)
        data.update(delta["changed"])
        agents = {a["agent_id"]: a for a in data["agents"]}
        agents.update({a["agent_id"]: a for a in delta["agents"]})
        for gone in delta["agents_gone"]:
            agents.pop(gone, None)
        data["agents"] = [agents[k] for k in sorted(agents)]
        data["at"], data["seq"] = delta["at"], delta["seq"]
        self.deltas += 1
        return True
