"""The set-up the load benchmarks share on the real Asterisk (benchmarks/ivr_load.py,
soak.py, login_flood.py ``--pbx``): scratch settings, a seeded database, the
project's Asterisk started and stopped, and the sipp caller load with its options.

::

    with tempfile.TemporaryDirectory() as tmp:
        settings = scratch_settings(Path(tmp))
        await seed_database(settings, DemoSecrets.generate(password))
        async with asterisk(settings):
            async with caller_load(settings, load_callers(100, ("11", "12")), args) as load:
                result = await load.wait()
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cti.config import Settings
from cti.db.models import User
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import DemoSecrets, seed_demo
from cti.pbx import runtime
from tests.support.pbx_fixture import free_tcp_port, free_udp_port
from tests.support.sipp import AUDIO_PCAP, CallerLoad


def scratch_settings(base: Path, **overrides: Any) -> Settings:
    """Settings of an Asterisk and a hotline of their own under ``base`` (as the
    tests have them): a random AMI secret, free AMI/SIP/AGI/web ports, the run and
    recordings directories and a SQLite database there; ``overrides`` on top."""
    return Settings(
        ami_port=free_tcp_port(),
        ami_secret=SecretStr(secrets.token_urlsafe(24)),
        sip_port=free_udp_port(),
        agi_port=free_tcp_port(),
        web_port=free_tcp_port(),
        asterisk_run_dir=base / "run",
        recordings_dir=base / "recordings",
        database_url=f"sqlite+aiosqlite:///{base / 'hotline.db'}",
        **overrides,
    )


async def seed_database(settings: Settings, demo: DemoSecrets, users: Sequence[User] = ()) -> None:
    """The schema, the demo's users and customers (``demo``'s passwords), and ``users``."""
    engine = make_engine(settings.effective_database_url)
    try:
        await create_schema(engine)
        repository = Repository(engine)
        await seed_demo(repository, demo)
        if users:
            await repository.upsert_users(list(users))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def asterisk(
    settings: Settings, extra_files: Mapping[str, str] | None = None
) -> AsyncIterator[None]:
    """The project's Asterisk on ``settings`` (built if needed), stopped on exit."""
    await asyncio.to_thread(runtime.start, settings, extra_files=extra_files)
    try:
        yield
    finally:
        await asyncio.to_thread(runtime.stop, settings)


def load_callers(count: int, choices: Sequence[str]) -> list[tuple[str, str]]:
    """``count`` callers, each from its own number (1555...), pressing ``choices`` in turn."""
    return [(f"1555{n:07d}", choices[n % len(choices)]) for n in range(count)]


def add_caller_load_options(
    parser: argparse.ArgumentParser, *, rate: float, hold_s: float, hold_help: str
) -> None:
    """The options of :func:`caller_load`, with the benchmark's defaults."""
    parser.add_argument("--rate", type=float, default=rate, help="new calls per second")
    parser.add_argument("--hold-s", type=float, default=hold_s, help=hold_help)
    parser.add_argument(
        "--dtmf-delay-s", type=float, default=2.0, help="answer to the language digit"
    )
    parser.add_argument(
        "--dtmf-gap-s", type=float, default=4.0, help="language digit to the menu digit"
    )
    parser.add_argument(
        "--no-audio", action="store_true", help="callers send no RTP (DTMF is SIP INFO anyway)"
    )
    parser.add_argument(
        "--sipp-nice", type=int, default=10, help="priority of the load generator (nice)"
    )


def caller_load(
    settings: Settings, callers: Sequence[tuple[str, str]], args: argparse.Namespace
) -> CallerLoad:
    """ONE sipp UAC calling the hotline of ``settings`` as ``callers``, as the options
    of :func:`add_caller_load_options` say."""
    return CallerLoad(
        settings.sip_port,
        callers,
        rate=args.rate,
        dtmf_delay_s=args.dtmf_delay_s,
        dtmf_gap_s=args.dtmf_gap_s,
        hold_s=args.hold_s,
        audio=None if args.no_audio else AUDIO_PCAP,
        nice=args.sipp_nice,
    )
