"""A throwaway PostgreSQL server for tests and the bench: started in a temp dir, stopped after.

The server binaries refuse to run as root, so as root they run as the ``postgres`` user
(``runuser``). The server listens on 127.0.0.1 at a free port, with trust
authentication for its one user, and is gone, data and all, when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

BIN = Path(os.environ.get("MIRA_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
USER = "mira"
# How long the server may take to start or stop (real time: it is a real process).
START_TIMEOUT = 60


def missing() -> str | None:
    """Why no server can be started here, or None when one can."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (BIN / tool).exists():
            return f"no PostgreSQL server binaries: {BIN / tool} is missing"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser, so the server cannot be started"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str]) -> None:
    subprocess.run(_as_server_user(argv), check=True, capture_output=True, timeout=START_TIMEOUT)


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Start a server; yield the URL of its ``postgres`` database; stop it and delete it.

    Args:
        durable: Keep PostgreSQL's fsync on (the bench); tests turn it off for speed.
    """
    reason = missing()
    if reason is not None:
        raise RuntimeError(reason)
    home = Path(tempfile.mkdtemp(prefix="mira-pg-"))
    data = home / "data"
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    port = _free_port()
    _run([str(BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
          "--no-sync", "--no-instructions"])  # fmt: skip
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=100"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    log = home / "server.log"
    try:
        _run([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
              "-t", str(START_TIMEOUT), "start"])  # fmt: skip
        try:
            yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
        finally:
            _run([str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def emptied(url: str) -> str:
    """Drop the ledger's schema from the database at ``url`` (quicker than a new database)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS mira_actors CASCADE")
    return url
