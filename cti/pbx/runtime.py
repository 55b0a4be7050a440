"""Build, configure, start and stop the Asterisk that hotline runs on.

Asterisk 22 comes from Debian sid, which the host (Debian stable) cannot
install directly. :func:`build` makes a minimal sid root filesystem with
``mmdebstrap`` (cached, rebuilt when the wanted package set changes) and
:func:`start` runs Asterisk from it under ``chroot`` in a private mount
namespace. The chroot shares the host's network, so AMI, SIP, RTP and FastAGI
on 127.0.0.1 reach it directly.

On every start ``/etc/asterisk`` of the root filesystem is replaced by the
repository's ``asterisk-conf/`` plus files generated from the settings
(AMI bind address and user with its secret, SIP transport, RTP range, dialplan
globals). One Asterisk runs per root filesystem at a time.

Files: ``<asterisk_run_dir>/asterisk.pid`` (JSON: pid, its start time, the
rootfs), ``<asterisk_run_dir>/asterisk.log`` (Asterisk's console output, the
previous start's as ``asterisk.log.1``), ``<asterisk_run_dir>/site-conf/``
(the ``extra_files`` of the last start), ``<asterisk_run_dir>/log/`` bind-mounted
as Asterisk's ``/var/log/asterisk`` (``messages`` with notice/warning/error,
``cdr-custom/hotline-cdr.json`` the CDR backup, ``queue_log``); inside the
rootfs the IVR prompts (``ivr.prompts``, rendered
once) in ``/var/lib/asterisk/sounds/hotline/en/``. Recordings are written to
``settings.recordings_dir`` (bind-mounted at :data:`CHROOT_RECORDINGS_DIR`), the
IVR's voicemail into its ``voicemail/`` folder.

Everything here is synchronous: it is called from the CLI and from pytest
fixtures; long steps run as subprocesses with timeouts. Needs root (chroot,
mount namespaces, mmdebstrap in root mode).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cti import dialplan
from cti.config import Settings
from cti.dialplan import VOICEMAIL_FOLDER
from ivr.prompts import PROMPTS_ROOT, PromptError, render_prompts

__all__ = [
    "CHROOT_RECORDINGS_DIR",
    "AsteriskStatus",
    "PbxError",
    "asterisk_cli",
    "build",
    "log_problems",
    "recording_path_in_host",
    "start",
    "status",
    "stop",
]

log = logging.getLogger(__name__)

#: Debian suite the root filesystem is built from (the only one with Asterisk 22).
SUITE = "sid"
#: Packages installed into the root filesystem (recorded in the marker file).
PACKAGES: tuple[str, ...] = ("asterisk", "asterisk-core-sounds-en-gsm")
#: Asterisk major versions the configuration in asterisk-conf/ is written for.
SUPPORTED_MAJORS: tuple[int, ...] = (22,)
#: Where recordings live inside the chroot; bind-mounted from settings.recordings_dir.
CHROOT_RECORDINGS_DIR = dialplan.RECORDINGS_DIR

_MARKER = ".hotline-rootfs.json"
_MARKER_FORMAT = 1
_PID_FILE = "asterisk.pid"
_LOG_FILE = "asterisk.log"
_SITE_DIR = "site-conf"
_ASTERISK = "/usr/sbin/asterisk"
_CTL_SOCKET = "run/asterisk/asterisk.ctl"
_MESSAGES_LOG = "messages"
_CHROOT_LOG_DIR = "/var/log/asterisk"
# queues.conf cannot define a queue named "general" (its [general] section holds
# the global options): such queues are realtime rows written on every start
# from the [hotline-queue] template of queues.conf (see extconfig.conf).
_REALTIME_DB = "var/lib/asterisk/hotline-realtime.sqlite3"
_REALTIME_QUEUES: tuple[str, ...] = ("general",)
_QUEUE_TEMPLATE = "hotline-queue"
_ROTATED_LOGS = (
    _MESSAGES_LOG,
    "queue_log",
    "cdr-custom/hotline-cdr.json",
)
_ROTATE_BYTES = 32 * 1024 * 1024
_GENERATED = (
    "manager_hotline.conf",
    "pjsip_transport_hotline.conf",
    "rtp_hotline.conf",
    "extensions_globals.conf",
)
_MMDEBSTRAP_OPTIONS: tuple[str, ...] = (
    "--variant=essential",
    "--mode=root",
    "--format=directory",
    '--aptopt=Acquire::Check-Valid-Until "false"',
    '--aptopt=Acquire::Check-Date "false"',
    '--aptopt=Acquire::Retries "3"',
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
)
_BUILD_TIMEOUT_S = 1800.0
_LOG_TAIL_LINES = 40
# Log lines that mean a module or function we rely on is missing.
_LOAD_PROBLEM = re.compile(
    r"Unable to load|failed to load|Failed to load|not registered|Declined to load"
    r"|could not be loaded|undefined symbol|No such (?:application|function)",
)
_RUNNING = re.compile(r"\s(Running|Not Running)\s")
_LOG_LEVEL = re.compile(r"\b(WARNING|ERROR)\[")
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:\-\[\]]+$")
_SAFE_USER = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SAFE_CONF_NAME = re.compile(r"^[A-Za-z0-9_.\-]+\.conf$")
_CHILD_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "TERM": "dumb",
}

# Asterisk processes started by this process, kept so that they are reaped
# (no zombies, no "subprocess still running" warnings) and can be waited on.
_children: dict[int, subprocess.Popen[bytes]] = {}


class PbxError(RuntimeError):
    """Building, starting, stopping or talking to Asterisk failed."""


@dataclass(frozen=True, slots=True)
class AsteriskStatus:
    """What :func:`status` (and :func:`start`) found."""

    running: bool
    pid: int | None = None
    version: str | None = None
    uptime: str | None = None
    rootfs: Path | None = None


# --------------------------------------------------------------------------- build


def build(settings: Settings, *, force: bool = False) -> Path:
    """Make sure the root filesystem at ``settings.asterisk_rootfs`` exists.

    A tree is used only if its marker file says it is complete and holds the
    wanted packages; otherwise (or with ``force``) it is rebuilt in a
    temporary directory next to it and renamed into place when complete.
    The mirror is ``settings.debian_mirror`` (env ``HOTLINE_DEBIAN_MIRROR``).
    Returns the root filesystem path.
    """
    _require_root()
    target = _rootfs(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if not force:
            marker = _read_marker(target)
            if (
                marker is not None
                and _marker_matches(marker)
                and (target / _ASTERISK.lstrip("/")).is_file()
            ):
                return target
            if target.exists():
                log.info("asterisk rootfs %s is missing or outdated: rebuilding", target)
        _refuse_if_in_use(target)
        return _build_locked(settings, target)


def _build_locked(settings: Settings, target: Path) -> Path:
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise PbxError(
            "mmdebstrap is not installed (apt-get install --no-install-recommends mmdebstrap)"
        )
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    work.chmod(0o755)  # apt downloads as _apt into it
    build_log = target.parent / f"{target.name}.build.log"
    command = [
        mmdebstrap,
        *_MMDEBSTRAP_OPTIONS,
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(work),
        settings.debian_mirror,
    ]
    log.info("building asterisk rootfs %s from %s", target, settings.debian_mirror)
    started = time.monotonic()
    try:
        with build_log.open("wb") as out:
            out.write(("$ " + " ".join(command) + "\n").encode())
            out.flush()
            try:
                result = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=_BUILD_TIMEOUT_S,
                    check=False,
                    env={**_CHILD_ENV, "TMPDIR": str(target.parent)},
                )
            except subprocess.TimeoutExpired as exc:
                raise PbxError(
                    f"mmdebstrap timed out after {_BUILD_TIMEOUT_S:.0f} s; log {build_log}:\n"
                    + _tail(build_log)
                ) from exc
        if result.returncode != 0:
            raise PbxError(
                f"mmdebstrap failed (exit {result.returncode}); log {build_log}:\n"
                + _tail(build_log)
            )
        version = _installed_version(work)
        _check_supported(version)
        for directory in ("run/asterisk", str(CHROOT_RECORDINGS_DIR).lstrip("/")):
            (work / directory).mkdir(parents=True, exist_ok=True)
        marker = {
            "format": _MARKER_FORMAT,
            "suite": SUITE,
            "packages": list(PACKAGES),
            "asterisk_version": version,
            "mirror": settings.debian_mirror,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - started, 1),
        }
        _write_atomic(work / _MARKER, json.dumps(marker, indent=2) + "\n")
        _swap_into_place(work, target)
    except BaseException:
        _remove_tree(work, missing_ok=True)
        raise
    log.info(
        "asterisk rootfs %s built in %.1f s (asterisk %s)",
        target,
        time.monotonic() - started,
        version,
    )
    return target


def _installed_version(root: Path) -> str:
    result = subprocess.run(
        ["chroot", str(root), "dpkg-query", "-W", "-f=${Version}", "asterisk"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_CHILD_ENV,
    )
    version = result.stdout.strip()
    if result.returncode != 0 or not version:
        raise PbxError(f"asterisk is not installed in the new rootfs: {result.stderr.strip()}")
    return version


def _check_supported(version: str) -> None:
    upstream = version.split(":", 1)[-1]
    match = re.match(r"(\d+)\.", upstream)
    if match is None or int(match.group(1)) not in SUPPORTED_MAJORS:
        raise PbxError(
            f"Debian {SUITE} now ships asterisk {version}; asterisk-conf/ is written for "
            f"major version(s) {', '.join(map(str, SUPPORTED_MAJORS))}: review the "
            "configuration and update SUPPORTED_MAJORS"
        )


def _swap_into_place(work: Path, target: Path) -> None:
    if not target.exists() and not target.is_symlink():
        work.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    work.rename(target)
    _remove_tree(old)


def _read_marker(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _marker_matches(marker: Mapping[str, Any]) -> bool:
    return (
        marker.get("format") == _MARKER_FORMAT
        and marker.get("suite") == SUITE
        and sorted(marker.get("packages") or []) == sorted(PACKAGES)
        and isinstance(marker.get("asterisk_version"), str)
    )


def _refuse_if_in_use(root: Path) -> None:
    """Never replace a tree some running process has as its root directory."""
    if not root.exists():
        return
    resolved = str(root.resolve())
    users: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "root") == resolved:
                users.append(int(entry.name))
    if users:
        raise PbxError(f"asterisk rootfs {root} is in use by pid(s) {users}: stop Asterisk first")


# --------------------------------------------------------------------------- start


def start(
    settings: Settings,
    *,
    timeout: float = 60.0,
    extra_files: Mapping[str, str] | None = None,
) -> AsteriskStatus:
    """Start Asterisk (building the root filesystem first if needed).

    A stale Asterisk recorded in the pid file of ``settings.asterisk_run_dir``
    is stopped first. ``extra_files`` maps file names to contents written into
    ``/etc/asterisk`` next to the repository's files (site files such as
    ``pjsip_site.conf``); they may not replace repository or generated files.
    They are kept in the run directory: ``extra_files=None`` reuses those of
    the previous start with the same run directory, ``{}`` drops them.
    Returns once Asterisk is fully booted, its AMI port accepts connections and
    every module listed in ``modules.conf`` is running.
    """
    _require_root()
    generated = _generated_files(settings)
    run_dir = settings.asterisk_run_dir
    extras = _check_extra_files(
        settings, _saved_extra_files(run_dir) if extra_files is None else extra_files
    )
    rootfs = build(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    _save_extra_files(run_dir, extras)
    stop(settings)
    _refuse_if_ctl_answers(rootfs)
    _check_ports_free(settings)
    _install_config(settings, rootfs, generated, extras)
    _install_prompts(rootfs)
    recordings = settings.recordings_dir
    (recordings / VOICEMAIL_FOLDER).mkdir(parents=True, exist_ok=True)
    for directory in ("run/asterisk", str(CHROOT_RECORDINGS_DIR).lstrip("/"), "proc"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
    logs = log_dir(settings)
    (logs / "cdr-custom").mkdir(parents=True, exist_ok=True)
    _rotate_logs(logs)
    messages = logs / _MESSAGES_LOG
    messages_offset = messages.stat().st_size if messages.exists() else 0
    asterisk_log = run_dir / _LOG_FILE
    if asterisk_log.exists():
        asterisk_log.replace(run_dir / f"{_LOG_FILE}.1")

    script = (
        "set -e\n"
        'mount -t proc proc "$1/proc"\n'
        f'mount --bind "$2" "$1{CHROOT_RECORDINGS_DIR}"\n'
        f'mount --bind "$3" "$1{_CHROOT_LOG_DIR}"\n'
        f'exec chroot "$1" {_ASTERISK} -f -n\n'
    )
    command = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        script,
        "hotline-asterisk",
        str(rootfs),
        str(recordings.resolve()),
        str(logs.resolve()),
    ]
    started = time.monotonic()
    with asterisk_log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=_CHILD_ENV,
        )
    _children[proc.pid] = proc
    _write_atomic(
        run_dir / _PID_FILE,
        json.dumps(
            {
                "pid": proc.pid,
                "starttime": _proc_starttime(proc.pid),
                "rootfs": str(rootfs),
                "messages_offset": messages_offset,
                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        + "\n",
    )
    try:
        _wait_booted(settings, rootfs, proc, started + timeout)
        _check_modules(settings, rootfs)
        problems = [line for line in log_problems(settings) if _LOAD_PROBLEM.search(line)]
        if problems:
            raise PbxError("Asterisk reported load problems:\n" + "\n".join(problems))
    except BaseException as exc:
        _kill(proc.pid)
        (run_dir / _PID_FILE).unlink(missing_ok=True)
        if isinstance(exc, PbxError):
            raise PbxError(
                f"{exc}\n--- last lines of {asterisk_log}:\n{_tail(asterisk_log)}"
            ) from exc
        raise
    log.info("asterisk started (pid %d) in %.2f s", proc.pid, time.monotonic() - started)
    return status(settings)


def log_dir(settings: Settings) -> Path:
    """Asterisk's /var/log/asterisk: a per-run directory bind-mounted into the chroot."""
    return settings.asterisk_run_dir / "log"


