"""Every value placed into an AMI action is checked for control characters."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from cti.ami.client import AmiClient, AmiError, AmiUnsafeValue, Connected
from cti.service.pbx_actions import PbxActions
from tests.support.fake_ami import FakeAmi, frame


async def _connected(ami: FakeAmi) -> tuple[AmiClient, asyncio.Task[None]]:
    client = AmiClient("127.0.0.1", ami.port, "cti", ami.secret)
    task = asyncio.create_task(client.run(first_connect_retries=2))
    async with asyncio.timeout(5):
        while not isinstance(await client.events.get(), Connected):
            pass
    return client, task


@pytest.mark.parametrize(
    "value",
    [
        "x\r\nAction: Originate",
        "x\nChannel: PJSIP/evil",
        "x\rEvil",
        "nul\x00",
        "bell\x07",
        "\u2028",
    ],
)
async def test_a_value_with_a_control_character_is_refused_and_never_sent(value: str) -> None:
    async with FakeAmi() as ami:
        client, task = await _connected(ami)
        try:
            before = len(ami.actions)
            with pytest.raises(AmiUnsafeValue, match="control character"):
                await client.action({"Action": "Setvar", "Variable": "V", "Value": value})
            await client.action({"Action": "Ping"})  # the connection is still in order
            assert [a.get("Action") for a in ami.actions[before:]] == ["Ping"]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, AmiError):
                await task


async def test_a_pbx_helper_with_a_crlf_value_fails_with_a_clear_error() -> None:
    async with FakeAmi() as ami:
        ami.handlers["Setvar"] = lambda a: [frame(Response="Success", ActionID=a["ActionID"])]
        client, task = await _connected(ami)
        actions = PbxActions(client)
        worker = asyncio.create_task(actions.run())
        try:
            with pytest.raises(AmiUnsafeValue, match="'CallerID'"):
                await actions.originate(
                    "PJSIP/1001", "id-1", "ctx", 10, '"Eve" <1>\r\nApplication: System', {}
                )
            with pytest.raises(AmiUnsafeValue):
                await actions.setvar("HOTLINE_X", "ok", "PJSIP/a\n-1")
            await actions.setvar("HOTLINE_X", "fine value, with commas | and ü")
            sent = [a for a in ami.actions if a.get("Action") in ("Originate", "Setvar")]
            assert [(a["Action"], a.get("Value")) for a in sent] == [
                ("Setvar", "fine value, with commas | and ü")
            ]
        finally:
            for t in (worker, task):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, AmiError):
                    await t


async def test_a_control_character_in_a_field_name_is_refused() -> None:
    client = AmiClient("127.0.0.1", 1, "cti", "x")
    with pytest.raises(AmiUnsafeValue):
        await client.action({"Action": "Setvar", "Bad\r\nName": "v"})
