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

The steps live beside this module: ``conf_files`` (what /etc/asterisk holds),
``process`` (the running Asterisk: pid file, status, stop, CLI), ``account``
(the unprivileged user it runs as), ``fs`` (atomic writes, safe deletes).

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
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from cti.config import Settings
from cti.dialplan import VOICEMAIL_FOLDER
from cti.pbx import account, agent_auth
from cti.pbx.conf_files import (
    CHROOT_RECORDINGS_DIR,
    check_extra_files,
    generated_files,
    install_config,
    install_prompts,
    save_extra_files,
    saved_extra_files,
)
from cti.pbx.errors import PbxError
from cti.pbx.fs import remove_tree, write_atomic
from cti.pbx.process import (
    ASTERISK_BIN,
    CHILD_ENV,
    PID_FILE,
    AsteriskStatus,
    asterisk_cli,
    children,
    kill,
    proc_starttime,
    read_pid_file,
    rootfs_of,
    run_cli,
    status,
    stop,
)
from cti.state_files import ASTERISK_UMASK, secure_recordings

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

_MARKER = ".hotline-rootfs.json"
_MARKER_FORMAT = 1
_LOG_FILE = "asterisk.log"
_CTL_SOCKET = "run/asterisk/asterisk.ctl"
_MESSAGES_LOG = "messages"
_CHROOT_LOG_DIR = "/var/log/asterisk"
_ROTATED_LOGS = (
    _MESSAGES_LOG,
    "queue_log",
    "cdr-custom/hotline-cdr.json",
)
_ROTATE_BYTES = 32 * 1024 * 1024
# Directories of the root filesystem Asterisk writes to (astdb, spool, run,
# cache); its logs and recordings are bind-mounted from the host.
_ASTERISK_WRITES = (
    "var/lib/asterisk",
    "var/spool/asterisk",
    "var/cache/asterisk",
    "run/asterisk",
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
    *(
        f"--dpkgopt=path-exclude=/usr/lib/*/asterisk/modules/{m}"
        for m in ("app_system.so", "func_shell.so")
    ),
)
# Modules that run host commands: never installed, removed from older trees.
_FORBIDDEN_MODULES = ("app_system.so", "func_shell.so")
_BUILD_TIMEOUT_S = 1800.0
_LOG_TAIL_LINES = 40
# Log lines that mean a module or function we rely on is missing.
_LOAD_PROBLEM = re.compile(
    r"Unable to load|failed to load|Failed to load|not registered|Declined to load"
    r"|could not be loaded|undefined symbol|No such (?:application|function)",
)
_RUNNING = re.compile(r"\s(Running|Not Running)\s")
_LOG_LEVEL = re.compile(r"\b(WARNING|ERROR)\[")


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
    target = rootfs_of(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if not force:
            marker = _read_marker(target)
            if (
                marker is not None
                and _marker_matches(marker)
                and (target / ASTERISK_BIN.lstrip("/")).is_file()
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
                    env={**CHILD_ENV, "TMPDIR": str(target.parent)},
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
        write_atomic(work / _MARKER, json.dumps(marker, indent=2) + "\n")
        _swap_into_place(work, target)
    except BaseException:
        remove_tree(work, missing_ok=True)
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
        env=CHILD_ENV,
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
    remove_tree(old)


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
    generated = generated_files(settings)
    run_dir = settings.asterisk_run_dir
    extras = check_extra_files(
        settings, saved_extra_files(run_dir) if extra_files is None else extra_files
    )
    rootfs = build(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_extra_files(run_dir, extras)
    stop(settings)
    _refuse_if_ctl_answers(rootfs)
    _check_ports_free(settings)
    runas = _run_account(rootfs)
    _remove_forbidden_modules(rootfs)
    generated[agent_auth.FILE_NAME] = agent_auth.locked_auths(  # agents' 401, not 500
        (settings.asterisk_conf_dir / "pjsip.conf").read_text(encoding="utf-8"),
        extras.get("pjsip_site.conf", ""),
    )
    install_config(settings, rootfs, generated, extras, runas)
    install_prompts(rootfs)
    recordings = settings.recordings_dir
    (recordings / VOICEMAIL_FOLDER).mkdir(parents=True, exist_ok=True)
    secure_recordings(recordings)  # 0750 folders, 0640 files (cti/state_files.py)
    for directory in ("run/asterisk", str(CHROOT_RECORDINGS_DIR).lstrip("/"), "proc"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
    logs = log_dir(settings)
    (logs / "cdr-custom").mkdir(parents=True, exist_ok=True)
    _rotate_logs(logs)
    _give_writable_dirs(runas, rootfs, recordings, logs)
    messages = logs / _MESSAGES_LOG
    messages_offset = messages.stat().st_size if messages.exists() else 0
    asterisk_log = run_dir / _LOG_FILE
    if asterisk_log.exists():
        asterisk_log.replace(run_dir / f"{_LOG_FILE}.1")

    # Own mount and PID namespaces: the chroot's /proc shows Asterisk's
    # processes only, and goes away with them. Asterisk drops root (-U/-G)
    # before it loads a module.
    script = (
        "set -e\n"
        f"umask {ASTERISK_UMASK:03o}\n"  # recordings and voicemail 0640, folders 0750
        'mount -t proc proc "$1/proc"\n'
        f'mount --bind "$2" "$1{CHROOT_RECORDINGS_DIR}"\n'
        f'mount --bind "$3" "$1{_CHROOT_LOG_DIR}"\n'
        f'exec chroot "$1" {ASTERISK_BIN} -f -n -U {runas.name} -G {runas.name}\n'
    )
    command = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
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
            env=CHILD_ENV,
        )
    children[proc.pid] = proc
    write_atomic(
        run_dir / PID_FILE,
        json.dumps(
            {
                "pid": proc.pid,
                "starttime": proc_starttime(proc.pid),
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
        kill(proc.pid)
        (run_dir / PID_FILE).unlink(missing_ok=True)
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
            result = run_cli(rootfs, "core waitfullybooted", timeout=max(remaining, 0.5))
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
    output = run_cli(rootfs, "module show", timeout=10).stdout
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


def _remove_forbidden_modules(rootfs: Path) -> None:
    for module in _FORBIDDEN_MODULES:
        for path in rootfs.glob(f"usr/lib/*/asterisk/modules/{module}"):
            path.unlink()


def _run_account(rootfs: Path) -> account.Account:
    try:
        return account.ensure_account(rootfs)
    except (LookupError, RuntimeError, OSError) as exc:
        raise PbxError(f"cannot prepare the account Asterisk runs as: {exc}") from exc


def _give_writable_dirs(runas: account.Account, rootfs: Path, recordings: Path, logs: Path) -> None:
    """The directories Asterisk writes to become its own; nothing else does."""
    inside = [rootfs / d for d in _ASTERISK_WRITES]
    for directory in inside:
        directory.mkdir(parents=True, exist_ok=True)
    try:
        account.give(runas, [*inside, logs])
        # recordings: the folders only (the files in them are already written)
        account.give(runas, [recordings, recordings / VOICEMAIL_FOLDER], recursive=False)
    except OSError as exc:
        raise PbxError(f"cannot give Asterisk its directories: {exc}") from exc


# --------------------------------------------------------------------------- stop


# --------------------------------------------------------------------------- status / cli


def log_problems(settings: Settings) -> list[str]:
    """WARNING and ERROR lines Asterisk logged since the current start."""
    info = read_pid_file(settings.asterisk_run_dir / PID_FILE)
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


# --------------------------------------------------------------------------- helpers


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


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])