def cdr_file(settings: Settings) -> Path:
    """Asterisk's own CDR backup (cdr_custom JSON lines) as seen from the host."""
    return settings.provisioned_asterisk_cdr_file


def _rotate_logs(logs: Path) -> None:
    """Keep one previous generation of Asterisk's growing logs."""
    for name in _ROTATED_LOGS:
        path = logs / name
        with contextlib.suppress(OSError):
            if path.stat().st_size > _ROTATE_BYTES:
                path.replace(path.with_name(path.name + ".1"))


def _wait_booted(
    settings: Settings, rootfs: Path, proc: subprocess.Popen[bytes], deadline: float
) -> None:
    booted = False
    while not booted:
        if proc.poll() is not None:
            raise PbxError(f"Asterisk exited during start-up (exit {proc.returncode})")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PbxError("Asterisk did not finish booting in time")
        try:
            result = _run_cli(rootfs, "core waitfullybooted", timeout=max(remaining, 0.5))
        except subprocess.TimeoutExpired:
            continue
        if result.returncode == 0 and "fully booted" in result.stdout:
            booted = True
        else:
            time.sleep(0.05)
    while True:
        if proc.poll() is not None:
            raise PbxError(f"Asterisk exited during start-up (exit {proc.returncode})")
        try:
            with socket.create_connection((settings.ami_host, settings.ami_port), timeout=1.0) as s:
                banner = s.recv(128)
        except OSError:
            banner = b""
        if banner.startswith(b"Asterisk Call Manager"):
            return
        if time.monotonic() >= deadline:
            raise PbxError(f"AMI did not answer on {settings.ami_host}:{settings.ami_port} in time")
        time.sleep(0.05)


