"""Open the ledger store a path or URL names: a SQLite file, or a PostgreSQL database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ._memory_store import MemoryStore
from ._protocol import LedgerStore
from ._sqlite_store import open_sqlite_store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` is a PostgreSQL URL rather than a file path."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


@asynccontextmanager
async def open_store(
    target: str | os.PathLike[str] | None, *, read_only: bool = False
) -> AsyncIterator[LedgerStore]:
    """Open the store ``target`` names and close it on exit.

    A ``postgresql://`` (or ``postgres://``) URL opens a
    :class:`~supervisors.stores._postgres_store.PostgresStore` (the ``postgres`` extra); any
    other string or path a :class:`~supervisors.stores._sqlite_store.SqliteStore` file, made
    when missing; None a :class:`~supervisors.stores._memory_store.MemoryStore`. With
    ``read_only``, nothing is created or changed, and every write fails.

    Usage::

        async with open_store(os.environ.get("MIRA_STORE", "runs.db")) as store:
            orchestrator = OrchestratorAgent(store=store)

    Raises:
        ImportError: a PostgreSQL URL without the ``postgres`` extra installed.
        ForeignDatabaseError: the database's ``mira_actors`` schema is not this ledger's
            (or, with ``read_only``, there is none).
        StoreFileError: the file is not a ledger store of ours.
    """
    if target is None:
        memory = MemoryStore()
        try:
            yield memory
        finally:
            await memory.aclose()
    elif is_postgres_url(target):
        try:
            import psycopg  # noqa: F401  (the postgres extra: checked here for a clear error)
        except ImportError as exc:
            msg = (
                "a PostgreSQL store needs the 'postgres' extra: pip install 'mira-actors[postgres]'"
            )
            raise ImportError(msg) from exc
        from ._postgres_store import open_postgres_store

        async with open_postgres_store(str(target), read_only=read_only) as postgres:
            yield postgres
    else:
        async with open_sqlite_store(target, read_only=read_only) as sqlite:
            yield sqlite
