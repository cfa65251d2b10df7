"""A database server that takes the connection and never answers (a host that died, a network
partition) must not block a process for TCP's hours: libpq's network timeouts bound it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from arena.api.reads import connect_kwargs
from arena.db.connection import NETWORK_TIMEOUTS, make_engine, network_timeouts
from arena.db.outage import is_database_outage
from tests.arena.db.conftest import admin_url, db_url  # noqa: F401 -- a fresh database per module
from tests.support.silent_server import silent_port  # noqa: F401 -- a fixture


def test_a_silent_port_fails_the_connection_after_the_connect_timeout(silent_port) -> None:  # noqa: F811
    engine = make_engine(f"postgresql://arena@127.0.0.1:{silent_port}/arena")
    started = time.monotonic()
    with pytest.raises(OperationalError, match="timeout"):
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    waited = time.monotonic() - started
    assert float(NETWORK_TIMEOUTS["connect_timeout"]) - 1 <= waited < 30, waited
    engine.dispose()


def test_a_url_keeps_its_own_timeouts_and_gets_the_others(silent_port) -> None:  # noqa: F811
    url = f"postgresql+psycopg://arena@127.0.0.1:{silent_port}/arena?connect_timeout=2&keepalives_idle=5"
    assert network_timeouts(url) == {k: v for k, v in NETWORK_TIMEOUTS.items()
                                     if k not in ("connect_timeout", "keepalives_idle")}
    started = time.monotonic()
    with pytest.raises(OperationalError):
        make_engine(url).connect()
    assert time.monotonic() - started < 8
    reads = connect_kwargs(url)  # the API's asynchronous read pool: the same settings
    assert reads["connect_timeout"] == "2" and reads["keepalives_idle"] == "5"
    assert reads["tcp_user_timeout"] == NETWORK_TIMEOUTS["tcp_user_timeout"]


def test_a_transaction_left_open_by_a_stopped_process_releases_its_locks(db_url, monkeypatch) -> None:  # noqa: F811
    """A process that stops inside a transaction (a worker storing a game holds its tournament's
    row) must not hold its locks until it wakes: the server ends the idle session, the lock's next
    waiter goes on, and the stopped process's pool replaces the ended connection when it wakes."""
    monkeypatch.setitem(NETWORK_TIMEOUTS, "options", "-c idle_in_transaction_session_timeout=1000")
    stopped, waiting = make_engine(db_url), make_engine(db_url)
    try:
        holder = stopped.connect()
        holder.begin()
        holder.execute(text("SELECT pg_advisory_xact_lock(16016)"))  # and then nothing: it stopped
        started = time.monotonic()
        with waiting.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '30s'"))
            connection.execute(text("SELECT pg_advisory_xact_lock(16016)"))
        assert time.monotonic() - started < 10
        with pytest.raises(DBAPIError) as ended:  # it wakes: its session was ended, its transaction lost
            holder.execute(text("SELECT 1"))
        assert is_database_outage(ended.value)  # so a worker's store is retried, not failed
        holder.close()
        with stopped.connect() as connection:  # pool_pre_ping: a fresh connection
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        stopped.dispose()
        waiting.dispose()


def test_a_migration_against_a_silent_server_fails_after_the_connect_timeout(silent_port) -> None:  # noqa: F811
    """`arena db upgrade` (a deployment's first step) carries the same timeouts."""
    from arena.db import migrate

    started = time.monotonic()
    with pytest.raises(OperationalError, match="timeout"):
        migrate.upgrade(f"postgresql://arena@127.0.0.1:{silent_port}/arena")
    assert time.monotonic() - started < 30


def test_a_lock_timeout_joins_the_session_settings_a_url_gives(db_url) -> None:  # noqa: F811
    """The scheduler's lock timeout is added to the session settings, ours or the URL's own."""
    from sqlalchemy import make_url

    own = make_url(db_url).update_query_dict({"options": "-c statement_timeout=7000"})
    for url in (db_url, own.render_as_string(hide_password=False)):
        engine = make_engine(url, lock_timeout_ms=1234)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
                settings = {name: connection.execute(text(f"SHOW {name}")).scalar()
                            for name in ("statement_timeout", "idle_in_transaction_session_timeout")}
        finally:
            engine.dispose()
        if "options" in url:
            assert settings == {"statement_timeout": "7s", "idle_in_transaction_session_timeout": "0"}
        else:
            assert settings == {"statement_timeout": "0", "idle_in_transaction_session_timeout": "1min"}
