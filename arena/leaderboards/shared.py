"""One fit per game set for every process: ratings stored in PostgreSQL (`leaderboard_fits`).

Each `arena api --workers N` process, the gRPC server and the metrics collector keep their own
`LeaderboardService` cache, but a fit is made once: the first process to need the ratings of a
game set under a policy takes a transaction-level advisory lock on their key, fits, and stores the
ratings as JSON; the others wait on the lock and read them. The key is the game set's sha256 (which
names its exact games, `arena.db.rating_inputs`) and the fit's arguments, so a stored fit is never
stale: a new game is a new key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from arena.db.models import LeaderboardFit
from arena.db.rating_inputs import RatedGameSet
from arena.ratings import Ratings

__all__ = ["fit_key", "ratings_from_json", "ratings_to_json", "shared_ratings"]

FORMAT = 1  # of the stored JSON; a change of it is a change of key


def fit_key(game_set: RatedGameSet, arguments: dict[str, Any]) -> str:
    """The key of the fit of `game_set` with `compute_ratings(**arguments)`."""
    text = json.dumps({"format": FORMAT, "games": game_set.sha256, "arguments": arguments}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def ratings_to_json(ratings: Ratings) -> dict[str, Any]:
    """`ratings` as JSON-ready data that `ratings_from_json` reads back exactly (floats round-trip)."""
    return {
        "elo": ratings.elo, "stderr": ratings.stderr, "players": list(ratings.players),
        "covariance": ratings.covariance.tolist(), "colour_advantage_elo": ratings.colour_advantage_elo,
        "colour_advantage_stderr": ratings.colour_advantage_stderr, "games": ratings.games, "anchor": ratings.anchor,
        "anchor_elo": ratings.anchor_elo, "prior_games": ratings.prior_games, "iterations": ratings.iterations,
        "flags": ratings.flags,
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
        bootstrap_ci=None if boot is None else {k: (float(v[0]), float(v[1])) for k, v in boot.items()},
        bootstrap_colour_ci=None if colour is None else (float(colour[0]), float(colour[1])),
    )


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def shared_ratings(session: Session, game_set: RatedGameSet, arguments: dict[str, Any],
                   fit: Callable[[], Ratings]) -> Ratings:
    """The ratings of `game_set` under `arguments`: stored by any process already, else `fit()`
    now and stored. Runs on a connection of its own (the caller's session may never commit); two
    processes asking at once make one fit, the second waits for it."""
    key = fit_key(game_set, arguments)
    # The lock's id: 63 bits of the key (advisory locks take a bigint).
    lock = int(key[:16], 16) & 0x7FFF_FFFF_FFFF_FFFF
    with _engine_of(session).begin() as conn:
        stored = conn.scalar(select(LeaderboardFit.ratings).where(LeaderboardFit.key == key))
        if stored is not None:
            return ratings_from_json(stored)
        conn.execute(select(func.pg_advisory_xact_lock(lock)))
        stored = conn.scalar(select(LeaderboardFit.ratings).where(LeaderboardFit.key == key))
        if stored is not None:
            return ratings_from_json(stored)
        start = time.perf_counter()
        ratings = fit()
        data = ratings_to_json(ratings)
        if _finite(data):  # JSON has no infinities; such a fit is only kept in this process
            conn.execute(insert(LeaderboardFit).values(key=key, ratings=data, fit_s=time.perf_counter() - start)
                         .on_conflict_do_nothing(index_elements=[LeaderboardFit.key]))
    return ratings


def _finite(data: dict[str, Any]) -> bool:
    try:
        json.dumps(data, allow_nan=False)
    except ValueError:
        return False
    return True
