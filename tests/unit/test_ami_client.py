"""The AMI adapter against a scripted AMI server: the panoramisk guards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from cti.ami.client import (
    AmiActionTimeout,
    AmiAuthError,
    AmiClient,
    AmiError,
    Connected,
    Disconnected,
)
from tests.support.fake_ami import FakeAmi, frame
from tests.support.waiting import wait_until


@contextlib.asynccontextmanager
async def connected(ami: FakeAmi, **kw: float) -> AsyncIterator[AmiClient]:
    client = AmiClient("127.0.0.1", ami.port, "cti", ami.secret, **kw)  # type: ignore[arg-type]
    task = asyncio.create_task(client.run(first_connect_retries=2))
    try:
        async with asyncio.timeout(5):
            while not isinstance(await client.events.get(), Connected):
                pass  # FullyBooted comes first
        yield client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AmiError):
            await task


async def next_event(client: AmiClient) -> object:
    async with asyncio.timeout(5):
        return await client.events.get()


async def test_wrong_secret_raises_instead_of_hanging() -> None:
    async with FakeAmi() as ami:
        client = AmiClient("127.0.0.1", ami.port, "cti", "wrong")
        with pytest.raises(AmiAuthError, match="refused"):
            async with asyncio.timeout(5):
                await client.run()


async def test_unreachable_ami_gives_up_after_retries() -> None:
    client = AmiClient("127.0.0.1", 1, "cti", "x", connect_timeout=0.5)
    with pytest.raises(AmiError, match="cannot reach AMI"):
        async with asyncio.timeout(10):
            await client.run(first_connect_retries=1)


async def test_utf8_name_split_across_chunks_arrives_whole() -> None:
    async with FakeAmi() as ami, connected(ami) as client:
        data = frame(Event="Newchannel", CallerIDName="张伟 José Müller", Linkedid="1")
        cut = data.index("伟".encode()) + 1  # in the middle of a 3-byte character
        ami.send_raw(data[:cut])
        await asyncio.sleep(0)  # let the first part be read as its own chunk
        for writer in ami.writers:
            await writer.drain()
        ami.send_raw(data[cut:])
        event = await next_event(client)
        assert event["CallerIDName"] == "张伟 José Müller"  # type: ignore[index]


async def test_events_are_queued_in_order_and_garbage_is_skipped() -> None:
    async with FakeAmi() as ami, connected(ami) as client:
        ami.send_raw(b"this is not an AMI frame\r\n\r\n")
        for n in range(50):
            ami.send_raw(frame(Event="VarSet", Value=str(n)))
        values = [(await next_event(client))["Value"] for _ in range(50)]  # type: ignore[index]
        assert values == [str(n) for n in range(50)]


async def test_action_timeout_forgets_the_action() -> None:
    async with FakeAmi() as ami, connected(ami, action_timeout=0.2) as client:
        ami.silent = True
        with pytest.raises(AmiActionTimeout):
            await client.action({"Action": "Ping"})
        assert client._protocol is not None
        assert client._protocol.responses == {}


async def test_list_action_error_resolves_at_once() -> None:
    async with FakeAmi() as ami, connected(ami) as client:
        with pytest.raises(AmiError, match="Invalid/unknown"):
            await client.list_action({"Action": "NoSuchList"})


async def test_list_action_collects_events_until_complete() -> None:
    async with FakeAmi() as ami:

        def status(action: dict[str, str]) -> list[bytes]:
            aid = action["ActionID"]
            return [
                frame(Response="Success", ActionID=aid, EventList="start", Message="follows"),
                frame(Event="QueueMember", ActionID=aid, Queue="general", Name="1001"),
                frame(Event="QueueMember", ActionID=aid, Queue="billing", Name="1001"),
                frame(Event="QueueStatusComplete", ActionID=aid, EventList="Complete"),
            ]

        ami.handlers["QueueStatus"] = status
        async with connected(ami) as client:
            members = await client.list_action({"Action": "QueueStatus"})
            assert [m["Queue"] for m in members] == ["general", "billing"]


async def test_silent_peer_is_detected_and_client_reconnects_without_replay() -> None:
    async with FakeAmi() as ami, connected(ami, ping_interval=0.2, ping_timeout=0.2) as client:
        originate = asyncio.create_task(
            client.action({"Action": "Originate", "Channel": "PJSIP/x"})
        )
        ami.silent = True
        assert isinstance(await next_event(client), Disconnected)
        with pytest.raises(AmiError):
            await originate
        ami.silent = False
        assert (await next_event(client))["Event"] == "FullyBooted"  # type: ignore[index]
        assert isinstance(await next_event(client), Connected)
        assert ami.logins == 2
        originates = [a for a in ami.actions if a.get("Action") == "Originate"]
        assert len(originates) == 1  # never replayed after the reconnect


async def test_no_resync_before_asterisk_is_fully_booted() -> None:
    async with FakeAmi() as ami:
        ami.booted = False
        client = AmiClient("127.0.0.1", ami.port, "cti", ami.secret)
        task = asyncio.create_task(client.run())
        try:
            await wait_until(lambda: ami.logins > 0, within=5, what="the login")
            assert client.events.empty()  # logged in, but no Connected yet
            ami.send_raw(frame(Event="FullyBooted", Status="Fully Booted"))
            assert (await next_event(client))["Event"] == "FullyBooted"  # type: ignore[index]
            assert isinstance(await next_event(client), Connected)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_events_the_consumer_does_not_use_are_skipped_and_counted() -> None:
    async with FakeAmi() as ami:
        client = AmiClient("127.0.0.1", ami.port, "cti", ami.secret, events={"Hangup"})
        task = asyncio.create_task(client.run(first_connect_retries=2))
        try:
            async with asyncio.timeout(5):
                assert (await client.events.get())["Event"] == "FullyBooted"  # type: ignore[index]
                assert isinstance(await client.events.get(), Connected)
            ami.send_raw(frame(Event="Newexten", Linkedid="1"))
            ami.send_raw(frame(Event="Hangup", Linkedid="1"))
            ami.send_raw(frame(Event="RTCPSent", Linkedid="1"))
            ami.send_raw(frame(Event="Hangup", Linkedid="2"))
            first, second = await next_event(client), await next_event(client)
            assert [first["Linkedid"], second["Linkedid"]] == ["1", "2"]  # type: ignore[index]
            assert client.skipped == 2
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_pending_list_action_gets_its_events_whatever_their_name() -> None:
    async with FakeAmi() as ami:

        def status(action: dict[str, str]) -> list[bytes]:
            aid = action["ActionID"]
            return [
                frame(Response="Success", ActionID=aid, EventList="start", Message="follows"),
                frame(Event="CoreShowChannel", ActionID=aid, Channel="PJSIP/a-1"),
                frame(Event="CoreShowChannelsComplete", ActionID=aid, EventList="Complete"),
            ]

        ami.handlers["CoreShowChannels"] = status
        client = AmiClient("127.0.0.1", ami.port, "cti", ami.secret, events={"Hangup"})
        task = asyncio.create_task(client.run(first_connect_retries=2))
        try:
            await wait_until(client.logged_in.is_set, within=5, what="the login")
            channels = await client.list_action({"Action": "CoreShowChannels"})
            assert [c["Channel"] for c in channels] == ["PJSIP/a-1"]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_malformed_frame_is_reported_and_the_frames_around_it_arrive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FakeAmi() as ami, connected(ami) as client:
        data = (
            frame(Event="VarSet", Value="before")
            + b"Garbage without a colon\r\nMore: garbage\r\n\r\n"
            + frame(Event="VarSet", Value="张伟 after")
        )
        cut = data.index("伟".encode()) + 2  # the last read ends inside a character
        ami.send_raw(data[:cut])
        for writer in ami.writers:
            await writer.drain()
        await asyncio.sleep(0.05)
        ami.send_raw(data[cut:])
        first, second = await next_event(client), await next_event(client)
        assert first["Value"] == "before"  # type: ignore[index]
        assert second["Value"] == "张伟 after"  # type: ignore[index]
        assert "AMI frame without Event or Response" in caplog.text
        assert "Garbage without a colon" in caplog.text
