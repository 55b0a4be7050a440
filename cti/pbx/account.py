"""The unprivileged account Asterisk runs as inside its root filesystem.

Debian's asterisk package creates a system user ``asterisk`` in the root
filesystem, with whatever uid was free there (often one the host already gives
to another service, e.g. 101). Asterisk is started as root (chroot, mounts)
and drops to this user with ``-U``/``-G`` before it loads any module. So that
the uid means nothing on the host, the account is moved to an id that neither
the host nor the root filesystem uses (:data:`ID_RANGE`), once; then the
directories Asterisk writes to are given to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ID_RANGE", "NAME", "Account", "ensure_account", "give"]

#: The account's name in the root filesystem (made by Debian's asterisk package).
NAME = "asterisk"
#: Ids tried for the account when its own clashes with the host's (none are
#: allocated by Debian's base-passwd or adduser defaults).
ID_RANGE = range(61000, 62000)


@dataclass(frozen=True, slots=True)
class Account:
    """The user and group Asterisk runs as (numeric ids as seen by the host)."""

    name: str
    uid: int
    gid: int


def _ids(path: Path) -> dict[str, int]:
    """name -> id (third field) of a passwd or group file."""
    found: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isascii() and fields[2].isdigit():
            found[fields[0]] = int(fields[2])
    return found


def _replace_id(path: Path, name: str, new_id: int, *, gid_field: bool) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out = []
    for line in lines:
        fields = line.rstrip("\n").split(":")
        if fields[0] == name and len(fields) >= 3:
            fields[2] = str(new_id)
            if gid_field and len(fields) >= 4:
                fields[3] = str(new_id)
            line = ":".join(fields) + "\n"
        out.append(line)
    tmp = path.with_name(f".{path.name}.hotline-tmp")
    tmp.write_text("".join(out), encoding="utf-8")
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    tmp.replace(path)


def ensure_account(rootfs: Path, *, host_etc: Path = Path("/etc")) -> Account:
    """The account of the root filesystem, moved to ids unused on the host.

    Raises :class:`LookupError` when the root filesystem has no such account,
    and :class:`RuntimeError` when no id in :data:`ID_RANGE` is free.
    """
    passwd, group = rootfs / "etc" / "passwd", rootfs / "etc" / "group"
    users, groups = _ids(passwd), _ids(group)
    if NAME not in users or NAME not in groups:
        raise LookupError(f"{rootfs} has no {NAME!r} user and group")
    host_users, host_groups = _ids(host_etc / "passwd"), _ids(host_etc / "group")
    uid, gid = users[NAME], groups[NAME]
    uid_taken = {v for k, v in host_users.items()} | {v for k, v in users.items() if k != NAME}
    gid_taken = {v for k, v in host_groups.items()} | {v for k, v in groups.items() if k != NAME}
    if uid in uid_taken or gid in gid_taken or uid == 0 or gid == 0:
        free = next(
            (i for i in ID_RANGE if i not in uid_taken and i not in gid_taken),
            None,
        )
        if free is None:
            raise RuntimeError(f"no free id in {ID_RANGE} for the {NAME!r} account")
        _replace_id(group, NAME, free, gid_field=False)
        _replace_id(passwd, NAME, free, gid_field=True)
        uid = gid = free
    return Account(NAME, uid, gid)


def give(account: Account, paths: Iterable[Path], *, recursive: bool = True) -> None:
    """Make ``paths`` (and, with ``recursive``, what is under them) the account's.

    Symbolic links are not followed (``lchown``), so a link planted in a
    directory Asterisk can write never hands a host file to it.
    """
    for top in paths:
        if not top.exists():
            continue
        os.lchown(top, account.uid, account.gid)
        if not recursive or top.is_symlink() or not top.is_dir():
            continue
        for folder, dirs, files in os.walk(top):
            for name in (*dirs, *files):
                os.lchown(os.path.join(folder, name), account.uid, account.gid)
