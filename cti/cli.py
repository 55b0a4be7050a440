"""The ``hotline`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from cti.ami.client import AmiAuthError, AmiError
from cti.config import Settings, load_settings
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import DEMO_AGENTS, seed_demo, write_demo_config
from ivr.flow import FlowError
from recordings.transcribe import cli as transcribe_cli

log = logging.getLogger("hotline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML settings file (or HOTLINE_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the CTI, IVR and web against a running Asterisk")
    sub.add_parser("demo", help="start Asterisk, seed demo agents/customers and serve")
    sub.add_parser("seed-demo", help="write demo agents and customers into the database")
    db = sub.add_parser("db", help="database schema: migrate to the current release")
    db.add_argument(
        "action",
        choices=["upgrade", "current"],
        help="upgrade: apply pending migrations; current: print the schema revision",
    )
    pbx = sub.add_parser("asterisk", help="provision and run the project's Asterisk")
    pbx.add_argument("action", choices=["build", "start", "stop", "status"])
    transcribe_cli.register(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "demo" and args.config is None and not os.environ.get("HOTLINE_CONFIG"):
        args.config = write_demo_config(Settings().asterisk_run_dir.parent / "demo.toml")
    settings = load_settings(args.config)
    try:
        if hasattr(args, "handler"):  # subcommands registered by their own modules
            return int(args.handler(settings, args))
        if args.command == "asterisk":
            return _asterisk(settings, args.action)
        if args.command == "db":
            return asyncio.run(_db(settings, args.action))
        if args.command == "seed-demo":
            asyncio.run(_seed(settings))
            return 0
        if args.command == "serve":
            return asyncio.run(_serve(settings))
        if args.command == "demo":
            return _demo(settings, args.config)
    except KeyboardInterrupt:
        return 130
    return 2


def _asterisk(settings: Settings, action: str) -> int:
    from cti.pbx import runtime

    try:
        if action == "build":
            print(runtime.build(settings))
        elif action == "start":
            print(runtime.start(settings))
        elif action == "stop":
            print("stopped" if runtime.stop(settings) else "not running")
        else:
            print(runtime.status(settings))
    except runtime.PbxError as exc:
        print(f"hotline asterisk {action}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _db(settings: Settings, action: str) -> int:
    from cti.db.migrate import head_revision, schema_revision

    engine = make_engine(settings.effective_database_url)
    try:
        if action == "upgrade":
            await create_schema(engine)
        revision = await schema_revision(engine)
    finally:
        await engine.dispose()
    head = head_revision()
    state = "at head" if revision == head else f"head is {head}"
    print(f"{revision or 'no migration history'} ({state})")
    return 0


async def _seed(settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        await create_schema(engine)
        await seed_demo(Repository(engine), settings.demo_agent_password.get_secret_value())
    finally:
        await engine.dispose()


async def _serve(settings: Settings) -> int:
    from cti.server import running_hotline

    if not settings.ami_secret.get_secret_value():
        print(
            "hotline serve: ami_secret is not set (config file or HOTLINE_AMI_SECRET)",
            file=sys.stderr,
        )
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_hotline(settings) as running:
            log.info(
                "hotline is up: web %s, FastAGI %s:%d",
                running.web_url,
                settings.agi_host,
                settings.agi_port,
            )
            failure = asyncio.create_task(running.wait_failure())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({failure, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if failure.done():
                failure.result()
            failure.cancel()
    except AmiAuthError as exc:
        print(f"hotline serve: {exc}", file=sys.stderr)
        return 3
    except FlowError as exc:
        print(f"hotline serve: IVR flow rejected: {exc}", file=sys.stderr)
        return 5
    except AmiError as exc:
        print(f"hotline serve: {exc}", file=sys.stderr)
        return 4
    return 0


def _demo(settings: Settings, config: Path | None) -> int:
    from cti.pbx import runtime

    asyncio.run(_seed(settings))
    try:
        runtime.start(settings)
    except runtime.PbxError as exc:
        print(f"hotline demo: Asterisk did not start: {exc}", file=sys.stderr)
        return 1
    phones = _start_demo_phones()
    try:
        print(
            "\nhotline demo is starting.\n"
            f"  Agent page:   http://{settings.web_host}:{settings.web_port}/agent\n"
            f"  Agents:       {', '.join(DEMO_AGENTS)} (password in {config})\n"
            f"  Agent phones: {len(phones)} auto-answering sipp phones at 127.0.0.1:51001..\n"
            "  Test call:    sipp -sn uac -s 4000 -i 127.0.0.1 -p 5070 -m 1 -d 30000 "
            f"127.0.0.1:{settings.sip_port}\n"
            "                (no DTMF: after the menu times out the call waits in queue general)\n",
            flush=True,
        )
        return asyncio.run(_serve(settings))
    finally:
        for phone in phones:
            phone.terminate()
        for phone in phones:
            phone.wait(timeout=5)
        runtime.stop(settings)


def _start_demo_phones() -> list[subprocess.Popen[bytes]]:
    """One auto-answering SIP phone (sipp's built-in UAS) per demo agent."""
    if shutil.which("sipp") is None:
        print("hotline demo: sipp is not installed: no demo agent phones", file=sys.stderr)
        return []
    return [
        subprocess.Popen(
            [
                "sipp",
                "-sn",
                "uas",
                "-i",
                "127.0.0.1",
                "-p",
                str(51000 + int(agent[-2:])),
                "-nostdin",
                "-trace_err",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
        )
        for agent in DEMO_AGENTS
    ]