def _check_modules(settings: Settings, rootfs: Path) -> None:
    wanted = _modules_to_load(settings.asterisk_conf_dir / "modules.conf")
    output = _run_cli(rootfs, "module show", timeout=10).stdout
    running = {
        line.split()[0]
        for line in output.splitlines()
        if line.split() and line.split()[0].endswith(".so") and _module_running(line)
    }
    missing = sorted(set(wanted) - running)
    if missing:
        raise PbxError("modules listed in modules.conf are not running: " + ", ".join(missing))


def _module_running(line: str) -> bool:
    match = _RUNNING.search(line)
    return match is not None and match.group(1) == "Running"


def _modules_to_load(modules_conf: Path) -> list[str]:
    modules: list[str] = []
    for raw in modules_conf.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        match = re.match(r"(?:load|require)\s*=>?\s*(\S+)$", line)
        if match:
            name = match.group(1)
            modules.append(name if name.endswith(".so") else f"{name}.so")
    return modules


def _check_ports_free(settings: Settings) -> None:
    probes = (
        ("AMI", socket.SOCK_STREAM, settings.ami_host, settings.ami_port),
        ("SIP", socket.SOCK_DGRAM, settings.sip_host, settings.sip_port),
    )
    for label, kind, host, port in probes:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, kind) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PbxError(
                        f"{label} port {host}:{port} is already in use by another process"
                    ) from exc
                raise PbxError(f"cannot use {label} address {host}:{port}: {exc}") from exc


