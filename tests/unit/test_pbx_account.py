"""The account Asterisk runs as: ids unused on the host; directories given without links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cti.pbx import account


def _etc(root: Path, passwd: str, group: str) -> Path:
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(passwd)
    (etc / "group").write_text(group)
    return etc


def test_an_asterisk_uid_the_host_uses_is_moved_to_a_free_one(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    _etc(
        rootfs,
        "root:x:0:0::/root:/bin/sh\n"
        "asterisk:x:101:101:Asterisk PBX:/var/lib/asterisk:/usr/sbin/nologin\n",
        "root:x:0:\nasterisk:x:101:\naudio:x:29:asterisk\n",
    )
    host = _etc(
        tmp_path / "host",
        "postgres:x:101:104::/:/bin/sh\nx:x:61000:61000::/:/bin/sh\n",
        "x:x:61000:\n",
    )
    found = account.ensure_account(rootfs, host_etc=host)
    assert found.uid == found.gid == 61001
    assert "asterisk:x:61001:61001:Asterisk PBX:" in (rootfs / "etc/passwd").read_text()
    assert "asterisk:x:61001:\n" in (rootfs / "etc/group").read_text()
    assert "audio:x:29:asterisk" in (rootfs / "etc/group").read_text()
    # idempotent: a second start keeps the ids
    assert account.ensure_account(rootfs, host_etc=host) == found


def test_an_unused_uid_is_kept(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    _etc(rootfs, "asterisk:x:150:150::/:/bin/false\n", "asterisk:x:150:\n")
    host = _etc(tmp_path / "host", "root:x:0:0::/:/bin/sh\n", "root:x:0:\n")
    assert account.ensure_account(rootfs, host_etc=host) == account.Account("asterisk", 150, 150)


def test_a_rootfs_without_the_account_is_refused(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    _etc(rootfs, "root:x:0:0::/:/bin/sh\n", "root:x:0:\n")
    with pytest.raises(LookupError):
        account.ensure_account(rootfs, host_etc=rootfs / "etc")


def test_giving_a_directory_never_follows_a_planted_link(tmp_path: Path) -> None:
    outside = tmp_path / "host-secret"
    outside.write_text("x")
    folder = tmp_path / "spool"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "file").write_text("y")
    (folder / "link").symlink_to(outside)
    runas = account.Account("asterisk", 61234, 61234)
    account.give(runas, [folder])
    assert (folder / "sub" / "file").stat().st_uid == 61234
    assert os.lstat(folder / "link").st_uid == 61234
    assert outside.stat().st_uid == 0
