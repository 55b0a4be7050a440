"""Limits on sessions, sockets, JSON and queues: each refusal is a clear error, not a 500."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import aiohttp
import pytest

from cti.ami.client import AmiClient, AmiError, Connected, Disconnected
from cti.domain import effects as fx
from cti.service.pbx_actions import PbxActions, PbxQueueFull
from cti.web.hub import WS_TOO_SLOW
from cti.web.json_limits import JsonRefused, loads_limited, nesting_depth
from tests.support.fake_ami import FakeAmi, frame
from tests.support.raw_ws import close_of, read_frames, stalled_socket
from tests.support.waiting import wait_until
from tests.support.web_desk import running_desk

DEEP = "[" * 100_000 + "]" * 100_000


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert nesting_depth('{"a": [1, {"b": "[[[{{{\\"]]]"}]}') == 3
    assert loads_limited('{"a": "[[[[[[[[[[[[[[[[[[[[[["}', max_depth=1) == {"a": "[" * 22}
    with pytest.raises(JsonRefused, match="deeper than 2"):
        loads_limited('{"a": [[1]]}', max_depth=2)
    with pytest.raises(JsonRefused) as refused:
        loads_limited(DEEP)
    assert refused.value.code == "too_deep"


async def test_deeply_nested_json_on_the_login_gives_a_clear_400(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        async with desk.client.post(
            "/api/login",
            data=DEEP[:20_000] + DEEP[-20_000:],
            headers={"Content-Type": "application/json"},
        ) as r:
            assert r.status == 400
            body = await r.json()
        assert body["error"] == "bad_request" and "deeper" in body["message"]
        status, _ = await desk.login()
        assert status == 200


async def test_deeply_nested_websocket_message_gets_an_error_frame_and_the_socket_lives(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        _, data = await desk.login()
        headers = {"Authorization": f"Bearer {data['token']}"}
        async with desk.client.ws_connect("/ws", headers=headers) as ws:
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
            await ws.send_str("[" * 8000 + "]" * 8000)
            reply = json.loads((await ws.receive(timeout=5)).data)
            assert reply["type"] == "error" and reply["data"]["error"] == "too_deep"
            await ws.send_str('{"type": "ping"}')
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "pong"


async def test_websockets_per_session_are_limited_with_a_clear_error(tmp_path: Path) -> None:
    async with running_desk(tmp_path, web_sockets_per_session=2) as desk:
        _, data = await desk.login()
        headers = {"Authorization": f"Bearer {data['token']}"}
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(2):
                await stack.enter_async_context(desk.client.ws_connect("/ws", headers=headers))
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await desk.client.ws_connect("/ws", headers=headers)
            assert refused.value.status == 429
            async with desk.client.get("/ws", headers=headers) as r:
                assert r.status == 429
                assert (await r.json())["error"] == "too_many_sockets"
        # closed sockets free their places
        await wait_until(lambda: not desk.hub.sockets_of("1001"), within=5, what="sockets closed")
        async with desk.client.ws_connect("/ws", headers=headers) as ws:
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"


async def test_sessions_per_user_are_limited_with_a_clear_error(tmp_path: Path) -> None:
    async with running_desk(tmp_path, web_sessions_per_user=2) as desk:
        tokens = []
        for _ in range(2):
            status, data = await desk.login()
            assert status == 200
            tokens.append(data["token"])
        status, data = await desk.login()
        assert status == 429 and data["error"] == "too_many_sessions"
        async with desk.client.post(
            "/api/logout", json={}, headers={"Authorization": f"Bearer {tokens[0]}"}
        ) as r:
            assert r.status == 200
        status, _ = await desk.login()
        assert status == 200


async def test_pbx_action_queue_is_bounded_with_a_clear_error() -> None:
    class NeverAnswers:
        async def action(self, fields: object, **_: object) -> None:
            await asyncio.Event().wait()

    actions = PbxActions(NeverAnswers(), max_queued=3)  # type: ignore[arg-type]
    # without its worker nothing leaves the queue: it holds three, then refuses
    waiting = [asyncio.create_task(actions.hangup(f"PJSIP/x-{i}")) for i in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(PbxQueueFull, match="3 PBX actions already waiting"):
        await actions.hangup("PJSIP/x-4")
    actions.carry_out(fx.RemoveQueueMember("billing", "PJSIP/1001"))
    assert actions.dropped == 1
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_ami_event_queue_overflow_drops_the_connection_and_reconnects() -> None:
    async with FakeAmi() as ami:
        client = AmiClient("127.0.0.1", ami.port, "cti", ami.secret, max_queued_events=50)
        task = asyncio.create_task(client.run(first_connect_retries=2))
        try:
            await wait_until(client.logged_in.is_set, within=5, what="AMI login")
            ami.send_raw(b"".join(frame(Event="Newchannel", Linkedid=str(i)) for i in range(200)))
            await wait_until(lambda: client.events_overflowed == 1, within=5, what="overflow")
            seen: list[object] = []
            async with asyncio.timeout(5):
                while not (seen and isinstance(seen[-1], Connected) and len(seen) > 2):
                    seen.append(await client.events.get())
            assert client.events.qsize() == 0
            assert any(isinstance(item, Disconnected) for item in seen)
            assert sum(1 for item in seen if not isinstance(item, Connected | Disconnected)) <= 51
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, AmiError):
                await task


# ------------------------------------------------------------- a real slow reader


async def test_a_client_that_stops_reading_is_closed_with_1013_within_a_bounded_time(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, ws_send_timeout_s=2.0, ws_pending_bytes=64 * 1024) as desk:
        _, data = await desk.login()
        sock = stalled_socket(desk.client.host, desk.client.port, data["token"])
        try:
            await wait_until(
                lambda: len(desk.hub.sockets_of("1001")) == 1, within=5, what="socket attached"
            )
            # from now on the client reads nothing; the server has plenty to say
            payload = {"state": "talking", "filler": "x" * 200}  # a state change's size
            started = time.monotonic()
            sent = 0
            while desk.hub.sockets_of("1001"):
                assert time.monotonic() - started < 20, "a stalled client was never dropped"
                desk.hub.to_user("1001", "agent", payload)
                sent += 1
                await asyncio.sleep(0.002)
            dropped_after = time.monotonic() - started
            # the client reads again: what was in flight, then the close frame with 1013
            frames = await asyncio.to_thread(read_frames, sock, 10.0)
        finally:
            sock.close()
        assert dropped_after < 6, dropped_after
        assert close_of(frames) == (WS_TOO_SLOW, b"too slow")
