"""The hub measures its sockets in one sweep, and skips the idle ones."""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from cti.web.app import SESSIONS
from cti.web.hub import Subscriber
from tests.support.waiting import wait_until
from tests.support.web_desk import running_desk


async def test_idle_sockets_share_one_sweep_and_are_not_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[str] = []
    real = Subscriber.pending_bytes

    def counted(sub: Subscriber) -> int:
        measured.append(sub.username)
        return real(sub)

    monkeypatch.setattr(Subscriber, "pending_bytes", counted)
    async with running_desk(tmp_path, web_sockets_per_session=30) as desk:
        desk.hub.limits = dataclasses.replace(desk.hub.limits, check_every_s=0.02)
        status, body = await desk.login("1001")
        assert status == 200, body
        headers = {"Authorization": f"Bearer {body['token']}"}
        sockets = [await desk.client.ws_connect("/ws", headers=headers) for _ in range(25)]
        for ws in sockets:
            assert (await ws.receive_json())["type"] == "hello"
        names = [task.get_name() for task in asyncio.all_tasks()]
        assert names.count("ws-sweep") == 1
        assert not [name for name in names if "watchdog" in name]
        # every socket was measured once after its hello, then never while idle
        await wait_until(lambda: len(measured) >= 25, within=5, what="the hellos measured")
        idle_since = len(measured)
        await asyncio.sleep(0.2)  # ten sweeps
        assert len(measured) == idle_since
        # a frame to the agent: its sockets are measured again
        desk.hub.to_user("1001", "notice", {"text": "hi"})
        await wait_until(lambda: len(measured) >= idle_since + 25, within=5, what="a sweep")
        for ws in sockets:
            assert (await ws.receive_json())["type"] == "notice"
            await ws.close()
        await wait_until(
            lambda: all(t.get_name() != "ws-sweep" for t in asyncio.all_tasks()),
            within=5,
            what="the sweep to stop with the last socket",
        )


async def open_sockets(desk: Any, username: str, token: str, count: int = 5) -> list[Any]:
    """``count`` sockets of ``username``'s session, their hellos read and written out."""
    headers = {"Authorization": f"Bearer {token}"}
    sockets = [await desk.client.ws_connect("/ws", headers=headers) for _ in range(count)]
    for ws in sockets:
        assert (await ws.receive_json())["type"] == "hello"
    await wait_until(
        lambda: all(s.can_write_now() for s in desk.hub.sockets_of(username)),
        within=5,
        what="the hellos written",
    )
    return sockets


def count_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the socket transports' writes from now on."""
    writes: list[int] = []
    real = asyncio.selector_events._SelectorSocketTransport.write  # type: ignore[attr-defined]

    def counted(transport: Any, data: Any) -> None:
        writes.append(len(data))
        real(transport, data)

    monkeypatch.setattr(asyncio.selector_events._SelectorSocketTransport, "write", counted)  # type: ignore[attr-defined]
    return writes


async def assert_each_got_in_order(sockets: list[Any], count: int) -> None:
    for ws in sockets:
        got = [(await ws.receive_json())["data"]["n"] for _ in range(count)]
        assert got == list(range(count))


async def test_a_burst_of_supervisor_frames_goes_out_in_one_write_per_socket_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_desk(tmp_path, web_sockets_per_session=10) as desk:
        session = desk.client.app[SESSIONS].open("supervisor", "supervisor", time.time())
        sockets = await open_sockets(desk, "supervisor", session.token)
        writes = count_writes(monkeypatch)
        for n in range(50):  # one loop turn: a burst of AMI events
            assert desk.hub.to_supervisors("call.update", {"n": n}) == 5
        await assert_each_got_in_order(sockets, 50)
        assert len(writes) == 5  # one per socket, not 250
        for ws in sockets:
            await ws.close()


async def test_a_burst_of_frames_to_an_agent_goes_out_in_one_write_per_socket_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_desk(tmp_path, web_sockets_per_session=10) as desk:
        status, body = await desk.login("1001")
        assert status == 200, body
        sockets = await open_sockets(desk, "1001", body["token"])
        writes = count_writes(monkeypatch)
        for n in range(50):  # one loop turn: a pop, the call's updates, the agent's state
            assert desk.hub.to_user("1001", "agent.state", {"n": n}) == 5
        await assert_each_got_in_order(sockets, 50)
        assert len(writes) == 5  # one per socket, not 250
        for ws in sockets:
            await ws.close()
