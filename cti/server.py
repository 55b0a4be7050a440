"""Run a hotline process: AMI core, FastAGI IVR and web.

The service's long-lived tasks run under one ``asyncio.TaskGroup``
(``Hotline.run``); this module starts it, the FastAGI server and the web
server around it, and stops them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from cti.agi_security import agi_guard, pin_attempt_store
from cti.ami.client import AmiClient
from cti.ami.translate import USED_EVENTS
from cti.auth import SessionStore
from cti.config import Settings
from cti.db.repository import Repository, create_schema, make_engine
from cti.service import Hotline
from cti.state_files import secure_state
from cti.web.app import build_app
from cti.web.hub import Hub, HubLimits
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
    service: asyncio.Task[None]  # Hotline.run: its TaskGroup holds every long-lived task

    async def wait_failure(self) -> None:
        """Return (by raising the first error) when the service fails."""
        await asyncio.wait({self.service})
        _raise_first(self.service)


def _raise_first(task: asyncio.Task[None]) -> None:
    """The task's error; a TaskGroup's group of one error is unwrapped."""
    if task.cancelled():
        return
    exc = task.exception()
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if exc is not None:
        raise exc


@contextlib.asynccontextmanager
async def running_hotline(
    settings: Settings, *, first_connect_retries: int | None = 3
) -> AsyncIterator[Running]:
    """Start everything; yields once AMI is logged in and resynced.

    Raises ``AmiAuthError`` (refused credentials) or ``AmiError`` (AMI
    unreachable after ``first_connect_retries``) instead of hanging.
    """
    flow = load_default_flow(settings.ivr_flow)  # a bad flow file stops us here
    secure_state(settings)  # file modes (cti/state_files.py)
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
        max_queued_events=settings.ami_event_queue_max,
        events=USED_EVENTS,  # the others are skipped undecoded
    )
    hotline = Hotline(settings, repository, ami, Hub(HubLimits.from_settings(settings)))
    await hotline.load_agents()
    agi = FastAgiServer(
        settings.agi_host,
        settings.agi_port,
        ivr_routes(
            flow,
            repository,
            hotline,
            settings.callback_offer_after_s if settings.callback_offer_after_s >= 0 else None,
            pin_attempts=pin_attempt_store(settings, engine),
            callback_refusal=hotline.core.callback_refusal,
            live=hotline.crisis.live,  # switched by the crisis switch (cti/crisis/)
        ),
        guard=agi_guard(settings),
    )
    sessions = SessionStore(settings.session_ttl_s, settings.web_sessions_per_user)
    runner = web.AppRunner(build_app(hotline.desk, sessions, hotline.supervision, hotline.qa))
    service = asyncio.create_task(
        hotline.run(ami_connect_retries=first_connect_retries), name="hotline"
    )
    synced = asyncio.create_task(hotline.synced.wait(), name="first-sync")
    try:
        await asyncio.wait({service, synced}, return_when=asyncio.FIRST_COMPLETED)
        if service.done():
            _raise_first(service)  # the AMI error
        await agi.start()
        await runner.setup()
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
        url = f"http://{settings.web_host}:{settings.web_port}"
        yield Running(settings, hotline, ami, agi, url, sessions, service)
    finally:
        synced.cancel()
        await agi.stop()
        await runner.cleanup()
        # the service hands waiting callers over, stops following AMI and
        # finishes what the events started (pops, CDR writes)
        hotline.stop()
        await asyncio.gather(service, synced, return_exceptions=True)
        await engine.dispose()
