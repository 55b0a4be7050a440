"""The board the supervisors' pages hold, and the deltas that keep it.

A whole board (``wallboard.update``, about 200 bytes per agent) goes to a
socket once: the first frame after nobody watched, or when a change cannot be
said as a delta. A page that opens its socket reads the board held here from
``GET /api/wallboard`` (same ``seq``) and applies the deltas after it; a page
that missed one (its ``seq`` is not the delta's ``base``) reads it again.

A delta (``wallboard.delta``) carries only what changed since the frame before:

* ``changed``: top-level fields replaced whole (alarms, date, ...);
* ``total``: a patch of the totals: the keys that changed, and for the
  figure mappings in it (``today``, ``window``) only their keys that changed;
* ``queues`` (patches, by ``queue``) and ``queues_gone``;
* ``intervals`` (whole rows, by ``start``) and ``intervals_gone``;
* ``agents`` (whole entries, by ``agent_id``) and ``agents_gone``;
* ``occupancy``: fresh occupancies of agents not in ``agents`` (by ``agent_id``).

Fields that move with the clock alone are not changes: they are aged by the
page by the time between two frames' ``at``: an agent's time in state
(``since_s``; a new stint, even of the same state, is a change) and the
longest wait of a queue and of the total (``longest_wait_s`` while calls wait;
another call becoming the longest waiting is a change). An agent's occupancy
is sent fresh with any change of the agent and, for every agent whose
rounded value moved, when the clock asks (``occupancy``).
"""

from __future__ import annotations

import copy
from typing import Any

#: top-level fields that are not compared (the frame's own time and number)
FRAME_FIELDS = ("at", "seq")
#: fields sent as patches or by key, not replaced whole
KEYED = {"queues": "queue", "intervals": "start", "agents": "agent_id"}
PATCHED = ("total",)


class NotADelta(ValueError):
    """The change cannot be said as a delta (a mapping lost keys): send the board."""


def patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What turns mapping ``old`` into ``new``: changed keys; a mapping in both
    (same keys) as its own patch, anything else whole. Raises :class:`NotADelta`
    when ``new`` lacks a key of ``old`` (a patch only adds and replaces)."""
    if old.keys() - new.keys():
        raise NotADelta(f"keys gone: {sorted(old.keys() - new.keys())}")
    out: dict[str, Any] = {}
    for key, value in new.items():
        was = old.get(key, patch)  # (a sentinel: None is a value)
        if was == value:
            continue
        if isinstance(value, dict) and isinstance(was, dict):
            out[key] = patch(was, value)
        else:
            out[key] = value
    return out


def apply_patch(target: dict[str, Any], changes: dict[str, Any]) -> None:
    """``target`` patched in place (as the page does)."""
    for key, value in changes.items():
        held = target.get(key)
        if isinstance(value, dict) and isinstance(held, dict):
            apply_patch(held, value)
        else:
            target[key] = value


def _plain(field: str) -> bool:
    """A top-level field replaced whole when it changes."""
    return field not in FRAME_FIELDS and field not in KEYED and field not in PATCHED


def _age(value: float | None, by: float) -> float | None:
    # not rounded: frames 20 ms apart would never move a value rounded to 0.1 s
    return None if value is None else value + by


class HeldBoard:
    """The board as every watching page holds it after the last frame sent.

    ``stamps`` tell what the clock fields count from (an agent's stint start,
    the longest waiting call's queue time), by ``agent_id`` and by queue
    (``""``: the total); a stamp that moved is a change.
    """

    def __init__(self, board: dict[str, Any], stamps: dict[str, float | None]) -> None:
        self.at: float = board["at"]
        self.seq: int = board["seq"]
        self.top = {k: copy.deepcopy(v) for k, v in board.items() if _plain(k)}
        self.total: dict[str, Any] = copy.deepcopy(board["total"])
        self.queues = {q["queue"]: copy.deepcopy(q) for q in board["queues"]}
        self.intervals = {r["start"]: dict(r) for r in board["intervals"]}
        self.agents = {a["agent_id"]: dict(a) for a in board["agents"]}
        self.stamps = dict(stamps)

    def agent_stamp(self, agent_id: str) -> float | None:
        return self.stamps.get("agent:" + agent_id)

    def board(self, now: float) -> dict[str, Any]:
        """The board held, its clock fields aged to ``now`` (what ``GET /api/wallboard``
        answers: the deltas after ``seq`` apply to it)."""
        by = max(0.0, now - self.at)
        total = copy.deepcopy(self.total)
        queues = [copy.deepcopy(self.queues[k]) for k in sorted(self.queues)]
        for part in [total, *queues]:
            if part.get("waiting"):
                part["longest_wait_s"] = _age(part.get("longest_wait_s"), by)
        agents = []
        for agent_id in sorted(self.agents):
            agent = dict(self.agents[agent_id])
            stamp = self.agent_stamp(agent_id)
            if agent["since_s"] is not None and stamp is not None:
                agent["since_s"] = round(max(0.0, now - stamp), 1)
            agents.append(agent)
        return {
            "at": now,
            "seq": self.seq,
            **copy.deepcopy(self.top),
            "total": total,
            "queues": queues,
            "agents": agents,
            "intervals": [dict(self.intervals[k]) for k in sorted(self.intervals)],
        }

    def update(
        self,
        new: dict[str, Any],
        agents: list[dict[str, Any]],
        present: set[str],
        stamps: dict[str, float | None],
        occupancy: dict[str, float | None],
    ) -> dict[str, Any]:
        """The delta to board ``new`` (every field but ``agents``), with ``agents``
        the entries of agents whose steady fields or stint changed, ``present``
        every agent on the board, ``stamps`` the new clock stamps and
        ``occupancy`` fresh occupancies (of any agents). The held board becomes
        the new one. Raises :class:`NotADelta` (the held board then unchanged)."""
        changed = {k: v for k, v in new.items() if _plain(k) and self.top.get(k, patch) != v}
        total = self._clocked(self.total, new["total"], stamps.get("queue:"))
        queues: list[dict[str, Any]] = []
        new_queues = {q["queue"]: q for q in new["queues"]}
        for name, queue in new_queues.items():
            was = self.queues.get(name)
            if was is None:
                queues.append(queue)
                continue
            diff = self._clocked(was, queue, stamps.get("queue:" + name))
            if diff:
                queues.append({"queue": name, **diff})
        intervals = [r for r in new["intervals"] if self.intervals.get(r["start"]) != r]
        new_starts = {r["start"] for r in new["intervals"]}
        if any(_plain(k) for k in self.top.keys() - new.keys()):
            raise NotADelta("a field is gone")
        # all checked: now the held board moves (it keeps parts of ``new``: a
        # board built for one frame is not changed afterwards)
        self.top.update(changed)
        self.total = new["total"]
        queues_gone = sorted(set(self.queues) - set(new_queues))
        self.queues = new_queues
        intervals_gone = sorted(set(self.intervals) - new_starts)
        self.intervals = {r["start"]: dict(r) for r in new["intervals"]}
        agents_gone = sorted(set(self.agents) - present)
        for agent_id in agents_gone:
            del self.agents[agent_id]
        sent = set()
        for agent in agents:
            self.agents[agent["agent_id"]] = dict(agent)
            sent.add(agent["agent_id"])
        fresh = {}
        for agent_id, value in occupancy.items():
            held = self.agents.get(agent_id)
            if held is not None and agent_id not in sent and held["occupancy"] != value:
                held["occupancy"] = value
                fresh[agent_id] = value
        self.stamps = dict(stamps)
        base, self.at, self.seq = self.seq, new["at"], new["seq"]
        delta: dict[str, Any] = {
            "at": self.at,
            "seq": self.seq,
            "base": base,
            "changed": changed,
            "agents": agents,
            "agents_gone": agents_gone,
        }
        optional = {
            "total": total,
            "queues": queues,
            "queues_gone": queues_gone,
            "intervals": intervals,
            "intervals_gone": intervals_gone,
            "occupancy": fresh,
        }
        delta |= {k: v for k, v in optional.items() if v}
        return delta

    def _clocked(
        self, old: dict[str, Any], new: dict[str, Any], stamp: float | None
    ) -> dict[str, Any]:
        """Patch of a queue's (or the total's) figures; its longest wait a change
        only when another call is the longest waiting or none waits."""
        key = "queue:" + new.get("queue", "")
        diff = patch(old, new)
        if (
            "longest_wait_s" in diff
            and new.get("waiting")
            and old.get("waiting")
            and stamp is not None
            and self.stamps.get(key) == stamp
        ):
            del diff["longest_wait_s"]  # the page ages it
        return diff


def apply_delta(held: dict[str, Any], delta: dict[str, Any]) -> None:
    """``delta`` applied to the board ``held`` (whose ``seq`` is its ``base``), in
    place: the logic of ``cti/web/static/wallboard.js``, for tests."""
    by = delta["at"] - held["at"]
    for part in [held["total"], *held["queues"]]:
        if part.get("waiting"):
            part["longest_wait_s"] = _age(part["longest_wait_s"], by)
    for agent in held["agents"]:
        agent["since_s"] = _age(agent["since_s"], by)
    held.update(delta["changed"])
    apply_patch(held["total"], delta.get("total", {}))
    for field, key in KEYED.items():
        rows = {r[key]: r for r in held[field]}
        for gone in delta.get(field + "_gone", ()):
            rows.pop(gone, None)
        for row in delta.get(field, ()):
            if row[key] in rows and field == "queues":
                apply_patch(rows[row[key]], row)
            else:
                rows[row[key]] = row
        held[field] = [rows[k] for k in sorted(rows)]
    for agent in held["agents"]:
        if agent["agent_id"] in delta.get("occupancy", {}):
            agent["occupancy"] = delta["occupancy"][agent["agent_id"]]
    held["at"], held["seq"] = delta["at"], delta["seq"]
