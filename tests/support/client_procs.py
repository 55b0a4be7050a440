"""Client processes of the load benchmarks (benchmarks/screenpop.py, soak.py): a
Python script in a process of its own, told what to do by one JSON line on stdin."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


async def start_client(code: str, config: dict[str, Any]) -> asyncio.subprocess.Process:
    """``python -c code`` with pipes (lines up to 64 MiB), ``config`` sent as its first line."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 26,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write((json.dumps(config) + "\n").encode())
    await proc.stdin.drain()
    return proc
