"""What the CTI keeps on disk is not readable by other local users."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cti.config import Settings
from cti.db.repository import Repository, create_schema, make_engine
from cti.demo import DemoSecrets, seed_demo
from cti.state_files import secure_recordings, secure_state


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most shells give: files 0644, folders 0755
    try:
        yield
    finally:
        os.umask(old)


async def test_the_database_and_its_wal_and_shm_are_created_0600(tmp_path: Path) -> None:
    db = tmp_path / "state" / "hotline.db"
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    try:
        await create_schema(engine)
        await seed_demo(Repository(engine), DemoSecrets.generate("a password"))
        async with engine.connect() as conn:  # keeps the WAL and SHM files open
            await conn.execute(text("SELECT count(*) FROM users"))
            wal, shm = db.with_name("hotline.db-wal"), db.with_name("hotline.db-shm")
            assert wal.exists() and shm.exists()
            assert {p.name: mode(p) for p in (db, wal, shm)} == {
                "hotline.db": 0o600,
                "hotline.db-wal": 0o600,
                "hotline.db-shm": 0o600,
            }
    finally:
        await engine.dispose()


async def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "hotline.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await engine.dispose()
    assert mode(db) == 0o600


def test_recordings_folders_are_0750_and_their_files_0640(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    (recordings / "voicemail").mkdir(parents=True, mode=0o755)
    recordings.chmod(0o755)
    (recordings / "1795.12.wav").write_bytes(b"RIFF")
    (recordings / "voicemail" / "1795.13.wav").write_bytes(b"RIFF")
    secure_recordings(recordings)
    assert mode(recordings) == 0o750
    assert mode(recordings / "voicemail") == 0o750
    assert mode(recordings / "1795.12.wav") == 0o640
    assert mode(recordings / "voicemail" / "1795.13.wav") == 0o640


def test_the_state_directory_is_not_world_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    settings = Settings()
    state = tmp_path / "hotline"
    assert settings.recordings_dir == state / "recordings"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    secure_state(settings)
    assert mode(state) & 0o007 == 0
    assert mode(settings.recordings_dir) == 0o750


def test_a_state_directory_the_site_chose_is_left_to_the_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "default"))
    site = tmp_path / "srv"
    site.mkdir(mode=0o755)
    site.chmod(0o755)
    secure_state(Settings(recordings_dir=site / "recordings"))
    assert mode(site) == 0o755
    assert mode(site / "recordings") == 0o750
