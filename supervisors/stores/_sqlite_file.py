"""A SQLite ledger file: its schema, and opening it only when it is ours.

A file is a ledger store only if it carries our ``application_id`` and a schema version
we read (``user_version``), both in the SQLite header. Anything else (another
application's database, an empty or damaged file, a newer schema, our file with a table
missing) is refused with :class:`StoreFileError` and left exactly as it was. Only a path
that does not exist is created, and it appears already complete (built beside it, then
linked into place), so no process ever sees a half-made store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
import uuid
from typing import Literal

from mira_actors import MiraError

from ._sqlite_pages import INDEXES

Synchronous = Literal["NORMAL", "FULL"]

# "MIRA" in ASCII: written into the SQLite header of every ledger file we create.
APPLICATION_ID = 0x4D495241
SCHEMA_VERSION = 4
# How long a connection waits for another process's write lock before it fails.
BUSY_TIMEOUT = 5.0

# Each owner's heartbeat: one row renews the leases of all the runs it owns.
LEASES = """
CREATE TABLE owners (
    owner_id TEXT PRIMARY KEY,
    heartbeat_at REAL NOT NULL,
    lease_time REAL NOT NULL
);
CREATE INDEX runs_by_owner ON runs (owner_id);
CREATE INDEX runs_running ON runs (created_at) WHERE status = 'running';
"""
# A run's input, beside its row: SQLite rewrites a whole row on every update, and a run's
# row is updated at each step and at its end. With a 3 MB input in it, each of those
# commits (the final one at the deadline among them) wrote 3 MB again.
RUN_DATA = """
CREATE TABLE run_data (
    workflow_id TEXT PRIMARY KEY REFERENCES runs (workflow_id),
    data TEXT NOT NULL
);
"""
# Version 3 kept each run's input in runs.data: its runs keep it there (read where
# run_data has no row); since version 4 runs.data holds ''.
FROM_VERSION_3 = RUN_DATA
# Version 1 held resume claims (claimed_by, claimed_until) in place of leases: its
# columns stay, unused, and its claims lapse (no owner of version 1 beats).
# Version 2 did not keep when a run's latest start or claim began (its deadline):
# its runs have none (NULL), and a recovery gives them their whole timeout.
FROM_VERSION_2 = (
    """
ALTER TABLE runs ADD COLUMN started_at REAL;
"""
    + FROM_VERSION_3
)
FROM_VERSION_1 = (
    """
ALTER TABLE runs ADD COLUMN owner_id TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
"""
    + LEASES
    + FROM_VERSION_2
)
UPGRADES = {1: FROM_VERSION_1, 2: FROM_VERSION_2, 3: FROM_VERSION_3}
SCHEMA = (
    """
CREATE TABLE runs (
    workflow_id TEXT PRIMARY KEY,
    workflow_type TEXT NOT NULL,
    data TEXT NOT NULL,
    timeout REAL NOT NULL,
    status TEXT NOT NULL,
    response TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    resumes INTEGER NOT NULL DEFAULT 0,
    owner_id TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    started_at REAL
);
CREATE TABLE steps (
    id INTEGER PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES runs (workflow_id),
    step TEXT NOT NULL,
    agent TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    result TEXT NOT NULL,
    error TEXT,
    error_type TEXT
);
CREATE INDEX steps_by_run ON steps (workflow_id, id);
"""
    + INDEXES
    + LEASES
    + RUN_DATA
)
# The tables a file of each version has (it gains the rest as it is upgraded).
TABLES = {1: ("runs", "steps"), 2: ("runs", "steps", "owners"), 3: ("runs", "steps", "owners")}
TABLES[SCHEMA_VERSION] = (*TABLES[3], "run_data")

# The SQLite file header (https://sqlite.org/fileformat.html#the_database_header).
_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
_APPLICATION_ID_AT = 68


class StoreFileError(MiraError, ValueError):
    """Raised when a file is not a ledger store this code can use; the file is left as it was.

    It is another application's database, empty, damaged, missing one of our tables,
    written by a newer schema, or cannot be opened at all. ``path`` names the file.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(f"{path!r} {problem}")


def connect(
    path: str, *, synchronous: Synchronous = "NORMAL", read_only: bool = False
) -> sqlite3.Connection:
    """Open the ledger file at ``path``, creating it (unless ``read_only``) when missing.

    Raises:
        StoreFileError: the file is not ours, or is damaged, or cannot be opened.
    """
    if not read_only and not os.path.exists(path):
        _create(path)
    # The header first, read as plain bytes: SQLite itself never touches a file that is
    # not ours (it could add a journal beside it, or convert it to WAL).
    _check_header(path)
    try:
        connection = _open(path, read_only)
    except sqlite3.Error as exc:  # a missing directory, no permission
        raise StoreFileError(path, f"cannot be opened as a ledger store: {exc}") from exc
    try:
        upgrade = _check(connection, path, read_only=read_only)
        if not read_only:
            _prepare(connection, path, synchronous)
            if upgrade:
                _upgrade(connection, path)
    except BaseException:
        connection.close()
        raise
    return connection


