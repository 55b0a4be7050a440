"""A throw-away PostgreSQL cluster on Debian's server binaries, for tests and benchmarks.

``start_postgres()`` makes a cluster with ``initdb`` in a new temporary
directory, listening on a free loopback port (or the one given) and a unix
socket in that directory; ``stop_postgres()`` stops it and deletes the
directory. It needs no system service. The server refuses to run as root, so
under root it runs as the ``postgres`` user the Debian package creates.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "postgres"  # the Debian package's system user; the server refuses root


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL server binaries Debian installed."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
    for directory in reversed(dirs):
        if (Path(directory) / "initdb").exists():
            return Path(directory)
    raise RuntimeError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
        "install the Debian package `postgresql` (./dev does)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path  # data directory, socket and log live under it
    port: int
    run_as: list[str]  # command prefix: runuser under root, nothing otherwise
    _names: Iterator[int] = itertools.count(1)

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, *args], check=True, capture_output=True, text=True, timeout=60
        )

    def _admin(self, tool: str, *args: str) -> None:
        self._run(
            str(self.bin_dir / tool),
            "-h", str(self.socket_dir), "-p", str(self.port), "-U", SERVER_USER, *args,
        )  # fmt: skip

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL (asyncpg, over TCP on loopback)."""
        name = f"hotline_test_{os.getpid()}_{next(self._names)}"
        self._admin("createdb", name)
        return f"postgresql+asyncpg://{SERVER_USER}@127.0.0.1:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        self._admin("dropdb", "--force", "--if-exists", url.rsplit("/", 1)[1])


def start_postgres() -> PostgresServer:
    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", SERVER_USER, "--"]
    server = PostgresServer(bin_dir, root, _free_port(), run_as)
    try:
        server._run(
            str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", SERVER_USER,
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        server._run("mkdir", str(server.socket_dir))
        options = (
            f"-p {server.port} -h 127.0.0.1 -k {server.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c timezone=UTC"
        )
        server._run(
            str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        log = root / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        stderr = getattr(exc, "stderr", "") or ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc}\n{stderr}\n{detail}") from exc
    return server


def stop_postgres(server: PostgresServer) -> None:
    try:
        server._run(
            str(server.bin_dir / "pg_ctl"), "-D", str(server.root / "data"),
            "-m", "fast", "-w", "stop",
        )  # fmt: skip
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