def _refuse_if_ctl_answers(rootfs: Path) -> None:
    ctl = rootfs / _CTL_SOCKET
    if not ctl.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(ctl))
        except OSError:
            return
    raise PbxError(
        f"another Asterisk (not in this run dir's pid file) is running from {rootfs}; "
        f"stop it first (chroot {rootfs} asterisk -rx 'core stop now')"
    )


# --------------------------------------------------------------------------- config


def _generated_files(settings: Settings) -> dict[str, str]:
    secret = settings.ami_secret.get_secret_value()
    if not secret:
        raise PbxError(
            "refusing to start Asterisk without an AMI secret: set ami_secret in the "
            "config file or HOTLINE_AMI_SECRET"
        )
    if secret != secret.strip() or any(ord(c) < 32 or ord(c) == 127 for c in secret):
        raise PbxError("the AMI secret may not contain control characters or surrounding spaces")
    user = settings.ami_user
    if not _SAFE_USER.match(user) or user.lower() == "general":
        raise PbxError(f"invalid AMI user name {user!r} (letters, digits, '_', '.', '-')")
    for label, value in (
        ("ami_host", settings.ami_host),
        ("sip_host", settings.sip_host),
        ("agi_host", settings.agi_host),
    ):
        if not _SAFE_VALUE.match(value):
            raise PbxError(f"invalid {label} {value!r}")
    if settings.trunk_host and not _SAFE_VALUE.match(settings.trunk_host):
        raise PbxError(f"invalid trunk_host {settings.trunk_host!r}")
    for label, port in (
        ("ami_port", settings.ami_port),
        ("sip_port", settings.sip_port),
        ("agi_port", settings.agi_port),
        ("rtp_start", settings.rtp_start),
        ("rtp_end", settings.rtp_end),
    ):
        if not 1 <= port <= 65535:
            raise PbxError(f"invalid {label} {port}")
    if settings.rtp_end - settings.rtp_start < 100:
        raise PbxError("rtp_start..rtp_end must span at least 100 ports (two per call leg)")

    header = "; Generated by hotline on every Asterisk start from the settings. Do not edit.\n"
    escaped_secret = secret.replace("\\", "\\\\").replace(";", "\\;")
    return {
        "manager_hotline.conf": (
            f"{header}\n[general](general-defaults)\nbindaddr = {settings.ami_host}\n"
            f"port = {settings.ami_port}\n\n[{user}](hotline-cti-rights)\n"
            f"secret = {escaped_secret}\n"
        ),
        "pjsip_transport_hotline.conf": (
            f"{header}\n[transport-udp]\ntype = transport\nprotocol = udp\n"
            f"bind = {_host_port(settings.sip_host, settings.sip_port)}\n"
        ),
        "rtp_hotline.conf": (
            f"{header}rtpstart = {settings.rtp_start}\nrtpend = {settings.rtp_end}\n"
        ),
        "extensions_globals.conf": (
            header
            + "".join(
                f"{name} = {value}\n"
                for name, value in (
                    (dialplan.AGI_HOST, _host_for_uri(settings.agi_host)),
                    (dialplan.AGI_PORT, settings.agi_port),
                    (dialplan.REC_DIR, CHROOT_RECORDINGS_DIR),
                    (dialplan.CTI_GRACE, max(1, round(settings.cti_grace_s))),
                    (dialplan.ANNOUNCE_FIRST, max(0, round(settings.announce_first_s))),
                    (dialplan.ANNOUNCE_EVERY, max(0, round(settings.announce_every_s))),
                    (dialplan.TRUNK_HOST, settings.trunk_host),
                )
            )
        ),
    }


