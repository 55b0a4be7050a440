"""The hub measures its sockets in one sweep, and skips the idle ones."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

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
