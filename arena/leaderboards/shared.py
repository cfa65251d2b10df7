"""One fit per game set for every process: ratings stored in PostgreSQL (`leaderboard_fits`).

Each `arena api --workers N` process, the gRPC server and the metrics collector keep their own
`LeaderboardService` cache, but a fit is made once: the first process to need the ratings of a
game set under a policy takes a transaction-level advisory lock on their key, fits, and stores the
ratings as JSON; the others wait on the lock and read them. The key is the game set's sha256 (which
names its exact games, `arena.db.rating_inputs`), the fit's arguments and the fitting code (a
hash of `arena.ratings`' sources), so a stored fit is never stale: a new game, or a fixed fit, is a
new key. Fits older than `KEEP` are deleted as new ones are stored (a fit costs milliseconds to a
second; the table must not grow with every game ever stored). Sharing is an optimisation: a
database error on its way (a read-only role, a lock wait past `LOCK_TIMEOUT`) fits in the process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, delete, event, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from arena.db.models import LeaderboardFit
from arena.db.rating_inputs import RatedGameSet
import arena.ratings
from arena.ratings import Ratings

__all__ = ["fit_key", "ratings_from_json", "ratings_to_json", "shared_ratings"]

log = logging.getLogger(__name__)

FORMAT = 1  # of the stored JSON; a change of it is a change of key
KEEP = "1 day"  # stored fits older than this are deleted when a new one is stored
LOCK_TIMEOUT = "30s"  # waiting longer for another process's fit: fit here instead
# The fitting code's identity: a fixed bug in arena.ratings makes every stored fit a miss.
_FIT_CODE = hashlib.sha256(b"".join(path.read_bytes() for path in
                                    sorted(Path(arena.ratings.__file__).parent.glob("*.py")))).hexdigest()
_LOCAL_ONLY: set[str] = set()  # keys whose fits JSON cannot hold (infinities): fitted in each process
_FIT_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_FIT_ENGINES_LOCK = threading.Lock()


def fit_key(game_set: RatedGameSet, arguments: dict[str, Any]) -> str:
    """The key of the fit of `game_set` with `compute_ratings(**arguments)` by this code."""
    text = json.dumps({"format": FORMAT, "code": _FIT_CODE, "games": game_set.sha256, "arguments": arguments},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def ratings_to_json(ratings: Ratings) -> dict[str, Any]:
    """`ratings` as JSON-ready data that `ratings_from_json` reads back exactly (floats round-trip)."""
    return {
        "elo": ratings.elo, "stderr": ratings.stderr, "players": list(ratings.players),
        "covariance": ratings.covariance.tolist(), "colour_advantage_elo": ratings.colour_advantage_elo,
        "colour_advantage_stderr": ratings.colour_advantage_stderr, "games": ratings.games, "anchor": ratings.anchor,
        "anchor_elo": ratings.anchor_elo, "prior_games": ratings.prior_games, "iterations": ratings.iterations,
        "flags": ratings.flags, "components": ratings.components,
        "bootstrap_ci": None if ratings.bootstrap_ci is None else {k: list(v) for k, v in ratings.bootstrap_ci.items()},
        "bootstrap_colour_ci": None if ratings.bootstrap_colour_ci is None else list(ratings.bootstrap_colour_ci),
    }


def ratings_from_json(data: dict[str, Any]) -> Ratings:
    boot = data["bootstrap_ci"]
    colour = data["bootstrap_colour_ci"]
    return Ratings(
        elo={k: float(v) for k, v in data["elo"].items()}, stderr={k: float(v) for k, v in data["stderr"].items()},
        players=tuple(data["players"]), covariance=np.asarray(data["covariance"], dtype=np.float64),
        colour_advantage_elo=float(data["colour_advantage_elo"]),
        colour_advantage_stderr=float(data["colour_advantage_stderr"]), games=int(data["games"]),
        anchor=data["anchor"], anchor_elo=float(data["anchor_elo"]), prior_games=float(data["prior_games"]),
        iterations=int(data["iterations"]), flags=dict(data["flags"]),
        components={k: int(v) for k, v in data["components"].items()},
        bootstrap_ci=None if boot is None else {k: (float(v[0]), float(v[1])) for k, v in boot.items()},
        bootstrap_colour_ci=None if colour is None else (float(colour[0]), float(colour[1])),
    )


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _fit_engine(engine: Engine) -> Engine:
    """`engine`'s database over a connection pool of its own (same connection settings).

    The requests that wait for a fit each hold a connection of the main pool while they wait;
    had the fit needed one more from that pool, a burst of requests as large as the pool would
    leave it none, and every one of them would stall for the pool's timeout."""
    with _FIT_ENGINES_LOCK:
        own = _FIT_ENGINES.get(engine)
        if own is None:
            own = _FIT_ENGINES[engine] = create_engine(engine.url, pool=engine.pool.recreate())
            event.listen(engine, "engine_disposed", lambda _: own.dispose())
        return own


def shared_ratings(session: Session, game_set: RatedGameSet, arguments: dict[str, Any],
                   fit: Callable[[], Ratings]) -> Ratings:
    """The ratings of `game_set` under `arguments`: stored by any process already, else `fit()`
    now and stored. Runs on a connection of its own, from a pool of its own (the caller's session
    may never commit, and may hold the last connection of its pool); two processes asking at once
    make one fit, the second waits for it. A database error while sharing fits here."""
    key = fit_key(game_set, arguments)
    if key in _LOCAL_ONLY:
        return fit()
    fitted: list[Ratings] = []  # a fit made before an error is not made twice
    try:
        return _shared(_fit_engine(_engine_of(session)), key, fit, fitted)
    except SQLAlchemyError as exc:
        log.warning("leaderboard fit not shared (%s); fitted in this process", type(exc).__name__)
        return fitted[0] if fitted else fit()


def _shared(engine: Engine, key: str, fit: Callable[[], Ratings], fitted: list[Ratings]) -> Ratings:
    # The lock's id: 63 bits of the key (advisory locks take a bigint).
    lock = int(key[:16], 16) & 0x7FFF_FFFF_FFFF_FFFF
    with engine.begin() as conn:
        stored = conn.scalar(select(LeaderboardFit.ratings).where(LeaderboardFit.key == key))
        if stored is not None:
            return ratings_from_json(stored)
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        conn.execute(select(func.pg_advisory_xact_lock(lock)))
        stored = conn.scalar(select(LeaderboardFit.ratings).where(LeaderboardFit.key == key))
        if stored is not None:
            return ratings_from_json(stored)
        start = time.perf_counter()
        ratings = fit()
        fitted.append(ratings)
        data = ratings_to_json(ratings)
        if not _finite(data):  # JSON has no infinities: such a fit is made in each process
            _LOCAL_ONLY.add(key)
            return ratings
        conn.execute(insert(LeaderboardFit).values(key=key, ratings=data, fit_s=time.perf_counter() - start)
                     .on_conflict_do_nothing(index_elements=[LeaderboardFit.key]))
        conn.execute(delete(LeaderboardFit).where(LeaderboardFit.created_at < func.now() - text(f"interval '{KEEP}'")))
    return ratings


def _finite(data: dict[str, Any]) -> bool:
    try:
        json.dumps(data, allow_nan=False)
    except ValueError:
        return False
    return True