def _check_extra_files(settings: Settings, extra_files: Mapping[str, str]) -> dict[str, str]:
    repo_names = {p.name for p in settings.asterisk_conf_dir.iterdir()}
    checked: dict[str, str] = {}
    for name, content in extra_files.items():
        if not _SAFE_CONF_NAME.match(name):
            raise PbxError(f"invalid extra config file name {name!r}")
        if name in repo_names or name in _GENERATED:
            raise PbxError(f"extra config file {name!r} would replace a hotline file")
        checked[name] = content
    return checked


def _install_prompts(rootfs: Path) -> None:
    """Render the IVR's prompts where its FastAGI commands point inside the chroot.

    Existing files are kept (rendered once per root filesystem; a site may put
    recorded prompts there instead).
    """
    folder = PROMPTS_ROOT
    try:
        render_prompts(rootfs / str(folder).lstrip("/"))
    except (PromptError, OSError, subprocess.CalledProcessError) as exc:
        raise PbxError(f"cannot render the IVR prompts into {folder}: {exc}") from exc


def _saved_extra_files(run_dir: Path) -> dict[str, str]:
    saved = run_dir / _SITE_DIR
    if not saved.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(saved.glob("*.conf"))}


def _save_extra_files(run_dir: Path, extras: Mapping[str, str]) -> None:
    saved = run_dir / _SITE_DIR
    if saved.is_dir():
        shutil.rmtree(saved)
    if not extras:
        return
    saved.mkdir(mode=0o700)
    for name, content in extras.items():
        fd = os.open(saved / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)


