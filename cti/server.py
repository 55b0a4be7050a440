"""Run a hotline process: AMI core, FastAGI IVR and web, under one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from cti.ami.client import AmiClient
from cti.auth import SessionStore
from cti.config import Settings
from cti.db.repository import Repository, create_schema, make_engine
from cti.service import Hotline
from cti.web.app import build_app
from cti.web.hub import Hub
from ivr.fastagi import FastAgiServer
from ivr.service import ivr_routes, load_default_flow

log = logging.getLogger(__name__)


@dataclass
class Running:
    settings: Settings
    hotline: Hotline
    ami: AmiClient
    agi: FastAgiServer
    web_url: str
    sessions: SessionStore
    tasks: list[asyncio.Task[None]]

    async def wait_failure(self) -> None:
        """Return (by raising) when one of the long-running tasks fails."""
        done, _ = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()


@contextlib.asynccontextmanager
async def running_hotline(
    settings: Settings, *, first_connect_retries: int | None = 3
) -> AsyncIterator[Running]:
    """Start everything; yields once AMI is logged in and resynced.

    Raises ``AmiAuthError`` (refused credentials) or ``AmiError`` (AMI
    unreachable after ``first_connect_retries``) instead of hanging.
    """
    flow = load_default_flow(settings.ivr_flow)  # a bad flow file stops us here
    engine = make_engine(settings.effective_database_url)
    await create_schema(engine)
    repository = Repository(engine, settings.transcription_engine)
    ami = AmiClient(
        settings.ami_host,
        settings.ami_port,
        settings.ami_user,
        settings.ami_secret.get_secret_value(),
        action_timeout=settings.ami_action_timeout_s,
        ping_interval=settings.ami_ping_interval_s,
        ping_timeout=settings.ami_ping_timeout_s,
        reconnect_max=settings.ami_reconnect_max_s,
    )
    hotline = Hotline(settings, repository, ami, Hub())
    await hotline.load_agents()
    agi = FastAgiServer(
        settings.agi_host,
        settings.agi_port,
        ivr_routes(
            flow,
            repository,
            hotline,
            settings.callback_offer_after_s if settings.callback_offer_after_s >= 0 else None,
        ),
    )
    sessions = SessionStore(settings.session_ttl_s)
    runner = web.AppRunner(build_app(hotline, sessions))
    tasks = [
        asyncio.create_task(ami.run(first_connect_retries=first_connect_retries), name="ami"),
        asyncio.create_task(hotline.consume_ami(), name="ami-consumer"),
        asyncio.create_task(hotline.run_ami_actions(), name="ami-actions"),
        asyncio.create_task(hotline.run_cdr_writer(), name="cdr-writer"),
        asyncio.create_task(hotline.run_heartbeat(), name="cti-heartbeat"),
    ]
    synced = asyncio.create_task(hotline.synced.wait())
    try:
        await asyncio.wait({tasks[0], synced}, return_when=asyncio.FIRST_COMPLETED)
        if tasks[0].done():
            tasks[0].result()  # raises the AMI error
        await agi.start()
        await runner.setup()
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
        url = f"http://{settings.web_host}:{settings.web_port}"
        yield Running(settings, hotline, ami, agi, url, sessions, tasks)
    finally:
        synced.cancel()
        await agi.stop()
        await runner.cleanup()
        await hotline.stop_routing()
        # stop taking events first, then finish what they started (pops, CDR
        # writes) while the CDR writer still runs, then close the database
        writer = next(t for t in tasks if t.get_name() == "cdr-writer")
        others = [t for t in tasks if t is not writer]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, synced, return_exceptions=True)
        await ami.close()
        await hotline.drain()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await engine.dispose()
