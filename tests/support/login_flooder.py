"""A process that sends wrong logins at a steady rate from many source addresses.

Run as a script (``python login_flooder.py``; only aiohttp needed): it reads
one JSON line on stdin, ``{"url", "addresses", "usernames", "rate",
"max_in_flight", "nice"}``, lowers its CPU priority by ``nice``, prints
``ready``, sends ``POST /api/login`` with a wrong password at ``rate`` per
second (open loop: it does not wait for answers), each attempt from the next
source address (127.0.0.x: the whole of 127/8 is loopback on Linux) and for
the next username, until stdin closes or a line arrives. It prints each
answer's status on a line of its own as it comes (so that the caller can
follow the flood). Then it waits for the answers still out and prints one
JSON line: ``{"sent", "statuses": {status: count}, "errors", "skipped"}``
(``skipped``: attempts not sent because ``max_in_flight`` were unanswered).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections import Counter

import aiohttp


async def flood(config: dict[str, object]) -> dict[str, object]:
    url = str(config["url"])
    addresses = [str(a) for a in config["addresses"]]  # type: ignore[attr-defined]
    usernames = [str(u) for u in config["usernames"]]  # type: ignore[attr-defined]
    rate = float(config["rate"])  # type: ignore[arg-type]
    max_in_flight = int(config.get("max_in_flight", 200))  # type: ignore[call-overload]
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=30)
    clients = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=0), timeout=timeout
        )
        for address in addresses
    ]
    in_flight: set[asyncio.Task[None]] = set()
    sent = skipped = 0

    async def attempt(client: aiohttp.ClientSession, username: str) -> None:
        body = {"username": username, "password": secrets.token_urlsafe(9)}
        try:
            async with client.post(url, json=body) as response:
                await response.read()
                statuses[response.status] += 1
                print(response.status, flush=True)
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors[type(exc).__name__] += 1

    stop = asyncio.create_task(asyncio.to_thread(sys.stdin.readline))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    n = 0
    try:
        while not stop.done():
            if len(in_flight) < max_in_flight:
                task = asyncio.create_task(
                    attempt(clients[n % len(clients)], usernames[n % len(usernames)])
                )
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                sent += 1
            else:
                skipped += 1
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - loop.time()))
        if in_flight:
            await asyncio.wait(in_flight, timeout=35)
    finally:
        for client in clients:
            await client.close()
    return {
        "sent": sent,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": dict(errors),
        "skipped": skipped,
    }


def main() -> None:
    config = json.loads(sys.stdin.readline())
    os.nice(int(config.get("nice", 0)))
    print(json.dumps(asyncio.run(flood(config))), flush=True)


if __name__ == "__main__":
    main()