def _install_config(
    settings: Settings,
    rootfs: Path,
    generated: Mapping[str, str],
    extras: Mapping[str, str],
) -> None:
    source = settings.asterisk_conf_dir
    if not (source / "modules.conf").is_file():
        raise PbxError(f"{source} does not look like hotline's asterisk-conf directory")
    etc = rootfs / "etc" / "asterisk"
    _remove_tree(etc, missing_ok=True)
    etc.mkdir(mode=0o750)
    for item in sorted(source.iterdir()):
        if item.is_file() and not item.name.startswith((".", "README")):
            shutil.copyfile(item, etc / item.name)
            (etc / item.name).chmod(0o640)
    for name, content in {**generated, **extras}.items():
        path = etc / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
    _write_realtime_queues(source / "queues.conf", rootfs / _REALTIME_DB)


def _queue_template(queues_conf: Path) -> dict[str, str]:
    """The options of the ``[hotline-queue](!)`` template in queues.conf."""
    options: dict[str, str] = {}
    section: str | None = None
    for raw in queues_conf.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line[1 : line.index("]")] if "]" in line else None
            continue
        if section == _QUEUE_TEMPLATE and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            options[key.rstrip(">").strip()] = value.lstrip(">").strip()
    if not options:
        raise PbxError(f"{queues_conf} has no [{_QUEUE_TEMPLATE}](!) template")
    for key in options:
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", key):
            raise PbxError(f"unexpected option {key!r} in [{_QUEUE_TEMPLATE}] of {queues_conf}")
    return options


