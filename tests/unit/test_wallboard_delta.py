"""Wallboard deltas: a page applying them holds the board the server built."""

from __future__ import annotations

import copy
from typing import Any

from cti.wallboard.delta import board_delta
from tests.support.wallboard_frames import BoardView


def agent(agent_id: str, state: str, since_s: float | None, occupancy: float | None) -> Any:
    return {
        "agent_id": agent_id,
        "state": state,
        "since_s": since_s,
        "answered_today": 0,
        "occupancy": occupancy,
    }


def board(seq: int, at: float, agents: list[Any], waiting: int) -> dict[str, Any]:
    return {"at": at, "seq": seq, "total": {"waiting": waiting}, "queues": [], "agents": agents}


def test_a_delta_carries_only_what_changed_and_applied_gives_the_new_board() -> None:
    old = board(1, 100.0, [agent("a", "ready", 5.0, 0.5), agent("b", "talking", 9.0, 0.7)], 2)
    new = board(
        2,
        100.5,
        [agent("a", "ready", 5.5, 0.4), agent("c", "ready", 0.0, None)],  # b left, c came
        3,
    )
    delta = board_delta(old, new, {"a": 95.0, "b": 91.0}, {"a": 95.0, "c": 100.5})
    assert delta["changed"] == {"total": {"waiting": 3}}
    assert [a["agent_id"] for a in delta["agents"]] == ["c"]  # a: only the clock moved
    assert delta["agents_gone"] == ["b"] and delta["base"] == 1 and delta["seq"] == 2
    view = BoardView()
    view.take({"type": "wallboard.update", "data": copy.deepcopy(old)})
    assert view.take({"type": "wallboard.delta", "data": delta})
    held = view.data
    assert held is not None
    assert held["total"] == new["total"] and held["seq"] == 2 and held["at"] == 100.5
    assert [a["agent_id"] for a in held["agents"]] == ["a", "c"]
    assert held["agents"][0]["since_s"] == 5.5  # aged by the time between the frames


def test_a_new_stint_of_the_same_state_is_a_change() -> None:
    old = board(1, 100.0, [agent("a", "ready", 50.0, 0.5)], 0)
    new = board(2, 101.0, [agent("a", "ready", 0.2, 0.5)], 0)
    delta = board_delta(old, new, {"a": 50.0}, {"a": 100.8})
    assert delta["agents"] == new["agents"]


def test_a_delta_on_another_board_than_its_base_is_not_applied() -> None:
    old = board(1, 100.0, [], 0)
    new = board(2, 100.5, [], 1)
    view = BoardView()
    assert not view.take({"type": "wallboard.delta", "data": board_delta(old, new, {}, {})})
    view.take({"type": "wallboard.update", "data": board(5, 99.0, [], 0)})
    assert not view.take({"type": "wallboard.delta", "data": board_delta(old, new, {}, {})})
    assert view.data is not None and view.data["seq"] == 5
