"""Which failures mean "the database (or the broker) is not there right now": worth a retry.

One place for the classification, used by the worker's sink (a finished game is kept and stored
again later) and by the scheduler (the loop backs off instead of dying). Anything else (a
constraint, a bug, a bad query) is not an outage and is not retried blindly.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa_exc


def is_database_outage(error: BaseException) -> bool:
    """True for connection-type database failures: server down, restarting, connection lost."""
    if isinstance(error, sa_exc.DBAPIError):
        # connection_invalidated: SQLAlchemy saw the connection die mid-statement (a disconnect).
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    if isinstance(error, psycopg.errors.LockNotAvailable):
        # A lock timeout (psycopg files it under OperationalError): another live session holds
        # what this one wanted, which is that one thing's trouble, not the database being away.
        return False
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    # psycopg's OperationalError covers refused/closed connections and "the database system is
    # shutting down / starting up" (SQLSTATE 57P01-57P03); InterfaceError a closed connection. A
    # session the server ended after it sat in a transaction too long (arena.db.connection: the
    # process had stopped) is a lost connection too: the next try gets a fresh one.
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError, ConnectionError,
                              psycopg.errors.IdleInTransactionSessionTimeout))


def is_broker_outage(error: BaseException) -> bool:
    """True for the broker's connection failures (kombu wraps redis/amqp errors in OperationalError)."""
    import kombu.exceptions
    import redis.exceptions

    return isinstance(error, (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError,
                              redis.exceptions.TimeoutError, ConnectionError, TimeoutError))


def is_outage(error: BaseException) -> bool:
    """A database or broker outage, checked along the exception's explicit causes (`raise ... from`)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if is_database_outage(error) or is_broker_outage(error):
            return True
        error = error.__cause__
    return False