def second_connection(path: str) -> sqlite3.Connection:
    """Open another connection to a ledger file that :func:`connect` opened already."""
    try:
        return _open(path, read_only=False)
    except sqlite3.Error as exc:
        raise StoreFileError(path, f"cannot be opened as a ledger store: {exc}") from exc


def _prepare(connection: sqlite3.Connection, path: str, synchronous: Synchronous) -> None:
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit is written to the log (not yet synced) before it
        # returns, which is what surviving SIGKILL needs; FULL syncs for power loss.
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        # Files made before the page indexes get them here (IF NOT EXISTS: once).
        connection.executescript(INDEXES)
    except sqlite3.Error as exc:  # a read-only file or folder
        raise StoreFileError(path, f"cannot be opened for writing: {exc}") from exc


def _open(path: str, read_only: bool) -> sqlite3.Connection:
    # mode=rw never creates the file (a path that vanished since the check is an error).
    query = "mode=rw"
    if read_only:
        # A reader of a WAL file creates its -wal and -shm files when they are missing,
        # and cannot remove them again. They are missing only when no writer has the file
        # open, and then every commit is in the file itself: read it as it is.
        query = "mode=ro" if os.path.exists(f"{path}-wal") else "mode=ro&immutable=1"
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?{query}"
    # isolation_level=None: no implicit transactions; each write says BEGIN itself.
    return sqlite3.connect(
        uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )


def _check_header(path: str) -> None:
    """Refuse a file whose SQLite header does not carry our application_id."""
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError as exc:
        raise StoreFileError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if not header:
        problem = "is empty, not a ledger store; give a path that does not exist to create one"
        raise StoreFileError(path, problem)
    if not header.startswith(_MAGIC) or len(header) < _HEADER_SIZE:
        raise StoreFileError(path, "is not a ledger store: it is not a SQLite database")
    application_id = int.from_bytes(header[_APPLICATION_ID_AT : _APPLICATION_ID_AT + 4], "big")
    if application_id != APPLICATION_ID:
        problem = (
            "is not a mira-actors ledger store: another application's SQLite database "
            f"(application_id {application_id:#x}, not {APPLICATION_ID:#x})"
        )
        raise StoreFileError(path, problem)


def _upgrade(connection: sqlite3.Connection, path: str) -> None:
    """Bring an older file to this version, in one transaction (unless another did)."""
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version in UPGRADES:
                for statement in UPGRADES[version].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.rollback()
            raise
    except sqlite3.Error as exc:
        raise StoreFileError(path, f"cannot be upgraded to schema {SCHEMA_VERSION}: {exc}") from exc


def _check(connection: sqlite3.Connection, path: str, *, read_only: bool) -> bool:
    """Refuse our own file when its schema is newer, or damaged; write nothing.

    Returns whether it is of an older version, to be upgraded (only when not ``read_only``).
    """
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError as exc:  # "file is not a database", "disk image is malformed"
        raise StoreFileError(path, f"is damaged: {exc}") from exc
    upgrade = version in UPGRADES and not read_only
    if version != SCHEMA_VERSION and not upgrade:
        newer = "; upgrade mira-actors to read it" if version > SCHEMA_VERSION else ""
        if version in UPGRADES:
            newer = "; open it once for writing (run or resume) to upgrade it"
        problem = f"holds ledger schema version {version}; this code reads {SCHEMA_VERSION}"
        raise StoreFileError(path, problem + newer)
    needed = TABLES[version]
    missing = [table for table in needed if table not in tables]
    if missing:
        problem = (
            f"is damaged: its {', '.join(map(repr, missing))} table is missing; restore the "
            "file from a backup (it is never rebuilt: completed steps would run again)"
        )
        raise StoreFileError(path, problem)
    return upgrade


def _create(path: str) -> None:
    """Create a complete, empty ledger file at ``path``, unless one appears there first."""
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    try:
        connection = sqlite3.connect(partial, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreFileError(path, f"cannot be created: {exc}") from exc
    try:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(
                f"BEGIN; {SCHEMA}"
                f" PRAGMA application_id = {APPLICATION_ID};"
                f" PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        finally:
            connection.close()
        # A hard link puts the finished file in place only if the path is still free.
        with contextlib.suppress(FileExistsError):  # another process created it first
            os.link(partial, path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreFileError(path, f"cannot be created: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
