"""The README's demo, end to end, as a newcomer follows it.

Starts ``./dev demo`` (as its own process group; its output goes to
``--demo-log``), reads what it prints (the agent page, the password file,
the demo-call command), waits until the agent page is served, logs in as
agent 1001 over HTTP, opens the page's WebSocket, goes ready, runs the
printed demo-call command and measures the time from its start to the
screen-pop that carries the seeded customer. Then stops the demo (Ctrl-C,
as a user would) and checks that it exited.

Usage (root, with the project's virtual environment, e.g. after ``./dev test``
or ``python3 -m venv .venv && .venv/bin/pip install -e .``):

    .venv/bin/python benchmarks/demo_smoke.py [--budget-s 15] [-- --lang zh --choice 3]

Last line: {"page_served_s", "pop_after_call_start_s", "pop_after_answer_s", ...};
the exit status is non-zero when the pop is missing or later than the budget.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def read_text(path: Path) -> str:
    return path.read_text("utf-8", "replace") if path.exists() else ""


async def read_instructions(log: Path, demo: asyncio.subprocess.Process, within: float) -> str:
    """The demo's printed instructions, once complete."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = read_text(log)
        if "--talk-s S" in text:
            return text
        if demo.returncode is not None:
            raise SystemExit(f"./dev demo exited ({demo.returncode}):\n{text[-3000:]}")
        await asyncio.sleep(0.5)
    raise SystemExit(f"./dev demo printed no instructions within {within} s")


async def wait_page(url: str, demo: asyncio.subprocess.Process, within: float) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if demo.returncode is not None:
                raise SystemExit(f"./dev demo exited ({demo.returncode}) before serving {url}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(url) as r:
                    if r.status == 200 and "<html" in (await r.text()).lower():
                        return
            await asyncio.sleep(0.2)
    raise SystemExit(f"the agent page {url} was not served within {within} s")


async def stop_demo(demo: asyncio.subprocess.Process) -> int | None:
    """Ctrl-C to the demo's process group, as in a terminal; then harder."""
    for sig, grace in ((signal.SIGINT, 60.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if demo.returncode is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(demo.wait(), grace)
    return demo.returncode


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    log = Path(args.demo_log)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        demo = await asyncio.create_subprocess_exec(
            "./dev",
            "demo",
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(out)
    result: dict[str, Any] = {}
    try:
        text = await read_instructions(log, demo, args.start_within_s)
        page = re.search(r"Agent page:\s+(\S+)", text)
        password_file = re.search(r"demo_agent_password line of (\S+)", text)
        call_line = re.search(r"in another terminal, in the project: (.+)", text)
        if not (page and password_file and call_line):
            raise SystemExit(f"could not read the demo's instructions:\n{text}")
        page_url = page.group(1)
        base = page_url.removesuffix("/agent")
        await wait_page(page_url, demo, args.start_within_s)
        result["page_served_s"] = round(time.monotonic() - started, 1)
        config = tomllib.loads(read_text(Path(password_file.group(1))))
        password = config["demo_agent_password"]
        print(f"agent page served at {page_url} after {result['page_served_s']} s")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/api/login", json={"username": "1001", "password": password}
            ) as r:
                if r.status != 200:
                    raise SystemExit(f"login as 1001 refused: {r.status} {await r.text()}")
                auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
            async with http.ws_connect(f"{base}/ws", headers=auth) as ws:
                frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

                async def read() -> None:
                    async for msg in ws:
                        frames.put_nowait(json.loads(msg.data))

                reader = asyncio.create_task(read())
                async with http.post(
                    f"{base}/api/agent/state", json={"state": "ready"}, headers=auth
                ) as r:
                    if r.status != 200:
                        raise SystemExit(f"going ready refused: {r.status} {await r.text()}")
                while (frame := await asyncio.wait_for(frames.get(), 10))["type"] != (
                    "agent.state"
                ) or frame["data"]["state"] != "ready":
                    pass
                command = shlex.split(call_line.group(1).strip()) + args.call_args
                print(f"agent 1001 is ready; running: {shlex.join(command)}", flush=True)
                call_started = time.monotonic()
                call = await asyncio.create_subprocess_exec(
                    *command,
                    cwd=ROOT,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                pop: dict[str, Any] | None = None
                popped_s: float | None = None
                deadline = call_started + args.budget_s + 30
                while pop is None and time.monotonic() < deadline:
                    try:
                        frame = await asyncio.wait_for(frames.get(), 1)
                    except TimeoutError:
                        continue
                    data = frame.get("data") or {}
                    if frame["type"] == "screen.pop" and data.get("customer"):
                        pop, popped_s = data, time.monotonic() - call_started
                output, _ = await asyncio.wait_for(call.communicate(), 300)
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        call_text = output.decode("utf-8", "replace")
        print(call_text)
        answered = re.search(r"^\s*([\d.]+) s\s+the hotline answered", call_text, re.M)
        result.update(
            {
                "demo_call_exit": call.returncode,
                "pop_after_call_start_s": round(popped_s, 2) if popped_s is not None else None,
                "pop_after_answer_s": (
                    round(popped_s - float(answered.group(1)), 2)
                    if popped_s is not None and answered
                    else None
                ),
                "customer": (pop or {}).get("customer", {}).get("name"),
                "caller_number": (pop or {}).get("caller_number"),
                "ivr_path": (pop or {}).get("ivr_path"),
                "queue": (pop or {}).get("queue"),
            }
        )
    finally:
        result["demo_exit"] = await stop_demo(demo)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-s", type=float, default=15.0, help="pop within this (15)")
    parser.add_argument("--start-within-s", type=float, default=1800.0, help="demo start limit")
    parser.add_argument("--demo-log", default=str(ROOT / "artifacts" / "demo-smoke.log"))
    parser.add_argument(
        "call_args", nargs="*", help="options for the demo call, after --: -- --lang zh --choice 3"
    )
    args = parser.parse_args()
    Path(args.demo_log).parent.mkdir(parents=True, exist_ok=True)
    try:
        result = asyncio.run(measure(args))
    finally:
        lines = read_text(Path(args.demo_log)).splitlines()
        print(f"--- the demo's output (last {min(len(lines), 80)} lines of {args.demo_log}):")
        print("\n".join(lines[-80:]))
        print("---", flush=True)
    popped = result.get("pop_after_call_start_s")
    ok = (
        popped is not None
        and popped <= args.budget_s
        and result.get("demo_call_exit") == 0
        and result.get("customer") is not None
    )
    print(
        f"screen-pop with {result.get('customer')} {popped} s after the demo call started "
        f"({result.get('pop_after_answer_s')} s after the hotline answered); budget "
        f"{args.budget_s:g} s: {'OK' if ok else 'FAILED'}"
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
