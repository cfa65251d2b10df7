"""Rating inputs kept as games are stored (arena.db.rating_inputs) and one fit shared by every
process (arena.leaderboards.shared), on the real PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time

import pytest
import sqlalchemy as sa

from arena.db import repository as repo
from arena.db.connection import session_scope
from arena.db.rating_inputs import rated_game_set, rebuild_rating_pairs
from arena.leaderboards import LeaderboardService
from arena.leaderboards import board as board_module
from arena.leaderboards.policy import RatingPolicy
from arena.leaderboards.shared import ratings_from_json, ratings_to_json
from arena.ratings import PairCounts, compute_ratings

RESULTS = ("B+R", "W+R", "B+3.5", "W+0.5", "0", "Void", "B+F", "W+T")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pool(session, tag: str, players: int = 4, games_per_pair: int = 3):
    ids = []
    for i in range(players):
        ck = repo.get_or_create_checkpoint(session, sha256=sha(f"{tag}{i}"), name=f"{tag}{i}")
        ids.append(repo.get_or_create_player(session, name=f"{tag}{i}@8", checkpoint_id=ck.id,
                                             search_settings={"visits": 8}))
    t = repo.create_tournament(session, name=f"pool-{tag}", format="round_robin")
    specs = [repo.GameSpec(pairing=f"{a.name}-{b.name}", game_index=k, black_player_id=a.id, white_player_id=b.id,
                         seed=k)
             for a, b in itertools.permutations(ids, 2) for k in range(games_per_pair)]
    game_ids = repo.schedule_games(session, tournament_id=t.id, games=specs)
    return t, ids, list(zip(game_ids, specs, strict=True))


def _store(session, game_id: int, result: str) -> bool:
    return repo.record_finished_game(session, scheduled_game_id=game_id, result=result, move_count=0, duration_s=0.0,
                                     sgf=f"(;RE[{result}])", score={"B+3.5": 3.5, "W+0.5": -0.5, "0": 0.0}.get(result))


def test_counts_kept_game_by_game_equal_a_recount_and_the_results(engine):
    rng = random.Random(7)
    with session_scope(engine) as s:
        t, players, games = _pool(s, "keep")
        names = {p.id: p.name for p in players}
        expected: dict[tuple[str, str], list[int]] = {}
        rng.shuffle(games)  # stored in any order
        for game_id, spec in games:
            result = rng.choice(RESULTS)
            assert _store(s, game_id, result)
            assert not _store(s, game_id, result)  # stored again: counted once
            if result == "Void":
                continue
            row = expected.setdefault((names[spec.black_player_id], names[spec.white_player_id]), [0, 0, 0])
            row[0 if result.startswith("B+") else 1 if result.startswith("W+") else 2] += 1
        kept = rated_game_set(s, t.id)
        assert kept.counts == {pair: PairCounts(*pair, *row) for pair, row in sorted(expected.items())}
        assert kept.games == sum(sum(row) for row in expected.values())
        rebuild_rating_pairs(s)  # what migration 0009 and bulk loaders compute from the games
        assert rated_game_set(s, t.id) == kept  # same counts and the same hash, whatever the order


def test_a_new_game_changes_the_hash_and_the_game_set_names_its_games(engine):
    with session_scope(engine) as s:
        t, _, games = _pool(s, "hash", players=2, games_per_pair=2)
        for game_id, _ in games[:-1]:
            _store(s, game_id, "B+R")
        before = rated_game_set(s, t.id)
        _store(s, games[-1][0], "B+R")
        after = rated_game_set(s, t.id)
    assert after.games == before.games + 1 and after.sha256 != before.sha256
    # The same counts from other games are another game set.
    with session_scope(engine) as s:
        t2, _, games2 = _pool(s, "hash2", players=2, games_per_pair=2)
        for game_id, _ in games2:
            _store(s, game_id, "B+R")
        other = rated_game_set(s, t2.id)
    assert [c.games for c in other.counts.values()] == [c.games for c in after.counts.values()]
    assert other.sha256 != after.sha256


def test_concurrent_writers_of_one_pair_lose_no_count(engine):
    with session_scope(engine) as s:
        t, _, games = _pool(s, "race", players=2, games_per_pair=20)
    barrier = threading.Barrier(4)
    chunks = [games[i::4] for i in range(4)]

    def writer(chunk):
        barrier.wait()
        for game_id, _ in chunk:
            with session_scope(engine) as session:
                _store(session, game_id, "W+R")

    threads = [threading.Thread(target=writer, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope(engine) as s:
        kept = rated_game_set(s, t.id)
        rebuild_rating_pairs(s)
        assert rated_game_set(s, t.id) == kept
    assert kept.games == len(games) and all(c.wins_white == c.games for c in kept.counts.values())


def _fits(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM leaderboard_fits"))


def test_one_fit_serves_every_process(engine, monkeypatch):
    # Two services stand for two API processes: the second reads the first's stored fit.
    calls = []
    monkeypatch.setattr(board_module, "compute_ratings",
                        lambda counts, **kw: calls.append(1) or compute_ratings(counts, **kw))
    with session_scope(engine) as s:
        t, _, games = _pool(s, "share", players=3, games_per_pair=4)
        for i, (game_id, _) in enumerate(games):
            _store(s, game_id, RESULTS[i % 4])
    first, second = LeaderboardService(RatingPolicy()), LeaderboardService(RatingPolicy())
    stored = _fits(engine)
    with session_scope(engine) as s:
        a = first.get(s, tournament_id=t.id)
    with session_scope(engine) as s:
        b = second.get(s, tournament_id=t.id)
    assert len(calls) == 1 and _fits(engine) == stored + 1
    assert first.fits == second.fits == 1  # each process assembled its board once, from one fit
    assert a.data == b.data
    # A new game: a new game set, one new fit.
    with session_scope(engine) as s:
        extra = repo.schedule_games(s, tournament_id=t.id, games=[repo.GameSpec(
            pairing="extra", game_index=99, black_player_id=games[0][1].black_player_id,
            white_player_id=games[0][1].white_player_id, seed=99)])
        _store(s, extra[0], "W+R")
    with session_scope(engine) as s:
        c = second.get(s, tournament_id=t.id)
    with session_scope(engine) as s:
        first.get(s, tournament_id=t.id)
    assert len(calls) == 2 and c.data["game_set"]["games"] == a.data["game_set"]["games"] + 1


def test_processes_asking_at_once_wait_for_one_fit(engine, monkeypatch):
    calls = []
    started = threading.Event()

    def slow(counts, **kw):
        calls.append(1)
        started.set()
        threading.Event().wait(0.5)  # the others arrive while this fit runs
        return compute_ratings(counts, **kw)

    monkeypatch.setattr(board_module, "compute_ratings", slow)
    with session_scope(engine) as s:
        t, _, games = _pool(s, "once", players=3, games_per_pair=2)
        for game_id, _ in games:
            _store(s, game_id, "B+R")
    results = []

    def ask():
        with session_scope(engine) as s:
            results.append(LeaderboardService(RatingPolicy()).get(s, tournament_id=t.id).data)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert started.is_set() and len(calls) == 1
    assert len(results) == 3 and all(r == results[0] for r in results)


@pytest.mark.parametrize("policy", [RatingPolicy(), RatingPolicy(bootstrap=20, seed=3)])
def test_a_stored_fit_reads_back_as_the_fit(engine, policy):
    with session_scope(engine) as s:
        t, _, games = _pool(s, f"json{policy.bootstrap}", players=3, games_per_pair=2)
        for i, (game_id, _) in enumerate(games):
            _store(s, game_id, RESULTS[i % 5])
        ratings = compute_ratings(rated_game_set(s, t.id).counts, **policy.fit_arguments())
    back = ratings_from_json(ratings_to_json(ratings))
    assert back.elo == ratings.elo and back.stderr == ratings.stderr and back.players == ratings.players
    assert (back.covariance == ratings.covariance).all() and back.flags == ratings.flags
    assert back.bootstrap_ci == ratings.bootstrap_ci


def test_old_fits_are_deleted_as_new_ones_are_stored(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO leaderboard_fits (key, ratings, fit_s, created_at) "
                             "VALUES ('old', '{}', 0, now() - interval '2 days')"))
    with session_scope(engine) as s:
        t, _, games = _pool(s, "prune", players=2, games_per_pair=2)
        for game_id, _ in games:
            _store(s, game_id, "B+R")
    with session_scope(engine) as s:
        LeaderboardService(RatingPolicy()).get(s, tournament_id=t.id)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM leaderboard_fits WHERE key = 'old'")) == 0


def _pool_with_games(engine, tag: str):
    with session_scope(engine) as s:
        t, _, games = _pool(s, tag, players=3, games_per_pair=2)
        for game_id, _ in games:
            _store(s, game_id, "W+R")
    return t, games


def _leaderboard_through(engine, tournament_id: int, **engine_options):
    """The leaderboard read by a fresh service through an engine of `engine_options` (then
    disposed), and the seconds it took."""
    other = sa.create_engine(engine.url.render_as_string(hide_password=False), **engine_options)
    try:
        started = time.monotonic()
        with session_scope(other) as s:
            board = LeaderboardService(RatingPolicy()).get(s, tournament_id=tournament_id)
        return board, time.monotonic() - started
    finally:
        other.dispose()


def test_a_database_that_refuses_the_shared_fit_still_gets_its_leaderboard(engine):
    # A read-only role (or any database error while sharing) fits in the process instead.
    t, games = _pool_with_games(engine, "readonly")
    board, _ = _leaderboard_through(engine, t.id, connect_args={"options": "-c default_transaction_read_only=on"})
    assert board.data["game_set"]["games"] == len(games) and len(board.data["players"]) == 3


def test_requests_holding_every_pooled_connection_do_not_stall_the_shared_fit(engine):
    # A pool of one connection, held by the request's session while it waits for the fit: the
    # fit's own connection comes from a pool of its own, so it is stored without waiting out
    # the pool's timeout.
    t, games = _pool_with_games(engine, "starved")
    stored = _fits(engine)
    board, elapsed = _leaderboard_through(engine, t.id, pool_size=1, max_overflow=0, pool_timeout=5)
    assert board.data["game_set"]["games"] == len(games)
    assert _fits(engine) == stored + 1  # shared, not fitted locally after a pool timeout
    assert elapsed < 5.0
