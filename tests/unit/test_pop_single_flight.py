"""The screen-pop's lookups: one per call, a few at a time, never holding the pop back.

A running desk (real core, SQLite database, aiohttp server; stub AMI): calls
are played into the core as domain events, the repository's lookups are
counted as they run (they still run against the database).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from cti.domain import events as ev
from tests.support.waiting import wait_until
from tests.support.web_desk import RunningDesk, running_desk
from tests.support.ws_frames import next_of_type

ALICE = "15550100001"  # a demo customer with earlier calls possible


class CountedLookups:
    """Wraps the repository's pop lookups: how many ran, and how many at once."""

    def __init__(
        self, desk: RunningDesk, gate: asyncio.Event | None = None, gated: str | None = None
    ) -> None:
        self.calls: Counter[str] = Counter()
        self.numbers: Counter[str] = Counter()
        self.running = self.most = 0
        self.gate, self.gated = gate, gated  # the gate holds lookups of ``gated`` (or all)
        repository = desk.hotline.repository
        for name in ("customer_by_phone", "recent_calls"):
            setattr(repository, name, self._counted(name, getattr(repository, name)))

    def _counted(
        self, name: str, real: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def lookup(*args: Any) -> Any:
            self.calls[name] += 1
            self.numbers[args[0]] += 1
            self.running += 1
            self.most = max(self.most, self.running)
            try:
                if self.gate is not None and self.gated in (None, args[0]):
                    await self.gate.wait()
                return await real(*args)
            finally:
                self.running -= 1

        return lookup


async def agent_sockets(
    desk: RunningDesk, agent: str, count: int
) -> list[aiohttp.ClientWebSocketResponse]:
    status, body = await desk.login(agent)
    assert status == 200, body
    headers = {"Authorization": f"Bearer {body['token']}"}
    async with desk.client.post("/api/agent/state", json={"state": "ready"}, headers=headers) as r:
        assert r.status == 200, await r.text()
    sockets = [await desk.client.ws_connect("/ws", headers=headers) for _ in range(count)]
    for ws in sockets:
        await next_of_type(ws, "hello")
    return sockets


def play(desk: RunningDesk, *events: ev.DomainEvent) -> None:
    for event in events:
        desk.hotline.carry_out(desk.hotline.core.apply(event))


async def test_every_offer_and_every_socket_of_a_call_share_one_lookup_of_each_kind(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        counted = CountedLookups(desk)
        first = await agent_sockets(desk, "1001", 3)
        second = await agent_sockets(desk, "1002", 2)
        t = time.time()
        play(
            desk,
            ev.CallStarted("c1", "PJSIP/trunk-c1", ALICE, "", t),
            ev.CallQueued("c1", "billing", 1, t),
            ev.AgentRang("c1", "1001", "billing", t + 1),
            ev.AgentRingStopped("c1", "1001", t + 16),
            ev.AgentRang("c1", "1002", "billing", t + 17),
            ev.AgentRingStopped("c1", "1002", t + 32),
            ev.AgentRang("c1", "1001", "billing", t + 33),
        )
        for ws in first + second:
            pop = await next_of_type(ws, "screen.pop")
            assert pop["call_id"] == "c1"
        await wait_until(desk.hotline.desktop.lookups_done, within=5, what="the lookups")
        await desk.hotline.drain()
        assert counted.calls == Counter({"customer_by_phone": 1, "recent_calls": 1})
        for ws in first + second:
            await ws.close()


async def test_a_burst_of_calls_never_runs_more_lookups_at_once_than_allowed(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, pop_lookup_concurrency=3) as desk:
        gate = asyncio.Event()
        counted = CountedLookups(desk, gate)
        t = time.time()
        for n in range(40):
            play(desk, ev.CallStarted(f"b{n}", f"PJSIP/trunk-b{n}", f"1555020{n:04d}", "", t))
        await wait_until(lambda: counted.running == 3, within=5, what="three lookups running")
        assert desk.hotline.desktop.db_lookups.waiting == 77
        gate.set()
        await wait_until(desk.hotline.desktop.lookups_done, within=10, what="every lookup")
        assert counted.most == 3
        assert counted.calls == Counter({"customer_by_phone": 40, "recent_calls": 40})


async def test_the_pop_goes_out_at_once_while_the_lookups_wait_and_the_rest_follows(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, pop_lookup_concurrency=1, pop_history_wait_s=0.3) as desk:
        gate = asyncio.Event()
        counted = CountedLookups(desk, gate)
        (ws,) = await agent_sockets(desk, "1001", 1)
        # another call's lookup holds the only turn (as a slow database would)
        t = time.time()
        play(desk, ev.CallStarted("busy", "PJSIP/trunk-busy", "15550209999", "", t))
        await wait_until(lambda: counted.running == 1, within=5, what="the turn taken")
        play(
            desk,
            ev.CallStarted("c1", "PJSIP/trunk-c1", ALICE, "", t),
            ev.CallQueued("c1", "billing", 1, t),
            ev.AgentRang("c1", "1001", "billing", t + 1),
        )
        pop = await next_of_type(ws, "screen.pop", within=1)
        assert pop["call_id"] == "c1"
        assert (pop["customer_pending"], pop["context_pending"]) == (True, True)
        # both calls' last calls wait longer than pop_history_wait_s: given up
        lookups = desk.hotline.desktop.db_lookups
        await wait_until(lambda: lookups.given_up == 2, within=5, what="the last calls given up")
        gate.set()
        update = await next_of_type(ws, "screen.pop")
        assert update["call_id"] == "c1"
        assert (update["customer_pending"], update["context_pending"]) == (False, False)
        assert update["customer"]["name"] == "Alice Johnson"
        assert update["history"] is None  # the page says "last calls unavailable"
        assert counted.calls["recent_calls"] == 0
        await ws.close()


async def test_an_ended_calls_cdr_does_not_wait_in_the_pops_line(tmp_path: Path) -> None:
    async with running_desk(tmp_path, pop_lookup_concurrency=1) as desk:
        gate = asyncio.Event()
        counted = CountedLookups(desk, gate, gated="15550209999")
        try:
            t = time.time()
            # another call's lookup holds the only turn (a slow database)
            play(desk, ev.CallStarted("busy", "PJSIP/trunk-busy", "15550209999", "", t))
            await wait_until(lambda: counted.running == 1, within=5, what="the turn taken")
            play(desk, ev.CallStarted("c1", "PJSIP/trunk-c1", ALICE, "", t))
            lookups = desk.hotline.desktop.db_lookups
            # in line: the busy call's last calls, c1's customer and last calls
            await wait_until(lambda: lookups.waiting == 3, within=5, what="three in line")
            play(desk, ev.CallEnded("c1", t + 20, "Normal"))
            # the CDR is handed over and written while the busy lookup still holds
            store = next(t for t in asyncio.all_tasks() if t.get_name() == "cdr-c1")
            async with asyncio.timeout(5):
                await store
                await desk.hotline.records.queue.join()
            row = await desk.hotline.repository.cdr("c1")
            assert row is not None
            customer = await desk.hotline.repository.customer_by_phone(ALICE)
            assert customer is not None and row.customer_id == customer.id
            # c1's own pop lookups were dropped from the line, never run
            assert lookups.waiting == 1
            assert counted.numbers[ALICE] == 1  # the test's own: none for the CDR
            assert counted.calls["recent_calls"] == 0
        finally:
            gate.set()  # the busy call's lookup ends, whatever happened
