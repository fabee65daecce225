"""The PostgreSQL ledger store: its schema, its thread, the server's clock, shared use."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import trio

from supervisors import StepRecord
from supervisors.stores._postgres_database import ForeignDatabaseError
from supervisors.stores._postgres_store import PostgresStore, open_postgres_store


def sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on its own connection; return its rows (none for a command)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(query, params or None)
        return cursor.fetchall() if cursor.description else []


def record(step: str) -> StepRecord:
    """A succeeded record of ``step``."""
    return StepRecord(step=step, agent="a", status="success", started_at=1.0, ended_at=2.0)


async def test_first_use_creates_a_versioned_schema(postgres_url: str) -> None:
    """An empty database gets the mira_actors schema, marked with its application and version."""
    async with open_postgres_store(postgres_url):
        pass
    meta = dict(sql(postgres_url, "SELECT key, value FROM mira_actors.meta"))
    assert meta == {"application": "mira-actors ledger", "schema_version": "2"}
    tables = sql(postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'mira_actors'")
    assert {name for (name,) in tables} == {"meta", "owners", "runs", "steps"}


async def test_a_foreign_schema_is_refused_and_left_untouched(postgres_url: str) -> None:
    """A mira_actors schema that another application made is refused; nothing in it changes."""
    sql(postgres_url, "CREATE SCHEMA mira_actors")
    sql(postgres_url, "CREATE TABLE mira_actors.runs (id INT)")
    sql(postgres_url, "INSERT INTO mira_actors.runs VALUES (7)")
    with pytest.raises(ForeignDatabaseError, match="not made by mira-actors; it is left untouched"):
        async with open_postgres_store(postgres_url):
            pass
    tables = sql(postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'mira_actors'")
    assert tables == [("runs",)]
    assert sql(postgres_url, "SELECT id FROM mira_actors.runs") == [(7,)]


async def test_another_schema_version_is_refused(postgres_url: str) -> None:
    """A ledger of another schema version is refused with a clear error and not changed."""
    async with open_postgres_store(postgres_url):
        pass
    sql(postgres_url, "UPDATE mira_actors.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ForeignDatabaseError, match="schema version '99'; this code reads 2"):
        async with open_postgres_store(postgres_url):
            pass
    assert ("schema_version", "99") in sql(postgres_url, "SELECT key, value FROM mira_actors.meta")


async def test_a_version_1_ledger_gains_run_start_times(postgres_url: str) -> None:
    """A ledger of schema version 1 (no run start times) is upgraded and keeps its runs."""
    async with open_postgres_store(postgres_url) as store:
        await store.create_run("old", "wf", {}, 5.0)
    sql(postgres_url, "ALTER TABLE mira_actors.runs DROP COLUMN started_at")
    sql(postgres_url, "UPDATE mira_actors.meta SET value = '1' WHERE key = 'schema_version'")
    async with open_postgres_store(postgres_url) as store:
        run = await store.load_run("old")
        assert run is not None
        assert (run.started_at, run.time_left(1e12)) == (None, 5.0)
    assert ("schema_version", "2") in sql(postgres_url, "SELECT key, value FROM mira_actors.meta")


async def test_other_tables_in_the_database_are_never_touched(postgres_url: str) -> None:
    """The ledger shares a database with others' tables, in its own schema only."""
    sql(postgres_url, "CREATE TABLE public.runs (id INT)")
    async with open_postgres_store(postgres_url) as store:
        await store.create_run("r1", "wf", {}, 1.0)
    assert sql(postgres_url, "SELECT count(*) FROM public.runs") == [(0,)]
    sql(postgres_url, "DROP TABLE public.runs")


async def test_two_first_openers_at_once_both_succeed(postgres_url: str) -> None:
    """Stores opened at the same moment on an empty database make the schema once."""
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(_open_and_close, postgres_url)
    assert sql(postgres_url, "SELECT count(*) FROM mira_actors.meta") == [(2,)]


async def _open_and_close(url: str) -> None:
    async with open_postgres_store(url):
        pass


async def test_runs_survive_reopening_and_are_shared(postgres_url: str) -> None:
    """A run written through one store reads back the same through another, later."""
    async with open_postgres_store(postgres_url) as first:
        await first.create_run("r1", "wf", {"name": "Apollo"}, 30.0)
        await first.record_step("r1", record("plan"))
        async with open_postgres_store(postgres_url) as second:
            assert await second.load_run("r1") == await first.load_run("r1")
        before = await first.load_run("r1")
    async with open_postgres_store(postgres_url) as again:
        assert await again.load_run("r1") == before


async def test_claims_through_many_connections_have_one_winner(postgres_url: str) -> None:
    """Owners on separate connections claiming one run at once: exactly one gets it."""
    async with open_postgres_store(postgres_url) as store:
        await store.create_run("r1", "wf", {}, 5.0)
    wins: list[str] = []

    async def claim(owner: str) -> None:
        async with open_postgres_store(postgres_url) as mine:
            await mine.heartbeat(owner)
            if await mine.claim("r1", owner, timeout=5.0):
                wins.append(owner)

    async with trio.open_nursery() as nursery:
        for n in range(6):
            nursery.start_soon(claim, f"owner-{n}")
    assert len(wins) == 1


async def test_lease_expiry_is_judged_by_the_servers_clock(postgres_url: str) -> None:
    """With no clock given, leases run on the server's time: a short lease lapses there."""
    async with open_postgres_store(postgres_url) as store:
        [(server_now,)] = sql(postgres_url, "SELECT extract(epoch FROM clock_timestamp())::float8")
        await store.create_run("r1", "wf", {}, 5.0, owner="brief", lease_time=0.5)
        run = await store.load_run("r1")
        assert run is not None
        assert run.lease_expires_at is not None
        assert 0 <= run.lease_expires_at - 0.5 - server_now < 5  # stamped by the server
        await store.heartbeat("next")
        assert await store.claim("r1", "next", timeout=1.0) is False
        # Real time: the server's clock must pass the expiry (a bounded wait, not a poll).
        await trio.sleep(max(0.0, run.lease_expires_at - await store.now()) + 0.05)
        assert await store.now() > run.lease_expires_at
        assert await store.claim("r1", "next", timeout=1.0) is True


async def test_the_store_thread_ends_with_the_store(postgres_url: str) -> None:
    """The store's own thread runs while it is open and is gone once it is closed."""

    def threads() -> set[str]:
        return {t.name for t in threading.enumerate() if "postgres store" in t.name}

    before = threads()
    async with open_postgres_store(postgres_url) as store:
        assert len(threads() - before) == 1
        await store.create_run("r1", "wf", {}, 1.0)
    assert threads() == before
    with pytest.raises(RuntimeError, match="closed"):
        await store.load_run("r1")


async def test_a_write_asked_for_in_a_cancelled_scope_is_committed(postgres_url: str) -> None:
    """Writes are not cancellable: a cancelled caller's step is still committed whole."""
    async with open_postgres_store(postgres_url) as store:
        await store.create_run("r1", "wf", {}, 1.0)
        with trio.CancelScope() as scope:
            scope.cancel()
            await store.record_step("r1", record("plan"))
        run = await store.load_run("r1")
    assert run is not None
    assert run.completed_steps == ["plan"]


def test_the_password_is_never_shown() -> None:
    """The store's repr and thread name leave the URL's password out."""
    store = PostgresStore("postgresql://mira:s3cret@db.example:5432/ledger")
    try:
        assert repr(store) == "PostgresStore('postgresql://mira@db.example:5432/ledger')"
        assert all("s3cret" not in t.name for t in threading.enumerate())
    finally:
        trio.run(store.aclose)
