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
from cti.demo import (
    DEMO_AGENTS,
    DEMO_SUPERVISOR_PHONE_PORT,
    DemoSecrets,
    DemoSecretsError,
    seed_demo,
    write_demo_config,
)
from cti.kpi.options import KpiConfigError
from cti.qa import cli as qa_cli
from cti.staffing import cli as staffing_cli
from ivr.flow import FlowError
from recordings.transcribe import cli as transcribe_cli

log = logging.getLogger("hotline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML settings file (or HOTLINE_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the CTI, IVR and web against a running Asterisk")
    demo = sub.add_parser("demo", help="start Asterisk, seed demo agents/customers and serve")
    demo_sub = demo.add_subparsers(dest="demo_command")
    call = demo_sub.add_parser(
        "call", help="a demo customer calls the running demo and answers the IVR"
    )
    call.add_argument("--lang", choices=["en", "zh"], default="en", help="IVR language (en)")
    call.add_argument(
        "--choice", default="1", help="main menu key (1 billing, 2 technical, 3 account)"
    )
    call.add_argument(
        "--from", dest="number", help="caller number (default: a demo customer of --lang)"
    )
    call.add_argument(
        "--talk-s",
        type=float,
        default=45.0,
        help="seconds on the line after the IVR, in line and with the agent (45)",
    )
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
    staffing_cli.register(sub)
    qa_cli.register(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    calling = args.command == "demo" and args.demo_command == "call"
    if args.command == "demo" and args.config is None and not os.environ.get("HOTLINE_CONFIG"):
        demo_config = Settings().asterisk_run_dir.parent / "demo.toml"
        if not calling:
            args.config = write_demo_config(demo_config)
        elif demo_config.exists():
            args.config = demo_config
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
        if calling:
            from cti.demo_call import demo_call

            return demo_call(
                settings,
                language=args.lang,
                choice=args.choice,
                number=args.number,
                talk_s=args.talk_s,
            )
        if args.command == "demo":
            return _demo(settings, args.config)
    except KeyboardInterrupt:
        return 130
    except DemoSecretsError as exc:
        print(f"hotline {args.command}: {exc}", file=sys.stderr)
        return 2
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
        await seed_demo(Repository(engine), DemoSecrets.from_settings(settings))
    finally:
        await engine.dispose()


async def _serve(settings: Settings) -> int:
    from cti.heap import settle_heap
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
            settle_heap()  # cti/heap.py: fewer, shorter collector passes
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
    except KpiConfigError as exc:
        print(f"hotline serve: wallboard file rejected: {exc}", file=sys.stderr)
        return 5
    except AmiError as exc:
        print(f"hotline serve: {exc}", file=sys.stderr)
        return 4
    return 0


def _demo(settings: Settings, config: Path | None) -> int:
    from cti import unprivileged
    from cti.pbx import runtime

    try:
        runtime.start(settings)
        runas = unprivileged.cti_account(settings)
        needed = unprivileged.share_state(settings, runas)
    except (runtime.PbxError, unprivileged.UnprivilegedError) as exc:
        runtime.stop(settings)
        print(f"hotline demo: {exc}", file=sys.stderr)
        return 1
    phones = _start_demo_phones()
    try:
        print(demo_instructions(settings, config, len(phones)), flush=True)
        # the CTI seeds and serves as Asterisk's unprivileged account (cti/unprivileged.py)
        return unprivileged.run_unprivileged(runas, lambda: _seed_and_serve(settings), needed)
    finally:
        for phone in phones:
            phone.terminate()
        for phone in phones:
            phone.wait(timeout=5)
        runtime.stop(settings)


def _seed_and_serve(settings: Settings) -> int:
    asyncio.run(_seed(settings))
    return asyncio.run(_serve(settings))


def demo_instructions(settings: Settings, config: Path | None, phones: int) -> str:
    """What `hotline demo` prints: where the page is and how to see a screen-pop."""
    hotline = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "hotline" else "hotline"
    config_arg = f"--config {config} " if config is not None else ""
    password = (
        f"the demo_agent_password line of {config}"
        if config is not None
        else "demo_agent_password (HOTLINE_DEMO_AGENT_PASSWORD)"
    )
    page = f"http://{settings.web_host}:{settings.web_port}/agent"
    return (
        "\nhotline demo is starting.\n"
        f"  Agent page:   {page}\n"
        f"  Agents:       {', '.join(DEMO_AGENTS)}, password: {password}\n"
        f"  Phones:       {phones} auto-answering sipp phones: agents at 127.0.0.1:51001..,\n"
        "                the supervisor's (listen, whisper, barge) at "
        f":{DEMO_SUPERVISOR_PHONE_PORT}\n"
        f"  Staffing:     http://{settings.web_host}:{settings.web_port}/staffing"
        " (log in as supervisor, same password)\n"
        "\nSee a screen-pop:\n"
        f"  1. open {page} in a browser\n"
        f"  2. log in as 1001 with the password: {password}\n"
        "  3. press Ready\n"
        "  4. in another terminal, in the project: ./dev demo-call\n"
        f"     (the same: {hotline} {config_arg}demo call)\n"
        "     Alice Johnson, a gold customer, calls from 15550100001, presses 1 (English)\n"
        "     and 1 (billing); within seconds the page pops her card, the phone answers,\n"
        "     and she talks for 45 s. Options: --lang zh (张伟 calls in Chinese),\n"
        "     --choice 2 (technical) or 3 (account, with the PIN), --from NUMBER, --talk-s S\n"
    )


def _start_demo_phones() -> list[subprocess.Popen[bytes]]:
    """One auto-answering SIP phone (sipp's built-in UAS) per demo agent, and the
    demo supervisor's (rung for listen, whisper and barge)."""
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
                str(port),
                "-nostdin",
                "-trace_err",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
        )
        for port in [
            *(51000 + int(agent[-2:]) for agent in DEMO_AGENTS),
            DEMO_SUPERVISOR_PHONE_PORT,
        ]
    ]
