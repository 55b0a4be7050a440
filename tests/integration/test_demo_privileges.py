"""`hotline demo` started as root runs the CTI (web, FastAGI, AMI client) unprivileged.

Only the chrooted Asterisk needs root to start; the process that serves the
web port, the FastAGI port and talks to AMI must not be root, and must still
reach its database (login works) and stop cleanly with the demo.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from cti.config import Settings
from cti.demo import DemoSecrets
from cti.pbx import runtime
from tests.support.pbx_fixture import Pbx, free_tcp_port, free_udp_port, site_files

pytestmark = pytest.mark.asterisk


def listener_pid(port: int) -> int | None:
    """The process holding the TCP socket listening on 127.0.0.1:``port``."""
    wanted = f"0100007F:{port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == "0A":
            inode = fields[9]
    if inode is None:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return int(proc.name)
        except OSError:
            continue
    return None


def ids(pid: int, key: str) -> list[int]:
    """Uid:, Gid: or Groups: of /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return [int(v) for v in line.split()[1:]]
    raise AssertionError(f"no {key} for pid {pid}")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A scratch state directory other users may enter (pytest's tmp dir is root's 0700)."""
    base = Path(tempfile.mkdtemp(prefix="hotline-demo-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def shared_asterisk_stopped(pbx: Pbx) -> Iterator[None]:
    """The demo starts an Asterisk from the shared root filesystem, where only one may
    run: the suite's own is stopped for this test and started again after it."""
    runtime.stop(pbx.settings)
    try:
        yield
    finally:
        runtime.start(pbx.settings, extra_files=site_files(pbx.settings))


async def test_the_demo_started_as_root_serves_the_cti_as_an_unprivileged_user(
    state_dir: Path, shared_asterisk_stopped: None
) -> None:
    assert os.geteuid() == 0, "the demo starts Asterisk, which needs root"
    demo = DemoSecrets.generate()
    web_port, agi_port = free_tcp_port(), free_tcp_port()
    pins = "".join(f"{json.dumps(a)} = {json.dumps(p)}\n" for a, p in demo.customer_pins.items())
    config = state_dir / "demo.toml"
    config.write_text(
        f"ami_secret = {json.dumps(secrets.token_urlsafe(24))}\n"
        f"ami_port = {free_tcp_port()}\n"
        f"sip_port = {free_udp_port()}\n"
        f"agi_port = {agi_port}\n"
        f"web_port = {web_port}\n"
        f"asterisk_run_dir = {json.dumps(str(state_dir / 'state' / 'asterisk'))}\n"
        f"recordings_dir = {json.dumps(str(state_dir / 'state' / 'recordings'))}\n"
        f"demo_agent_password = {json.dumps(demo.agent_password)}\n"
        f"demo_supervisor_password = {json.dumps(demo.supervisor_password)}\n"
        f"[demo_customer_pins]\n{pins}"
    )
    config.chmod(0o600)
    settings = Settings(
        asterisk_run_dir=state_dir / "state" / "asterisk",
        recordings_dir=state_dir / "state" / "recordings",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "--config",
        str(config),
        "demo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
    )
    output = b""
    try:
        async with asyncio.timeout(180):
            pid = None
            while pid is None:
                if proc.returncode is not None:
                    assert proc.stdout is not None
                    said = (await proc.stdout.read()).decode(errors="replace")
                    raise AssertionError(f"the demo exited early:\n{said[-4000:]}")
                pid = listener_pid(web_port)
                await asyncio.sleep(0.2)
            agi_pid = listener_pid(agi_port)
            while agi_pid is None:
                await asyncio.sleep(0.2)
                agi_pid = listener_pid(agi_port)
        uids, gids = ids(pid, "Uid:"), ids(pid, "Gid:")
        assert pid != proc.pid
        assert agi_pid == pid
        assert 0 not in uids, f"the CTI runs with uids {uids}"
        assert 0 not in gids, f"the CTI runs with gids {gids}"
        assert ids(pid, "Groups:") == []
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{web_port}/api/login",
                json={"username": "supervisor", "password": demo.supervisor_password},
            ) as reply,
        ):
            assert reply.status == 200, await reply.text()
        database = state_dir / "state" / "hotline.db"
        assert database.stat().st_uid == uids[0]
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            output, _ = await proc.communicate()
        assert proc.returncode == 0, output.decode(errors="replace")
        assert not runtime.status(settings).running
    finally:
        if proc.returncode is None:
            proc.kill()
            runtime.stop(settings)
        if not output:
            output, _ = await proc.communicate()
        print(output.decode(errors="replace")[-4000:])
