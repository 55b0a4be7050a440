"""GET /metrics: who may read it, and the figures following the calls, agents, AMI
and sockets (real core, database and web; an AMI client that is never connected)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from cti import dialplan
from cti.ami.client import AmiClient
from cti.auth import SessionStore, hash_password
from cti.config import Settings
from cti.db.models import User
from cti.db.repository import make_engine
from cti.domain import events as ev
from cti.service import Hotline
from cti.web.hub import Hub
from tests.support.stub_service import PASSWORD, T0, Client, login_token, seeded, serving
from tests.support.waiting import wait_until

SCRAPER_TOKEN = "scrape-me-0123456789"


class QuietAmi(AmiClient):
    """The real client's state (events queue, generation, logged_in), never connected;
    actions succeed."""

    async def action(self, fields: dict[str, Any], *, answer_within: float | None = None) -> Any:
        return {"Response": "Success"}

    async def list_action(self, fields: dict[str, Any], **_: Any) -> list[dict[str, str]]:
        return []


@dataclass
class Service:
    hotline: Hotline
    ami: QuietAmi
    client: Client
    now: list[float]

    async def login(self, user: str) -> str:
        return await login_token(self.client, user)

    async def scrape(self, token: str = SCRAPER_TOKEN) -> dict[tuple[str, tuple[Any, ...]], float]:
        async with self.client.get("/metrics", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200, await r.text()
            assert r.headers["Content-Type"].startswith("text/plain; version=")
            text = await r.text()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def play(self, *events: ev.DomainEvent) -> None:
        for event in events:
            self.hotline.carry_out(self.hotline.core.apply(event))


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
        recordings_dir=tmp_path / "recordings",
        metrics_bearer_token=SCRAPER_TOKEN,  # type: ignore[arg-type]
    )
    engine = make_engine(settings.effective_database_url)
    try:
        repository = await seeded(engine)
        await repository.upsert_users(
            [
                User(
                    username="ops",
                    display_name="Ops",
                    password_hash=hash_password(PASSWORD),
                    role="admin",
                )
            ]
        )
        now = [T0]
        ami = QuietAmi("127.0.0.1", 9, "hotline", "secret")
        hotline = Hotline(settings, repository, ami, Hub(), clock=lambda: now[0])
        async with serving(hotline, SessionStore(3600)) as client:
            yield Service(hotline, ami, client, now)
    finally:
        await engine.dispose()


def labels(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kw.items()))


async def test_metrics_need_a_token_or_an_admin_session(service: Service) -> None:
    async with service.client.get("/metrics") as r:
        assert r.status == 401
        assert (await r.json())["error"] == "unauthenticated"
    async with service.client.get("/metrics", headers={"Authorization": "Bearer wrong"}) as r:
        assert r.status == 401
    for user in ("1001", "supervisor"):
        token = await service.login(user)
        async with service.client.get(
            "/metrics", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 403, user
            assert (await r.json())["error"] == "forbidden"
    admin = await service.login("ops")
    assert await service.scrape(admin)
    assert await service.scrape(SCRAPER_TOKEN)


async def test_without_a_configured_token_no_bearer_opens_the_metrics(service: Service) -> None:
    service.hotline.settings.metrics_bearer_token = SecretStr("")
    for header in ("Bearer ", "Bearer x", "Basic b3BzOmNvcnJlY3QgaG9yc2U="):
        async with service.client.get("/metrics", headers={"Authorization": header}) as r:
            assert r.status == 401, header


async def test_calls_waiting_and_agents_follow_the_call_events(service: Service) -> None:
    before = await service.scrape()
    assert before["hotline_calls_in_progress", labels(state="queued")] == 0
    assert before["hotline_queue_waiting_calls", labels(queue="billing")] == 0
    logged_out = before["hotline_agents", labels(state="logged_out")]
    assert logged_out >= 1

    service.play(
        ev.CallStarted("c1", "PJSIP/trunk-1", "15550100001", "", T0),
        ev.IvrPathUpdated("c1", "lang=en>menu=1"),
        ev.CallQueued("c1", "billing", 1, T0 + 1),
    )
    service.now[0] = T0 + 13
    waiting = await service.scrape()
    assert waiting["hotline_calls_in_progress", labels(state="queued")] == 1
    assert waiting["hotline_queue_waiting_calls", labels(queue="billing")] == 1
    assert waiting["hotline_queue_longest_wait_seconds", labels(queue="billing")] == (
        pytest.approx(12, abs=0.01)
    )

    await service.login("1001")  # logs the agent in (paused)
    after = await service.scrape()
    assert after["hotline_agents", labels(state="paused")] == 1
    assert after["hotline_agents", labels(state="logged_out")] == logged_out - 1

    service.play(ev.CallEnded("c1", T0 + 20, "Normal"))
    ended = await service.scrape()
    assert ended["hotline_calls_in_progress", labels(state="queued")] == 0
    assert ended["hotline_queue_waiting_calls", labels(queue="billing")] == 0


async def test_ami_event_lag_reconnects_and_queue_depths(service: Service) -> None:
    consumer = asyncio.create_task(service.hotline.consume_ami())
    try:
        service.ami.events.put_nowait(
            {  # type: ignore[arg-type]
                "Event": "Newchannel",
                "Uniqueid": "1.1",
                "Linkedid": "1.1",
                "Channel": "PJSIP/trunk-00000001",
                "CallerIDNum": "15550100001",
                "Context": sorted(dialplan.INBOUND_CONTEXTS)[0],
                "Timestamp": f"{T0 - 0.25:.6f}",  # Asterisk stamped it 250 ms ago
            }
        )
        await wait_until(
            lambda: service.hotline.metrics.registry.get_sample_value(
                "hotline_ami_event_lag_seconds_count"
            ),
            within=5,
            what="the event handled",
        )
    finally:
        consumer.cancel()
    service.ami.generation = 3  # logged in three times: two reconnects
    figures = await service.scrape()
    assert figures["hotline_ami_event_lag_seconds_count", ()] == 1
    assert figures["hotline_ami_event_lag_seconds_sum", ()] == pytest.approx(0.25, abs=1e-3)
    assert figures["hotline_ami_event_lag_seconds_bucket", labels(le="0.25")] == 1
    assert figures["hotline_ami_event_lag_seconds_bucket", labels(le="0.1")] == 0
    assert figures["hotline_ami_reconnects_total", ()] == 2
    assert figures["hotline_ami_connected", ()] == 0
    assert figures["hotline_ami_events_queued", ()] == 0
    assert figures["hotline_cdr_writer_queue_depth", ()] == 0
    assert figures["hotline_calls_in_progress", labels(state="ivr")] == 1


async def test_websocket_clients_are_counted_by_role(service: Service) -> None:
    assert (await service.scrape())["hotline_websocket_clients", labels(role="agent")] == 0
    token = await service.login("1001")
    ws = await service.client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    try:
        await ws.receive_json(timeout=5)  # hello
        figures = await service.scrape()
        assert figures["hotline_websocket_clients", labels(role="agent")] == 1
        assert figures["hotline_websocket_clients", labels(role="supervisor")] == 0
    finally:
        await ws.close()
    hub = service.hotline.hub
    await wait_until(
        lambda: hub.clients_by_role().get("agent", 0) == 0, within=5, what="the socket detached"
    )
    assert (await service.scrape())["hotline_websocket_clients", labels(role="agent")] == 0