def _write_realtime_queues(queues_conf: Path, db_path: Path) -> None:
    options = _queue_template(queues_conf)
    columns = ["name", *(key.replace("-", "_") for key in options)]
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        with db:
            db.execute(f"CREATE TABLE queues ({', '.join(f'{c} TEXT' for c in columns)})")
            db.executemany(
                f"INSERT INTO queues VALUES ({', '.join('?' for _ in columns)})",
                [(name, *options.values()) for name in _REALTIME_QUEUES],
            )
    finally:
        db.close()
    tmp.replace(db_path)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _host_for_uri(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


# --------------------------------------------------------------------------- stop


def stop(settings: Settings, *, timeout: float = 10.0) -> bool:
    """Stop the Asterisk recorded in the pid file; True if one was running.

    Asks Asterisk to ``core stop now``, then SIGTERM/SIGKILLs its process
    group if it does not exit in time. Idempotent.
    """
    pid_file = settings.asterisk_run_dir / _PID_FILE
    info = _read_pid_file(pid_file)
    if info is None:
        pid_file.unlink(missing_ok=True)
        return False
    pid = int(info["pid"])
    rootfs = Path(str(info.get("rootfs") or _rootfs(settings)))
    if not _is_recorded_process(pid, info.get("starttime")):
        log.info("removing stale asterisk pid file %s (pid %d is gone)", pid_file, pid)
        pid_file.unlink(missing_ok=True)
        return False
    started = time.monotonic()
    deadline = started + timeout
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        _run_cli(rootfs, "core stop now", timeout=max(1.0, min(5.0, timeout / 2)))
    if not _wait_exit(pid, deadline):
        _kill(pid)
    pid_file.unlink(missing_ok=True)
    log.info("asterisk (pid %d) stopped in %.2f s", pid, time.monotonic() - started)
    return True


def _kill(pid: int) -> None:
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
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _proc_starttime(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); fields after the ")" of the command name start at 3.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _is_recorded_process(pid: int, starttime: object) -> bool:
    if not _alive(pid):
        return False
    return starttime is None or _proc_starttime(pid) == starttime


def _read_pid_file(pid_file: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return data


# --------------------------------------------------------------------------- status / cli


def status(settings: Settings) -> AsteriskStatus:
    """Whether the Asterisk of the pid file runs; its version and uptime."""
    info = _read_pid_file(settings.asterisk_run_dir / _PID_FILE)
    if info is None or not _is_recorded_process(int(info["pid"]), info.get("starttime")):
        return AsteriskStatus(running=False)
    rootfs = Path(str(info.get("rootfs") or _rootfs(settings)))
    version = uptime = None
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        result = _run_cli(rootfs, "core show version", timeout=5)
        if result.returncode == 0:
            version = result.stdout.strip().splitlines()[0] if result.stdout.strip() else None
        result = _run_cli(rootfs, "core show uptime", timeout=5)
        if result.returncode == 0:
            for line in result.stdout.splitlines():
                if line.startswith("System uptime:"):
                    uptime = line.split(":", 1)[1].strip()
    return AsteriskStatus(
        running=True, pid=int(info["pid"]), version=version, uptime=uptime, rootfs=rootfs
    )


def asterisk_cli(settings: Settings, command: str, *, timeout: float = 10.0) -> str:
    """Run an Asterisk CLI command (``asterisk -rx``) and return its output."""
    info = _read_pid_file(settings.asterisk_run_dir / _PID_FILE)
    if info is None or not _is_recorded_process(int(info["pid"]), info.get("starttime")):
        raise PbxError("Asterisk is not running")
    rootfs = Path(str(info.get("rootfs") or _rootfs(settings)))
    try:
        result = _run_cli(rootfs, command, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise PbxError(f"asterisk -rx {command!r} timed out after {timeout} s") from exc
    if result.returncode != 0:
        raise PbxError(
            f"asterisk -rx {command!r} failed (exit {result.returncode}): "
            f"{(result.stdout + result.stderr).strip()}"
        )
    return result.stdout


def log_problems(settings: Settings) -> list[str]:
    """WARNING and ERROR lines Asterisk logged since the current start."""
    info = _read_pid_file(settings.asterisk_run_dir / _PID_FILE)
    if info is None:
        return []
    offset = int(info.get("messages_offset") or 0)
    try:
        with (log_dir(settings) / _MESSAGES_LOG).open("rb") as f:
            if f.seek(0, os.SEEK_END) < offset:
                offset = 0
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if _LOG_LEVEL.search(line)]


def recording_path_in_host(settings: Settings, path_in_asterisk: str | PurePosixPath) -> Path:
    """Map a recording path as Asterisk sees it to the file on the host.

    ``/var/spool/asterisk/monitor/hotline/X`` -> ``settings.recordings_dir / X``.
    """
    path = PurePosixPath(path_in_asterisk)
    try:
        relative = path.relative_to(CHROOT_RECORDINGS_DIR)
    except ValueError:
        raise ValueError(f"{path} is not under {CHROOT_RECORDINGS_DIR}") from None
    if not path.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ValueError(f"{path} is not a recording path")
    return settings.recordings_dir.joinpath(*relative.parts)


def _run_cli(rootfs: Path, command: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chroot", str(rootfs), _ASTERISK, "-rx", command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
        env=_CHILD_ENV,
    )


# --------------------------------------------------------------------------- helpers


def _rootfs(settings: Settings) -> Path:
    return settings.asterisk_rootfs.expanduser().absolute()


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PbxError("running Asterisk from a chroot needs root (chroot, mount namespaces)")


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomic(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def _mount_points_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def _remove_tree(path: Path, *, missing_ok: bool = False) -> None:
    """Delete a directory tree, refusing to cross into mounted file systems."""
    if not path.exists() and not path.is_symlink():
        if missing_ok:
            return
        raise PbxError(f"{path} does not exist")
    mounts = _mount_points_under(path)
    if mounts:
        raise PbxError(f"refusing to delete {path}: file systems are mounted under it: {mounts}")
    result = subprocess.run(
        ["rm", "-rf", "--one-file-system", "--", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise PbxError(f"could not delete {path}: {result.stderr.strip()}")


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])
