"""`mira-actors serve`: refusals, and a real server process that stops on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from mira_actors.agents._cli import main
from supervisors import open_sqlite_store

CLI = "import sys; from mira_actors.agents._cli import main; sys.exit(main())"
WAIT = 20.0


async def make_store(path: Path) -> None:
    """A SQLite store holding one finished run, 'r1'."""
    async with open_sqlite_store(path) as store:
        await store.create_run("r1", "project_initialization", {"name": "<b>x</b>"}, 5.0)
        await store.finish_run("r1", outcome="error", response={"error": "bad"})


def test_serve_refuses_a_non_loopback_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--host 0.0.0.0 without --allow-remote exits 2, saying why and what flag allows it."""
    db = tmp_path / "runs.db"
    trio.run(make_store, db)
    assert main(["serve", "--store", str(db), "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_serve_needs_an_existing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store path that does not exist exits 2 and creates nothing."""
    missing = tmp_path / "none.db"
    assert main(["serve", "--store", str(missing)]) == 2
    assert "no ledger store" in capsys.readouterr().err
    assert not missing.exists()


async def test_serve_serves_the_store_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The command serves the store's runs on 127.0.0.1 and exits 0 on SIGTERM."""
    db = tmp_path / "runs.db"
    await make_store(db)
    process = await trio.lowlevel.open_process(
        [sys.executable, "-c", CLI, "serve", "--store", str(db), "--port", "0"],
        stderr=subprocess.PIPE,
    )
    try:
        with trio.fail_after(WAIT):
            assert process.stderr is not None
            said = b""
            while b"serving http://" not in said:
                chunk = await process.stderr.receive_some()
                assert chunk, said.decode(errors="replace")
                said += chunk
            url = said.decode().split("serving ")[1].split()[0]
            assert url.startswith("http://127.0.0.1:")
            assert "(read-only)" in said.decode()
            async with httpx.AsyncClient(base_url=url) as http:
                runs = (await http.get("/api/runs")).json()["runs"]
                page = await http.get("/runs/r1")
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert [(r["workflow_id"], r["status"]) for r in runs] == [("r1", "error")]
    assert page.status_code == 200
    assert "&lt;b&gt;x&lt;/b&gt;" in page.text


def test_serve_on_a_taken_port_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A port another socket holds is a clear error and exit 2, not a traceback."""
    db = tmp_path / "runs.db"
    trio.run(make_store, db)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--store", str(db), "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_refuses_a_file_that_is_not_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not a ledger store is refused with exit 2, and left as it was."""
    other = tmp_path / "notes.txt"
    other.write_text("not a database")
    assert main(["serve", "--store", str(other), "--port", "0"]) == 2
    assert "not a ledger store" in capsys.readouterr().err
    assert other.read_text() == "not a database"
