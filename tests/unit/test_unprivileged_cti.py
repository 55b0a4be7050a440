"""The demo's CTI drops root: the state it writes is shared safely, the child is unprivileged."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cti.config import Settings
from cti.pbx.account import Account
from cti.unprivileged import (
    SHARED_STATE_MODE,
    run_unprivileged,
    share_state,
)

RUNAS = Account("asterisk", 61987, 61987)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changes owners: needs root")


def settings_in(state: Path) -> Settings:
    return Settings(
        recordings_dir=state / "recordings",
        asterisk_run_dir=state / "asterisk",
        database_url=f"sqlite+aiosqlite:///{state / 'hotline.db'}",
    )


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A scratch folder other users may enter (pytest's own is root's 0700)."""
    base = Path(tempfile.mkdtemp(prefix="hotline-unpriv-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_state_directory_becomes_root_s_with_the_cti_group_and_the_sticky_bit(
    open_tmp: Path,
) -> None:
    state = open_tmp / "state"
    (state / "recordings").mkdir(parents=True)
    share_state(settings_in(state), RUNAS)
    info = state.stat()
    assert (info.st_uid, info.st_gid) == (0, RUNAS.gid)
    assert stat.S_IMODE(info.st_mode) == SHARED_STATE_MODE


def test_a_database_root_left_becomes_the_cti_s_but_a_planted_link_is_not_followed(
    open_tmp: Path,
) -> None:
    state = open_tmp / "state"
    (state / "recordings").mkdir(parents=True)
    (state / "hotline.db").write_bytes(b"")
    secret = open_tmp / "secret"
    secret.write_text("root's")
    (state / "hotline.db-wal").symlink_to(secret)
    share_state(settings_in(state), RUNAS)
    assert (state / "hotline.db").stat().st_uid == RUNAS.uid
    assert secret.stat().st_uid == 0


def test_a_folder_needed_under_a_closed_one_is_opened_to_the_child_alone(
    open_tmp: Path,
) -> None:
    closed = open_tmp / "home"
    needed = closed / "project" / "code"
    needed.mkdir(parents=True)
    (needed / "module.py").write_text("code")
    (closed / "private").write_text("root's")
    closed.chmod(0o700)

    def work() -> int:
        readable = (needed / "module.py").read_text() == "code"
        hidden = not (closed / "private").exists()
        return 0 if readable and hidden else 3

    assert run_unprivileged(RUNAS, work, [needed]) == 0
    assert (closed / "private").read_text() == "root's"  # the host's view is unchanged
    assert run_unprivileged(RUNAS, work) == 1  # without it, the child cannot read the code


def test_a_needed_folder_the_account_may_not_enter_itself_is_refused(open_tmp: Path) -> None:
    folder = open_tmp / "closed"
    folder.mkdir(mode=0o700)
    assert run_unprivileged(RUNAS, lambda: 0, [folder]) == 1


def test_the_cti_child_runs_without_any_root_id_or_group() -> None:
    def work() -> int:
        ids = (*os.getresuid(), *os.getresgid())
        return 0 if set(ids) == {RUNAS.uid} and not os.getgroups() else 3

    assert run_unprivileged(RUNAS, work) == 0


def test_the_child_s_failure_is_its_exit_code() -> None:
    def work() -> int:
        raise RuntimeError("boom")

    assert run_unprivileged(RUNAS, work) == 1
