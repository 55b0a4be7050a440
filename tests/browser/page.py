"""A headless Chromium page driven from Python tests.

``tests/browser/driver.mjs`` (node + playwright-core from the repository's
``package.json``) runs the browser; this module starts it as a subprocess
and talks to it over stdin/stdout, one JSON object per line. Missing node,
Chromium or playwright-core make the test FAIL with what to install: the
browser tests are never skipped.

::

    async with BrowserPage() as page:
        await page.goto(url)
        shown_at = await page.wait_text("#pop-name", "Alice")  # epoch seconds
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.mjs")
PLAYWRIGHT = ROOT / "node_modules" / "playwright-core" / "package.json"
ARTIFACTS = ROOT / "artifacts"


def chromium_path() -> str:
    return os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")


def check_prerequisites() -> str:
    """The node executable; fails the test when something is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (./dev test installs nodejs and npm)", pytrace=False)
    if not Path(chromium_path()).exists():
        pytest.fail(
            f"Chromium is missing at {chromium_path()} (apt-get install chromium; ./dev test does)",
            pytrace=False,
        )
    if not PLAYWRIGHT.exists():
        pytest.fail(
            "playwright-core is not installed: run `npm ci` at the repository root "
            "(./dev test does)",
            pytrace=False,
        )
    return node


class BrowserError(RuntimeError):
    pass


class BrowserPage:
    def __init__(self, *, locale: str = "en-GB", start_timeout: float = 30.0) -> None:
        self.locale = locale
        self.start_timeout = start_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr: list[str] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        node = check_prerequisites()
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self.proc = await asyncio.create_subprocess_exec(
            node,
            str(DRIVER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={
                **os.environ,
                "HOTLINE_CHROMIUM": chromium_path(),
                "HOTLINE_BROWSER_LOCALE": self.locale,
            },
            start_new_session=True,
            limit=1 << 22,
        )
        self._tasks = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]
        try:
            async with asyncio.timeout(self.start_timeout):
                hello = await self._ready
        except BaseException:
            await self.close()
            raise
        self.version = str(hello.get("browser", ""))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            if msg.get("event") == "ready" and self._ready and not self._ready.done():
                self._ready.set_result(msg)
            elif msg.get("event") == "failed" and self._ready and not self._ready.done():
                self._ready.set_exception(
                    BrowserError(f"Chromium did not start: {msg.get('error')}")
                )
            elif (future := self._pending.pop(msg.get("id", -1), None)) is not None:
                if msg.get("ok"):
                    future.set_result(msg.get("result"))
                else:
                    future.set_exception(BrowserError(str(msg.get("error"))))
        error = BrowserError("the browser driver exited:\n" + self.diagnostics())
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr.append(line.decode("utf-8", "replace").rstrip())

    def diagnostics(self, lines: int = 40) -> str:
        return "\n".join(self.stderr[-lines:]) or "(no browser output)"

    async def call(self, cmd: str, *, timeout: float = 15.0, **args: Any) -> Any:
        if self.proc is None or self.proc.stdin is None or self.proc.returncode is not None:
            raise BrowserError("the browser driver is not running:\n" + self.diagnostics())
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self.proc.stdin.write((json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._pending.pop(request_id, None)

    # -------------------------------------------------------------- commands
    async def goto(self, url: str) -> str:
        return str(await self.call("goto", url=url))

    async def fill(self, selector: str, value: str) -> None:
        await self.call("fill", selector=selector, value=value)

    async def click(self, selector: str) -> None:
        await self.call("click", selector=selector)

    async def select(self, selector: str, value: str) -> None:
        await self.call("select", selector=selector, value=value)

    async def text(self, selector: str) -> str:
        return str(await self.call("text", selector=selector) or "")

    async def value(self, selector: str) -> str:
        """The value of an input, select or textarea."""
        return str(await self.call("value", selector=selector))

    async def visible(self, selector: str) -> bool:
        return bool(await self.call("visible", selector=selector))

    async def wait_text(self, selector: str, text: str, *, timeout: float = 10.0) -> float:
        """Wait until ``selector`` is visible and contains ``text``.

        Returns the page's clock (epoch seconds) when it was seen.
        """
        try:
            shown_ms = await self.call(
                "waitText",
                selector=selector,
                text=text,
                timeout_ms=round(timeout * 1000),
                timeout=timeout + 5,
            )
        except BrowserError as exc:
            current = await self.call("text", selector=selector)
            raise AssertionError(
                f"{selector} did not show {text!r} within {timeout} s (it shows {current!r}): {exc}"
            ) from None
        return float(shown_ms) / 1000.0

    async def wait_visible(self, selector: str, *, timeout: float = 10.0) -> None:
        await self.call(
            "waitVisible", selector=selector, timeout_ms=round(timeout * 1000), timeout=timeout + 5
        )

    async def wait_hidden(self, selector: str, *, timeout: float = 10.0) -> None:
        await self.call(
            "waitHidden", selector=selector, timeout_ms=round(timeout * 1000), timeout=timeout + 5
        )

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        await self.call("screenshot", path=str(path), full_page=True)
        return path

    async def page_errors(self) -> list[str]:
        return list(await self.call("errors"))

    async def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                await proc.wait()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        self.proc = None
