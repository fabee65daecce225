"""The PostgreSQL store's database: connecting, its schema, and its transactions.

The ledger's tables live in a schema of their own, made with a version record on first
use; a schema of that name without the record, or of another version, is refused and
left untouched. Every call the store makes is one transaction on its one connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mira_actors import MiraError

from ._protocol import RUNNING

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")

# Everything lives in this schema of the database, so the store shares a database with
# other applications and touches nothing of theirs.
SCHEMA_NAME = "mira_actors"
APPLICATION = "mira-actors ledger"
SCHEMA_VERSION = 2
# Held while the schema is checked and created, so two first openers do not race.
SCHEMA_LOCK = 0x6D697261  # 'mira'

SCHEMA = f"""
CREATE SCHEMA {SCHEMA_NAME};
CREATE TABLE {SCHEMA_NAME}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE {SCHEMA_NAME}.owners (
    owner_id TEXT PRIMARY KEY,
    heartbeat_at DOUBLE PRECISION NOT NULL,
    lease_time DOUBLE PRECISION NOT NULL
);
CREATE TABLE {SCHEMA_NAME}.runs (
    seq BIGSERIAL UNIQUE,
    workflow_id TEXT PRIMARY KEY,
    workflow_type TEXT NOT NULL,
    data TEXT NOT NULL,
    timeout DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    response TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    resumes INTEGER NOT NULL DEFAULT 0,
    owner_id TEXT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    started_at DOUBLE PRECISION
);
CREATE INDEX runs_by_owner ON {SCHEMA_NAME}.runs (owner_id);
CREATE INDEX runs_by_age ON {SCHEMA_NAME}.runs (created_at, workflow_id);
CREATE INDEX runs_by_status_age ON {SCHEMA_NAME}.runs (status, created_at, workflow_id);
CREATE INDEX runs_running ON {SCHEMA_NAME}.runs (created_at) WHERE status = '{RUNNING}';
CREATE TABLE {SCHEMA_NAME}.steps (
    id BIGSERIAL PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES {SCHEMA_NAME}.runs (workflow_id),
    step TEXT NOT NULL,
    agent TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL,
    result TEXT NOT NULL,
    error TEXT,
    error_type TEXT
);
CREATE INDEX steps_by_run ON {SCHEMA_NAME}.steps (workflow_id, id);
"""


class ForeignDatabaseError(MiraError, ValueError):
    """Raised when a database's ``mira_actors`` schema is not a ledger this code can use."""


def host_of(url: str) -> str:
    """The URL without its password, for names and messages."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url[:100]
    scheme, sep, user = head.partition("://")
    return f"{scheme}{sep}{user.partition(':')[0]}@{tail}"[:100]


class Qmark:
    """A psycopg connection that takes ``?`` placeholders, as the shared SQL is written."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def execute(self, query: str, params: Sequence[Any]) -> psycopg.Cursor[Any]:
        return self._connection.execute(query.replace("?", "%s"), params)

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._connection.cursor() as cursor:
            cursor.executemany(query.replace("?", "%s"), rows)


def connect(url: str, *, read_only: bool) -> psycopg.Connection[Any]:
    """Connect, and check (or create) the schema; the connection's writes are explicit."""
    import psycopg  # the postgres extra: imported only where it is used

    try:
        connection = psycopg.connect(url, autocommit=True, application_name="mira-actors")
    except psycopg.OperationalError as exc:
        # Its text names the host and the reason, never the password.
        msg = f"cannot connect to the PostgreSQL store {host_of(url)!r}: {str(exc)[:300]}"
        raise ConnectionError(msg) from None
    try:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            _prepare(connection, read_only=read_only)
        connection.execute(f"SET search_path TO {SCHEMA_NAME}")
        if read_only:
            connection.execute("SET default_transaction_read_only = on")
    except BaseException:
        connection.close()
        raise
    return connection


def _prepare(connection: psycopg.Connection[Any], *, read_only: bool) -> None:
    """Create the schema in an empty database, or check that the one there is ours."""
    exists = connection.execute(
        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA_NAME,)
    ).fetchone()
    if exists is None and read_only:
        msg = "the database holds no mira-actors ledger (no 'mira_actors' schema)"
        raise ForeignDatabaseError(msg)
    if exists is None:
        connection.execute(SCHEMA)
        connection.execute(
            f"INSERT INTO {SCHEMA_NAME}.meta (key, value) VALUES (%s, %s), (%s, %s)",
            ("application", APPLICATION, "schema_version", str(SCHEMA_VERSION)),
        )
        return
    has_meta = connection.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'", (SCHEMA_NAME,)
    ).fetchone()
    meta = {}
    if has_meta is not None:
        rows = connection.execute(f"SELECT key, value FROM {SCHEMA_NAME}.meta").fetchall()
        meta = {str(key): str(value) for key, value in rows}
    if meta.get("application") != APPLICATION:
        msg = (
            f"the database's {SCHEMA_NAME!r} schema was not made by mira-actors; it is left "
            "untouched: use another database, or drop that schema if it is unused"
        )
        raise ForeignDatabaseError(msg)
    version = meta.get("schema_version")
    if version == "1" and not read_only:
        # Version 1 did not keep when a run's latest start or claim began: its runs
        # have none, and a recovery gives them their whole timeout.
        connection.execute(f"ALTER TABLE {SCHEMA_NAME}.runs ADD COLUMN started_at DOUBLE PRECISION")
        connection.execute(
            f"UPDATE {SCHEMA_NAME}.meta SET value = %s WHERE key = 'schema_version'",
            (str(SCHEMA_VERSION),),
        )
        return
    if version != str(SCHEMA_VERSION):
        msg = (
            f"the database holds ledger schema version {version!r}; this code reads "
            f"{SCHEMA_VERSION}"
        )
        raise ForeignDatabaseError(msg)


def transaction(fn: Callable[[Qmark], T], connection: psycopg.Connection[Any], qmark: Qmark) -> T:
    """Run ``fn`` in one read-committed write transaction: all of it is committed, or none."""
    with connection.transaction():
        return fn(qmark)


def snapshot(fn: Callable[[Qmark], T], connection: psycopg.Connection[Any], qmark: Qmark) -> T:
    """Run ``fn`` in one read-only snapshot, so a run and its steps are read as of one moment."""
    with connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return fn(qmark)
