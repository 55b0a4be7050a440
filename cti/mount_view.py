"""A private mount namespace in which an unprivileged account reaches the folders it needs.

Used by the demo's unprivileged CTI (:mod:`cti.unprivileged`) when its code,
its Python or its state live under a folder the account may not enter (root's
home is 0700): in a mount namespace of its own, each such closed folder is
covered by an empty tmpfs holding only the way down to the folders needed,
each bind-mounted back in place. The account sees those and nothing else of
the closed folder; the host's mounts are untouched (the namespace ends with
the process).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from cti.pbx.account import Account

__all__ = ["MountViewError", "can_traverse", "first_closed", "open_view"]

_CLONE_NEWNS = 0x00020000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


class MountViewError(OSError):
    """The folders could not be opened to the account (the message says which)."""


def _can_enter(folder: Path, runas: Account) -> bool:
    info = folder.stat()
    if info.st_uid == runas.uid:
        bit = stat.S_IXUSR
    elif info.st_gid == runas.gid:
        bit = stat.S_IXGRP
    else:
        bit = stat.S_IXOTH
    return bool(info.st_mode & bit)


def can_traverse(path: Path, runas: Account) -> bool:
    """Whether ``runas`` may search every folder from / down to ``path`` (a folder)."""
    return all(_can_enter(folder, runas) for folder in (path, *path.parents))


def first_closed(path: Path, runas: Account) -> Path | None:
    """The highest folder above ``path`` that ``runas`` may not enter (None: none)."""
    for folder in reversed(path.parents):
        if not _can_enter(folder, runas):
            return folder
    return None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount(
    libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int
) -> None:
    data = b"mode=0755,size=1m" if fstype == "tmpfs" else None
    if libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data,
    ):
        err = ctypes.get_errno()
        raise MountViewError(err, f"cannot mount {source} on {target}: {os.strerror(err)}")


def open_view(needed: Iterable[Path], runas: Account) -> None:
    """Make every folder of ``needed`` reachable by ``runas`` (call as root, before dropping).

    Moves this process into a mount namespace of its own when some folder on
    the way is closed. A needed folder the account may not enter itself is an
    error: only the way to it is opened, never its own rights.
    """
    folders = sorted({Path(p).resolve() for p in needed})
    covered: dict[Path, list[Path]] = {}
    for folder in folders:
        if not _can_enter(folder, runas):
            raise MountViewError(f"uid {runas.uid} may not enter {folder} itself")
        top = first_closed(folder, runas)
        if top is not None:
            covered.setdefault(top, []).append(folder)
    if not covered:
        return
    libc = _libc()
    if libc.unshare(_CLONE_NEWNS):
        err = ctypes.get_errno()
        raise MountViewError(err, f"cannot make a mount namespace: {os.strerror(err)}")
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    for top, inside in covered.items():
        # outermost first; a folder inside another needed one comes with it
        kept = [f for f in inside if not any(o != f and f.is_relative_to(o) for o in inside)]
        handles = {f: os.open(f, os.O_PATH | os.O_DIRECTORY) for f in kept}
        try:
            _mount(libc, "tmpfs", str(top), "tmpfs", _MS_NOSUID | _MS_NODEV)
            for folder, fd in handles.items():
                folder.mkdir(mode=0o755, parents=True, exist_ok=True)
                _mount(libc, f"/proc/self/fd/{fd}", str(folder), None, _MS_BIND | _MS_REC)
        finally:
            for fd in handles.values():
                os.close(fd)
