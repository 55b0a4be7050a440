"""`hotline demo call` on the real Asterisk: the seeded customer pops on a ready agent.

An agent logs in over HTTP, keeps a WebSocket open (as the agent page does)
and goes ready; the command places its call (sipp, DTMF as SIP INFO through
the shipped IVR flow); the agent's socket gets the screen-pop carrying the
demo customer's record within 15 s of the command's start.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cti.demo import DEMO_CUSTOMERS
from cti.server import Running
from tests.support.sipp import AgentPhone, agent_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asterisk

POP_WITHIN_S = 15.0


async def next_pop(ws: aiohttp.ClientWebSocketResponse, phone: str) -> dict[str, Any]:
    """The first screen.pop of a call from ``phone`` with the customer's record."""
    async for msg in ws:
        frame = json.loads(msg.data)
        if frame["type"] != "screen.pop":
            continue
        pop: dict[str, Any] = frame["data"]
        if pop["caller_number"] == phone and pop.get("customer"):
            return pop
    raise AssertionError("the WebSocket closed before the screen-pop")


async def test_the_demo_call_pops_the_seeded_customer_on_a_ready_agent_within_15_s(
    hotline: Running, demo_password: str, tmp_path: Path
) -> None:
    base = hotline.web_url
    core = hotline.hotline.core
    customer = next(c for c in DEMO_CUSTOMERS if c.language == "en")
    config = tmp_path / "demo-call.toml"
    config.write_text(
        f'sip_host = "{hotline.settings.sip_host}"\nsip_port = {hotline.settings.sip_port}\n'
    )
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/api/login", json={"username": "1001", "password": demo_password}
        ) as r:
            assert r.status == 200, await r.text()
            auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
        async with http.ws_connect(f"{base}/ws", headers=auth) as ws:
            hello = json.loads((await ws.receive(timeout=10)).data)
            assert hello["type"] == "hello"
            async with http.post(
                f"{base}/api/agent/state", json={"state": "ready"}, headers=auth
            ) as r:
                assert r.status == 200, await r.text()
            await wait_until(
                lambda: all(
                    (m := core.queues[q].members.get("1001")) is not None and not m.paused
                    for q in core.agents["1001"].queues
                ),
                within=10,
                what="Asterisk to report agent 1001 unpaused in its queues",
            )
            async with AgentPhone(port=agent_port(1001), answer_after_s=1.0) as phone:
                started = time.monotonic()
                command = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "cti",
                    "--config",
                    str(config),
                    "demo",
                    "call",
                    "--talk-s",
                    "5",
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    env={k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
                )
                try:
                    pop = await asyncio.wait_for(next_pop(ws, customer.phone), POP_WITHIN_S)
                    popped_s = time.monotonic() - started
                    output, _ = await asyncio.wait_for(command.communicate(), 60)
                finally:
                    if command.returncode is None:
                        command.kill()
                        await command.wait()
                text = output.decode()
                print(f"\nscreen-pop {popped_s:.1f} s after `hotline demo call` started\n{text}")
                assert command.returncode == 0, text
                await phone.wait_completed(timeout=10)
    assert pop["customer"]["name"] == customer.name
    assert pop["customer"]["tier"] == customer.tier
    assert pop["queue"] == "billing"
    assert pop["ivr_path"].endswith("lang=en>menu=1>queue=billing"), pop["ivr_path"]
    assert "the hotline answered" in text
    assert "pressed 1 (language: English)" in text and "pressed 1 (menu: 1 (billing))" in text
    assert "the caller hung up" in text
