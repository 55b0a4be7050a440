"""File modes of what the CTI keeps: nothing of it readable by other local users.

The database holds password hashes and hashes of 4-digit PINs (minutes to
brute-force offline) and the recordings hold customers' voices, so:

* the state directory is 0750, the SQLite database and its ``-wal``/``-shm``
  files 0600;
* the recordings folders are 0750 and their files 0640 (Asterisk writes them
  with umask 027, see ``cti/pbx/runtime.py``), so the CTI may share a group
  with Asterisk and nobody else reads them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from cti.config import Settings, _default_state_dir

log = logging.getLogger(__name__)

STATE_DIR_MODE = 0o750
DATABASE_MODE = 0o600
RECORDINGS_DIR_MODE = 0o750
RECORDING_FILE_MODE = 0o640
#: the umask Asterisk runs with, so recordings and voicemail come out 0640/0750
ASTERISK_UMASK = 0o027


def _chmod(path: Path, mode: int) -> None:
    try:
        path.chmod(mode)
    except PermissionError:
        log.warning("cannot set mode %o on %s (not its owner)", mode, path)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL (None: not SQLite, or in memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def secure_database(url: str) -> None:
    """Create (or tighten) a SQLite database file at 0600 before SQLite opens it.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode.
    """
    path = sqlite_path(url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, DATABASE_MODE)
    os.close(fd)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            _chmod(file, DATABASE_MODE)


def secure_recordings(folder: Path) -> None:
    """Make the recordings folder tree 0750 and its files 0640 (creating the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    _chmod(folder, RECORDINGS_DIR_MODE)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            _chmod(Path(root) / name, RECORDINGS_DIR_MODE)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                _chmod(Path(root) / name, RECORDING_FILE_MODE)


def secure_state_dir(directory: Path) -> None:
    """The state directory (database, recordings, Asterisk's run files): not world-readable."""
    directory.mkdir(parents=True, exist_ok=True)
    _chmod(directory, STATE_DIR_MODE)


def secure_state(settings: Settings) -> None:
    """At start: the default state directory and the recordings tree, tightened.

    A state directory chosen by the site (``recordings_dir`` elsewhere) is the
    site's to set; only the recordings tree itself is tightened there.
    """
    state = _default_state_dir()
    if settings.recordings_dir.resolve().is_relative_to(state.resolve()):
        secure_state_dir(state)
    secure_recordings(settings.recordings_dir)
