"""File-system steps of the provisioning: atomic writes, deleting a tree that
must not cross into mounted file systems."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cti.pbx.errors import PbxError


def write_atomic(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def mount_points_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    found: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return found


def remove_tree(path: Path, *, missing_ok: bool = False) -> None:
    """Delete a directory tree, refusing to cross into mounted file systems."""
    if not path.exists() and not path.is_symlink():
        if missing_ok:
            return
        raise PbxError(f"{path} does not exist")
    mounts = mount_points_under(path)
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
