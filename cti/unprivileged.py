"""`hotline demo` started as root: the CTI runs as the unprivileged Asterisk account.

Only the chrooted Asterisk needs root to start (chroot, mounts, namespaces);
the CTI (web, FastAGI, AMI client, CDR writer) never does. So the demo starts
Asterisk as root, then forks the CTI into a child that drops to the account
Asterisk itself runs as (:mod:`cti.pbx.account`: an id unused on the host) and
seeds and serves from there. The root parent only waits, passes SIGINT and
SIGTERM on, and stops Asterisk when the CTI has ended; it never opens a file
the CTI can write.

What the CTI writes lives in the state directory (the recordings folder's
parent: the SQLite database, its ``-wal``/``-shm`` files, the CDR dead-letter
file). That directory stays root's, with the account as its group and mode
1770: the CTI may create files there, but the sticky bit keeps it from renaming
or replacing what root keeps there (Asterisk's run directory, the demo's
config file). The recordings folders and Asterisk's log folder (its CDR file)
already belong to the account.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from cti.config import Settings
from cti.mount_view import open_view
from cti.pbx import account
from cti.pbx.process import rootfs_of
from cti.state_files import sqlite_path

log = logging.getLogger(__name__)

#: the state directory while the CTI runs unprivileged: root's, the account's
#: group may create files, the sticky bit protects root's entries
SHARED_STATE_MODE = 0o1770


class UnprivilegedError(RuntimeError):
    """The CTI cannot run as the unprivileged account (the message says why)."""


def cti_account(settings: Settings) -> account.Account:
    """The account the CTI drops to: the one the chrooted Asterisk runs as."""
    try:
        return account.ensure_account(rootfs_of(settings))
    except (LookupError, RuntimeError, OSError) as exc:
        raise UnprivilegedError(f"no unprivileged account for the CTI: {exc}") from exc


def _give_file(path: Path, runas: account.Account) -> None:
    """A regular file root left (an older run's database): the account's, links untouched."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_uid == 0:
        os.lchown(path, runas.uid, runas.gid)


def share_state(settings: Settings, runas: account.Account) -> list[Path]:
    """Let ``runas`` write the CTI's files; returns the folders the CTI needs to reach."""
    state = settings.recordings_dir.resolve().parent
    state.mkdir(parents=True, exist_ok=True)
    info = state.lstat()
    if info.st_uid == 0:
        os.chown(state, 0, runas.gid)
        state.chmod(SHARED_STATE_MODE)
    database = sqlite_path(settings.effective_database_url)
    files = [settings.dead_letter_file]
    if database is not None:
        database = database.resolve()
        files += [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
    for file in files:
        _give_file(file, runas)
    needed = [state, settings.recordings_dir.resolve()]
    if database is not None:
        needed.append(database.parent)
    cdr_folder = settings.effective_asterisk_cdr_file.parent
    if cdr_folder.is_dir():
        needed.append(cdr_folder)
    needed.append(Path(__file__).resolve().parent.parent)  # the code, flows, web pages
    needed += [Path(sys.prefix), Path(sys.base_prefix)]  # the virtualenv, the standard library
    return needed


def drop_to(runas: account.Account) -> None:
    """Become ``runas`` for good (no supplementary groups, real and saved ids too)."""
    os.setgroups([])
    os.setgid(runas.gid)
    os.setuid(runas.uid)
    if os.getuid() == 0 or os.geteuid() == 0 or os.getegid() == 0:
        raise UnprivilegedError("could not drop root")
    os.environ["HOME"] = str(Path("/nonexistent"))


def run_unprivileged(
    runas: account.Account, work: Callable[[], int], needed: Sequence[Path] = ()
) -> int:
    """Run ``work`` in a child that has dropped to ``runas``; its exit code.

    Folders of ``needed`` under a folder the account may not enter (root's
    home) are opened to the child alone (:func:`cti.mount_view.open_view`).

    SIGINT and SIGTERM sent to this (root) process are passed to the child,
    which stops cleanly; this process returns once the child has ended.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: drop root before anything else
        code = 1
        try:
            open_view(needed, runas)
            drop_to(runas)
            code = work()
        except KeyboardInterrupt:
            code = 130
        except BaseException:  # noqa: BLE001 - reported, then the child exits
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _, status = os.waitpid(pid, 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("the CTI (pid %d, uid %d) ended", pid, runas.uid)
    return os.waitstatus_to_exitcode(status)
