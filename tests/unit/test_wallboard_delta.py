"""Wallboard deltas: a page applying them holds the board the server built, and a
delta carries only what changed (clock-driven values are aged by the page)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cti.wallboard.delta import HeldBoard, NotADelta, apply_delta, patch
from tests.support.wallboard_frames import BoardView


def agent(agent_id: str, state: str, since_s: float | None, occupancy: float | None) -> Any:
    return {
        "agent_id": agent_id,
        "state": state,
        "since_s": since_s,
        "answered_today": 0,
        "occupancy": occupancy,
    }


def figures(offered: int, answered: int) -> dict[str, Any]:
    return {"offered": offered, "answered": answered, "service_level": None, "asa_s": 2.5}


def queue(name: str, waiting: int, longest: float, offered: int) -> dict[str, Any]:
    return {
        "queue": name,
        "waiting": waiting,
        "longest_wait_s": longest,
        "today": figures(offered, 0),
        "window": figures(offered, 0),
        "agents": {"ready": 1, "talking": 0},
    }


def board(seq: int, at: float, agents: list[Any], queues: list[Any], **top: Any) -> dict[str, Any]:
    waiting = sum(q["waiting"] for q in queues)
    return {
        "at": at,
        "seq": seq,
        "date": "2026-12-04",
        "alarms": top.get("alarms", []),
        "total": {
            "waiting": waiting,
            "longest_wait_s": max((q["longest_wait_s"] for q in queues), default=0.0),
            "today": figures(sum(q["today"]["offered"] for q in queues), 0),
        },
        "queues": queues,
        "agents": agents,
        "intervals": top.get("intervals", [{"start": 0.0, "label": "00:00", "offered": 1}]),
    }


def stamps(agents: dict[str, float], queues: dict[str, float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {"agent:" + k: v for k, v in agents.items()}
    return out | {"queue:" + k: v for k, v in queues.items()}


def held_with(old: dict[str, Any], old_stamps: dict[str, float | None]) -> tuple[HeldBoard, Any]:
    view = BoardView()
    view.take({"type": "wallboard.update", "data": copy.deepcopy(old)})
    return HeldBoard(copy.deepcopy(old), old_stamps), view


def test_a_delta_carries_only_what_changed_and_applied_gives_the_new_board() -> None:
    old = board(
        1,
        100.0,
        [agent("a", "ready", 5.0, 0.5), agent("b", "talking", 9.0, 0.7)],
        [queue("billing", 1, 3.0, 4), queue("general", 0, 0.0, 2)],
    )
    held, view = held_with(old, stamps({"a": 95.0, "b": 91.0}, {"billing": 97.0, "": 97.0}))
    new = board(
        2,
        100.5,
        [agent("a", "ready", 5.5, 0.5), agent("c", "ready", 0.0, None)],  # b left, c came
        # billing's caller still waits (the clock moved); general got one more call
        [queue("billing", 1, 3.5, 4), queue("general", 1, 0.0, 3)],
    )
    new_stamps = stamps({"a": 95.0, "c": 100.5}, {"billing": 97.0, "general": 100.5, "": 97.0})
    delta = held.update(new, [new["agents"][1]], {"a", "c"}, new_stamps, {})
    assert delta["base"] == 1 and delta["seq"] == 2 and delta["changed"] == {}
    assert [a["agent_id"] for a in delta["agents"]] == ["c"]  # a: only the clock moved
    assert delta["agents_gone"] == ["b"]
    # only the keys that changed, the figures too; billing's wait is aged by the page
    assert delta["queues"] == [
        {"queue": "general", "waiting": 1, "today": {"offered": 3}, "window": {"offered": 3}}
    ]
    assert delta["total"] == {"waiting": 2, "today": {"offered": 7}}
    assert "intervals" not in delta and "occupancy" not in delta
    assert view.take({"type": "wallboard.delta", "data": json.loads(json.dumps(delta))})
    held_board = view.data
    assert held_board is not None and held_board["seq"] == 2 and held_board["at"] == 100.5
    assert held_board["queues"] == new["queues"] and held_board["total"] == new["total"]
    assert [a["agent_id"] for a in held_board["agents"]] == ["a", "c"]
    assert held_board["agents"][0]["since_s"] == pytest.approx(5.5)  # aged by 0.5 s
    # the server's copy (what a page that opens reads) is the same board
    assert held.board(100.5) == held_board


def test_another_call_becoming_the_longest_waiting_is_a_change() -> None:
    old = board(1, 100.0, [], [queue("billing", 2, 30.0, 4)])
    held, view = held_with(old, stamps({}, {"billing": 70.0, "": 70.0}))
    # the caller who waited 30 s was answered: the next one has waited 4 s
    new = board(2, 101.0, [], [queue("billing", 1, 4.0, 4)])
    delta = held.update(new, [], set(), stamps({}, {"billing": 97.0, "": 97.0}), {})
    assert delta["queues"] == [{"queue": "billing", "waiting": 1, "longest_wait_s": 4.0}]
    assert view.take({"type": "wallboard.delta", "data": delta})
    assert view.data["queues"][0]["longest_wait_s"] == 4.0


def test_a_new_stint_of_the_same_state_and_fresh_occupancies_are_sent() -> None:
    old = board(1, 100.0, [agent("a", "ready", 50.0, 0.5), agent("b", "ready", 9.0, 0.2)], [])
    held, view = held_with(old, stamps({"a": 50.0, "b": 91.0}, {}))
    new = board(2, 101.0, [], [])
    fresh = agent("a", "ready", 0.2, 0.51)  # a took a call and is ready again
    occupancy = {"a": 0.51, "b": 0.25}  # the clock asked for every occupancy
    delta = held.update(new, [fresh], {"a", "b"}, stamps({"a": 100.8, "b": 91.0}, {}), occupancy)
    assert delta["agents"] == [fresh] and delta["occupancy"] == {"b": 0.25}
    assert view.take({"type": "wallboard.delta", "data": delta})
    assert view.data["agents"][1]["occupancy"] == 0.25
    # unchanged occupancies are not sent again
    again = held.update(board(3, 102.0, [], []), [], {"a", "b"}, held.stamps, {"b": 0.25})
    assert "occupancy" not in again and again["base"] == 2


def test_a_changed_alarm_list_and_a_new_interval_are_sent_whole() -> None:
    old = board(1, 100.0, [], [])
    held, view = held_with(old, {})
    alarm = {"rule": "slow", "queue": "billing", "value": 31}
    rows = [{"start": 0.0, "label": "00:00", "offered": 1}, {"start": 900.0, "label": "00:15"}]
    new = board(2, 101.0, [], [], alarms=[alarm], intervals=rows)
    delta = held.update(new, [], set(), {}, {})
    assert delta["changed"] == {"alarms": [alarm]} and delta["intervals"] == [rows[1]]
    assert view.take({"type": "wallboard.delta", "data": delta})
    assert view.data["alarms"] == [alarm] and view.data["intervals"] == rows


def test_a_delta_on_another_board_than_its_base_is_not_applied() -> None:
    old = board(1, 100.0, [], [])
    held = HeldBoard(copy.deepcopy(old), {})
    delta = held.update(board(2, 100.5, [], [queue("billing", 1, 0.0, 1)]), [], set(), {}, {})
    view = BoardView()
    assert not view.take({"type": "wallboard.delta", "data": delta})
    view.take({"type": "wallboard.update", "data": board(5, 99.0, [], [])})
    assert not view.take({"type": "wallboard.delta", "data": delta})
    assert view.data is not None and view.data["seq"] == 5


def test_a_mapping_that_lost_a_key_is_no_delta_and_the_held_board_stays() -> None:
    old = board(1, 100.0, [], [queue("billing", 0, 0.0, 1)])
    held = HeldBoard(copy.deepcopy(old), {})
    new = board(2, 101.0, [], [queue("billing", 0, 0.0, 1)])
    del new["queues"][0]["window"]["asa_s"]
    with pytest.raises(NotADelta):
        held.update(new, [], set(), {}, {})
    assert held.seq == 1 and held.board(100.0)["queues"] == old["queues"]


def test_a_patch_keeps_nulls_and_nested_changes_only() -> None:
    old = {"a": 1, "b": {"x": 1, "y": None}, "c": [1]}
    new = {"a": 1, "b": {"x": 1, "y": 2}, "c": [1, 2], "d": None}
    assert patch(old, new) == {"b": {"y": 2}, "c": [1, 2], "d": None}
    held = {"at": 0.0, "seq": 0, "total": old, "queues": [], "intervals": [], "agents": []}
    apply_delta(held, {"at": 0.0, "seq": 1, "changed": {}, "total": patch(old, new)})
    assert held["total"] == new
