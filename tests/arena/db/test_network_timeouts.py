"""A database server that takes the connection and never answers (a host that died, a network
partition) must not block a process for TCP's hours: libpq's network timeouts bound it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from arena.api.reads import connect_kwargs
from arena.db.connection import NETWORK_TIMEOUTS, make_engine, network_timeouts
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
