"""The running Asterisk as a process: its pid file, status, stop, and its CLI."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cti.config import Settings
from cti.pbx.errors import PbxError

log = logging.getLogger(__name__)

ASTERISK_BIN = "/usr/sbin/asterisk"


CHILD_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "TERM": "dumb",
}


PID_FILE = "asterisk.pid"


# Asterisk processes started by this process, kept so that they are reaped
# (no zombies, no "subprocess still running" warnings) and can be waited on.
children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True, slots=True)
class AsteriskStatus:
    """What :func:`status` (and :func:`start`) found (``pid``: Asterisk's own)."""

    running: bool
    pid: int | None = None
    version: str | None = None
    uptime: str | None = None
    rootfs: Path | None = None


def stop(settings: Settings, *, timeout: float = 10.0) -> bool:
    """Stop the Asterisk recorded in the pid file; True if one was running.

    Asks Asterisk to ``core stop now``, then SIGTERM/SIGKILLs its process
    group if it does not exit in time. Idempotent.
    """
    pid_file = settings.asterisk_run_dir / PID_FILE
    info = read_pid_file(pid_file)
    if info is None:
        pid_file.unlink(missing_ok=True)
        return False
    pid = int(info["pid"])
    rootfs = Path(str(info.get("rootfs") or rootfs_of(settings)))
    if not _is_recorded_process(pid, info.get("starttime")):
        log.info("removing stale asterisk pid file %s (pid %d is gone)", pid_file, pid)
        pid_file.unlink(missing_ok=True)
        return False
    started = time.monotonic()
    deadline = started + timeout
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        run_cli(rootfs, "core stop now", timeout=max(1.0, min(5.0, timeout / 2)))
    if not _wait_exit(pid, deadline):
        kill(pid)
    pid_file.unlink(missing_ok=True)
    log.info("asterisk (pid %d) stopped in %.2f s", pid, time.monotonic() - started)
    return True


def kill(pid: int) -> None:
    """SIGTERM, then SIGKILL the process group of ``pid`` (its own session)."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        if not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        if _wait_exit(pid, time.monotonic() + grace):
            return
    if _alive(pid):
        raise PbxError(f"could not stop Asterisk (pid {pid})")


def _wait_exit(pid: int, deadline: float) -> bool:
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    child = children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del children[pid]
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def proc_starttime(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); fields after the ")" of the command name start at 3.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _is_recorded_process(pid: int, starttime: object) -> bool:
    if not _alive(pid):
        return False
    return starttime is None or proc_starttime(pid) == starttime


def read_pid_file(pid_file: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return data


def status(settings: Settings) -> AsteriskStatus:
    """Whether the Asterisk of the pid file runs; its version and uptime."""
    info = read_pid_file(settings.asterisk_run_dir / PID_FILE)
    if info is None or not _is_recorded_process(int(info["pid"]), info.get("starttime")):
        return AsteriskStatus(running=False)
    rootfs = Path(str(info.get("rootfs") or rootfs_of(settings)))
    version = uptime = None
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        result = run_cli(rootfs, "core show version", timeout=5)
        if result.returncode == 0:
            version = result.stdout.strip().splitlines()[0] if result.stdout.strip() else None
        result = run_cli(rootfs, "core show uptime", timeout=5)
        if result.returncode == 0:
            for line in result.stdout.splitlines():
                if line.startswith("System uptime:"):
                    uptime = line.split(":", 1)[1].strip()
    supervisor = int(info["pid"])
    return AsteriskStatus(
        running=True,
        pid=_asterisk_pid(supervisor) or supervisor,
        version=version,
        uptime=uptime,
        rootfs=rootfs,
    )


def _asterisk_pid(supervisor: int) -> int | None:
    """Asterisk's pid (as the host sees it): the child ``unshare --fork`` made."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == supervisor:
            return int(entry.name)
    return None


def asterisk_cli(settings: Settings, command: str, *, timeout: float = 10.0) -> str:
    """Run an Asterisk CLI command (``asterisk -rx``) and return its output."""
    info = read_pid_file(settings.asterisk_run_dir / PID_FILE)
    if info is None or not _is_recorded_process(int(info["pid"]), info.get("starttime")):
        raise PbxError("Asterisk is not running")
    rootfs = Path(str(info.get("rootfs") or rootfs_of(settings)))
    try:
        result = run_cli(rootfs, command, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise PbxError(f"asterisk -rx {command!r} timed out after {timeout} s") from exc
    if result.returncode != 0:
        raise PbxError(
            f"asterisk -rx {command!r} failed (exit {result.returncode}): "
            f"{(result.stdout + result.stderr).strip()}"
        )
    return result.stdout


def run_cli(rootfs: Path, command: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chroot", str(rootfs), ASTERISK_BIN, "-rx", command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
        env=CHILD_ENV,
    )


def rootfs_of(settings: Settings) -> Path:
    return settings.asterisk_rootfs.expanduser().absolute()
