"""Ledger stores behind one protocol: in memory, SQLite and PostgreSQL."""

from ._memory_store import MemoryStore as MemoryStore
from ._open_store import is_postgres_url as is_postgres_url
from ._open_store import open_store as open_store
from ._postgres_database import ForeignDatabaseError as ForeignDatabaseError
from ._postgres_store import PostgresStore as PostgresStore
from ._postgres_store import open_postgres_store as open_postgres_store
from ._protocol import HEARTBEAT_INTERVAL as HEARTBEAT_INTERVAL
from ._protocol import LEASE_TIME as LEASE_TIME
from ._protocol import DamagedRunError as DamagedRunError
from ._protocol import LeaseLostError as LeaseLostError
from ._protocol import LedgerStore as LedgerStore
from ._protocol import ResumeConflictError as ResumeConflictError
from ._protocol import StoredRun as StoredRun
from ._protocol import StoreUnavailableError as StoreUnavailableError
from ._protocol import UnknownRunError as UnknownRunError
from ._run_pages import RunCursor as RunCursor
from ._run_pages import RunPage as RunPage
from ._run_pages import RunSummary as RunSummary
from ._sqlite_file import StoreFileError as StoreFileError
from ._sqlite_store import SqliteStore as SqliteStore
from ._sqlite_store import open_sqlite_store as open_sqlite_store

__all__ = [
    "HEARTBEAT_INTERVAL",
    "LEASE_TIME",
    "DamagedRunError",
    "ForeignDatabaseError",
    "LeaseLostError",
    "LedgerStore",
    "MemoryStore",
    "PostgresStore",
    "ResumeConflictError",
    "RunCursor",
    "RunPage",
    "RunSummary",
    "SqliteStore",
    "StoreFileError",
    "StoreUnavailableError",
    "StoredRun",
    "UnknownRunError",
    "is_postgres_url",
    "open_postgres_store",
    "open_sqlite_store",
    "open_store",
]
