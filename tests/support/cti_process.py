"""A CTI as its own process (``python -m cti serve``), so a test can kill -9 it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from cti.config import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``hotline serve`` build ``settings``."""
    env = dict(os.environ)
    env.pop("HOTLINE_CONFIG", None)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value == type(settings).model_fields[name].get_default(call_default_factory=True):
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, (list, dict)):
            text = json.dumps(value)
        elif isinstance(value, Path):
            text = str(value)
        else:
            text = str(value)
        env[f"HOTLINE_{name.upper()}"] = text
    return env


class CtiProcess:
    """``hotline serve`` in a child process; its output goes to ``log_file``."""

    def __init__(self, settings: Settings, log_file: Path) -> None:
        self.settings, self.log_file = settings, log_file
        self.proc: asyncio.subprocess.Process | None = None
        self.base = f"http://{settings.web_host}:{settings.web_port}"

    async def start(self, within: float = 60.0) -> None:
        with self.log_file.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cti",
                "serve",
                env=settings_env(self.settings),
                stdout=out,
                stderr=out,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with aiohttp.ClientSession() as http:
            while True:
                if self.proc.returncode is not None:
                    raise AssertionError(f"hotline serve exited: {self.log_tail()}")
                try:
                    async with http.get(f"{self.base}/") as r:
                        if r.status < 500:
                            return
                except aiohttp.ClientError:
                    pass
                if loop.time() > deadline:
                    raise AssertionError(f"hotline serve did not come up: {self.log_tail()}")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, no Hangup handled, no CDR written."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)

    async def wait(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            return await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
