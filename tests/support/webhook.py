"""A site that receives the alarm webhook's POSTs, for the tests of what is posted."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Webhook:
    """``url`` to post to; ``posted``: the JSON bodies taken (204), in order;
    ``tries``: every POST, the refused ones too."""

    url: str = ""
    posted: list[Any] = field(default_factory=list)
    tries: int = 0


@contextlib.asynccontextmanager
async def webhook_site(refuse_first: int = 0) -> AsyncIterator[Webhook]:
    """The site on a free loopback port; its first ``refuse_first`` POSTs get a 503."""
    hook = Webhook()

    async def receive(request: web.Request) -> web.Response:
        hook.tries += 1
        if hook.tries <= refuse_first:
            return web.Response(status=503)
        hook.posted.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    site = TestServer(app)
    await site.start_server()
    try:
        hook.url = str(site.make_url("/hook"))
        yield hook
    finally:
        await site.close()
