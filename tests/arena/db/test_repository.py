"""Repository operations on a real PostgreSQL: idempotent, atomic game writes and the constraints."""

from __future__ import annotations

import hashlib
import itertools

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from arena.db import repository as repo
from arena.db.rating_inputs import rated_game_set
from arena.db.connection import session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.ratings import PairCounts, compute_ratings

_counter = itertools.count()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def setup(engine):
    """A tournament between two checkpoint players with one scheduled game; returns ids."""
    n = next(_counter)
    with session_scope(engine) as s:
        parent = repo.get_or_create_checkpoint(s, sha256=sha(f"p{n}"), name=f"p{n}", run_name="run", training_step=0)
        child = repo.get_or_create_checkpoint(s, sha256=sha(f"c{n}"), name=f"c{n}", manifest={"blocks": 6},
                                         run_name="run", training_step=1000, parent_sha256=parent.sha256)
        a = repo.get_or_create_player(s, name=f"p{n}@16", checkpoint_id=parent.id, search_settings={"visits": 16})
        b = repo.get_or_create_player(s, name=f"c{n}@16", checkpoint_id=child.id, search_settings={"visits": 16})
        t = repo.create_tournament(s, name=f"t{n}", format="round_robin", configuration={"board_size": 9})
        (game_id,) = repo.schedule_games(s, tournament_id=t.id, games=[
            repo.GameSpec(pairing=f"{a.name}-{b.name}", game_index=0, black_player_id=a.id,
                          white_player_id=b.id, seed=42)])
        return {"tournament": t.id, "game": game_id, "a": a.id, "b": b.id, "names": (a.name, b.name)}


GAME = {"result": "B+3.5", "score": 3.5, "move_count": 2, "duration_s": 1.25, "sgf": "(;GM[1]SZ[9]RE[B+3.5];B[ee];W[cc])",
            "move_stats": [{"visits": 16, "root_value": 0.1, "policy_entropy": 1.2, "time_s": 0.5}] * 2,
            "worker": "w1", "software_version": "0.1.0", "model_versions": {"black": "abc"}}


def finished(engine, game_id):
    with session_scope(engine) as s:
        return s.get(FinishedGame, game_id)


def progress(engine, tournament_id):
    with session_scope(engine) as s:
        return s.get(Tournament, tournament_id).games_finished


def test_checkpoint_registration_is_idempotent_and_keeps_lineage(engine):
    with session_scope(engine) as s:
        first = repo.get_or_create_checkpoint(s, sha256=sha("x"), name="x", run_name="r", training_step=5)
        child = repo.get_or_create_checkpoint(s, sha256=sha("y"), name="y", parent_sha256=sha("x"))
        again = repo.get_or_create_checkpoint(s, sha256=sha("x").upper(), name="other name")
        assert again.id == first.id and again.name == "x"
        assert child.parent_id == first.id
        with pytest.raises(repo.StorageError, match="not registered"):
            repo.get_or_create_checkpoint(s, sha256=sha("z"), name="z", parent_sha256=sha("missing"))


def test_same_checkpoint_at_two_visit_counts_is_two_players(engine):
    with session_scope(engine) as s:
        ck = repo.get_or_create_checkpoint(s, sha256=sha("v"), name="v")
        p16 = repo.get_or_create_player(s, name="v@16", checkpoint_id=ck.id, search_settings={"visits": 16})
        p256 = repo.get_or_create_player(s, name="v@256", checkpoint_id=ck.id, search_settings={"visits": 256})
        assert p16.id != p256.id
        assert repo.get_or_create_player(s, name="v@16", checkpoint_id=ck.id, search_settings={"visits": 16}).id == p16.id
        with pytest.raises(repo.StorageError, match="conflicts"):
            repo.get_or_create_player(s, name="v@16", checkpoint_id=ck.id, search_settings={"visits": 32})


def test_finished_game_write_is_idempotent(engine, setup):
    with session_scope(engine) as s:
        assert repo.record_finished_game(s, scheduled_game_id=setup["game"], **GAME) is True
    with session_scope(engine) as s:
        assert repo.record_finished_game(s, scheduled_game_id=setup["game"], **GAME) is False
    assert finished(engine, setup["game"]).result == "B+3.5"
    assert progress(engine, setup["tournament"]) == 1  # counted once


def test_conflicting_rewrite_is_refused_and_original_intact(engine, setup):
    with session_scope(engine) as s:
        repo.record_finished_game(s, scheduled_game_id=setup["game"], **GAME)
    changed = {**GAME, "result": "W+R", "score": None, "sgf": "(;GM[1]SZ[9]RE[W+R];B[ee];W[cc])"}
    with pytest.raises(repo.ConflictingResultError, match="already finished"), session_scope(engine) as s:
        repo.record_finished_game(s, scheduled_game_id=setup["game"], **changed)
    stored = finished(engine, setup["game"])
    assert (stored.result, stored.score, stored.sgf) == ("B+3.5", 3.5, GAME["sgf"])
    assert progress(engine, setup["tournament"]) == 1


def test_failure_mid_transaction_leaves_nothing_half_written(engine, setup, monkeypatch):
    # The game row is inserted, then updating the tournament's progress fails.
    def boom(session, tournament_id, **counted):
        raise RuntimeError("crash after the insert")

    monkeypatch.setattr(repo, "_bump_progress", boom)
    with pytest.raises(RuntimeError, match="crash"), session_scope(engine) as s:
        repo.record_finished_game(s, scheduled_game_id=setup["game"], **GAME)
    assert finished(engine, setup["game"]) is None
    assert progress(engine, setup["tournament"]) == 0
    monkeypatch.undo()
    # And a failure in the caller's block after a successful write rolls the write back too.
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        repo.record_finished_game(s, scheduled_game_id=setup["game"], **GAME)
        raise RuntimeError("caller fails before commit")
    assert finished(engine, setup["game"]) is None and progress(engine, setup["tournament"]) == 0


@pytest.mark.parametrize("bad, match", [
    ({"result": "B+"}, "not one of"),
    ({"result": "X+3"}, "not one of"),
    ({"result": "W+3.5"}, "contradicts result"),            # score says black won by 3.5
    ({"result": "B+R", "sgf": "(;RE[B+R])"}, "has no score"),
    ({"sgf": "(;RE[W+R])"}, "SGF says"),
    ({"move_count": 3}, "per-move statistics"),
    ({"duration_s": -1.0}, "non-negative"),
])
def test_inconsistent_results_are_rejected_and_nothing_stored(engine, setup, bad, match):
    with pytest.raises(repo.StorageError, match=match), session_scope(engine) as s:
        repo.record_finished_game(s, scheduled_game_id=setup["game"], **{**GAME, **bad})
    assert finished(engine, setup["game"]) is None


def test_database_enforces_result_format_itself(engine, setup):
    with pytest.raises(IntegrityError, match="result_format"), session_scope(engine) as s:
        s.add(FinishedGame(scheduled_game_id=setup["game"], tournament_id=setup["tournament"],
                           black_player_id=setup["a"], white_player_id=setup["b"], **{**GAME, "result": "B+lots"}))


def test_scheduled_game_identity_is_unique(engine, setup):
    spec = repo.GameSpec(pairing="dup", game_index=7, black_player_id=setup["a"], white_player_id=setup["b"], seed=1)
    with session_scope(engine) as s:
        repo.schedule_games(s, tournament_id=setup["tournament"], games=[spec])
    with pytest.raises(IntegrityError, match="uq_scheduled_games_identity"), session_scope(engine) as s:
        repo.schedule_games(s, tournament_id=setup["tournament"], games=[spec])
    with session_scope(engine) as s:
        count = s.scalar(sa.select(sa.func.count()).select_from(ScheduledGame)
                         .where(ScheduledGame.tournament_id == setup["tournament"]))
        assert count == 2 and s.get(Tournament, setup["tournament"]).games_scheduled == 2


def test_unknown_player_and_unknown_game_are_refused(engine, setup):
    spec = repo.GameSpec(pairing="ghost", game_index=0, black_player_id=setup["a"], white_player_id=10**9, seed=1)
    with pytest.raises(repo.StorageError, match="unknown player"), session_scope(engine) as s:
        repo.schedule_games(s, tournament_id=setup["tournament"], games=[spec])
    with pytest.raises(repo.StorageError, match="does not exist"), session_scope(engine) as s:
        repo.record_finished_game(s, scheduled_game_id=10**9, **GAME)


def test_games_for_rating_feed_compute_ratings(engine):
    with session_scope(engine) as s:
        players = []
        for i, visits in enumerate((16, 64, 256)):
            ck = repo.get_or_create_checkpoint(s, sha256=sha(f"rate{i}"), name=f"rate{i}")
            players.append(repo.get_or_create_player(s, name=f"rate{i}@{visits}", checkpoint_id=ck.id,
                                                     search_settings={"visits": visits}))
        t = repo.create_tournament(s, name="rating-pool", format="round_robin")
        specs, results = [], []
        for (i, x), (j, y) in itertools.permutations(enumerate(players), 2):
            for k in range(6):
                specs.append(repo.GameSpec(pairing=f"{x.name}-{y.name}", game_index=k, black_player_id=x.id,
                                           white_player_id=y.id, seed=k))
                # The stronger (higher index) wins 5 of 6; one draw; one Void game is left out.
                stronger_black = i > j
                outcome = "0" if k == 5 else ("B+R" if (k < 4) == stronger_black else "W+R")
                results.append("Void" if (i, j, k) == (0, 1, 0) else outcome)
        game_ids = repo.schedule_games(s, tournament_id=t.id, games=specs)
        for game_id, result in zip(game_ids, results):
            repo.record_finished_game(s, scheduled_game_id=game_id, result=result, move_count=0,
                                      duration_s=0.0, sgf=f"(;RE[{result}])")
        rated = repo.games_for_rating(s, tournament_id=t.id)
    assert len(rated) == len(specs) - 1
    assert sum(g.winner is None for g in rated) == 6
    ratings = compute_ratings(rated, anchor=players[0].name)
    elo = ratings.elo
    assert elo[players[2].name] > elo[players[1].name] > elo[players[0].name]
    assert all(ratings.stderr[p.name] >= 0 for p in players)


def test_rating_snapshot_names_its_exact_game_set(engine):
    with session_scope(engine) as s:
        a_ck = repo.get_or_create_checkpoint(s, sha256=sha("snap-a"), name="snap-a")
        b_ck = repo.get_or_create_checkpoint(s, sha256=sha("snap-b"), name="snap-b")
        a = repo.get_or_create_player(s, name="snap-a@64", checkpoint_id=a_ck.id, search_settings={"visits": 64})
        b = repo.get_or_create_player(s, name="snap-b@64", checkpoint_id=b_ck.id, search_settings={"visits": 64})
        t = repo.create_tournament(s, name="snapshots", format="round_robin")
        specs = [repo.GameSpec(pairing="a-b", game_index=k, black_player_id=(a if k % 2 else b).id,
                               white_player_id=(b if k % 2 else a).id, seed=k) for k in range(5)]
        game_ids = repo.schedule_games(s, tournament_id=t.id, games=specs)
        for game_id in game_ids[:4]:
            repo.record_finished_game(s, scheduled_game_id=game_id, result="B+R", move_count=0, duration_s=0.0,
                                      sgf="(;RE[B+R])")
        first = rated_game_set(s, tournament_id=t.id)
        assert rated_game_set(s, tournament_id=t.id) == first  # same games, same hash
        # The hash is the documented one (arena.db.rating_inputs): per pair, its counts and the XOR
        # of its games' fingerprints; the games' order does not matter.
        def fingerprint(g: int, k: int) -> int:
            black, white = (a, b) if k % 2 else (b, a)
            return int(hashlib.sha256(f"{g}\t{black.id}\t{white.id}\tB+R".encode()).hexdigest(), 16)
        digests = {}
        for k, g in enumerate(game_ids[:4]):
            pair = (a.name, b.name) if k % 2 else (b.name, a.name)
            digests[pair] = digests.get(pair, 0) ^ fingerprint(g, k)
        lines = "".join(f"{black}\t{white}\t2\t0\t0\t{digests[black, white]:064x}\n" for black, white in sorted(digests))
        assert first.sha256 == hashlib.sha256(lines.encode()).hexdigest()
        assert first.counts == {(b.name, a.name): PairCounts(b.name, a.name, wins_black=2),
                                (a.name, b.name): PairCounts(a.name, b.name, wins_black=2)} and first.games == 4
        ratings = compute_ratings(first.counts)
        snapshot = repo.save_rating_snapshot(s, game_set=first, ratings=ratings, method="bradley_terry",
                                             parameters={"prior_games": 2.0})
        stored = {entry.player_id: (entry.rating, entry.stderr) for entry in snapshot.entries}
        assert stored[a.id] == pytest.approx((ratings.elo[a.name], ratings.stderr[a.name]))
        assert snapshot.game_set_hash == first.sha256 and snapshot.game_count == 4
        repo.record_finished_game(s, scheduled_game_id=game_ids[4], result="W+R", move_count=0, duration_s=0.0,
                                  sgf="(;RE[W+R])")
        second = rated_game_set(s, tournament_id=t.id)
        assert second.sha256 != first.sha256 and second.games == 5
        with pytest.raises(repo.StorageError, match="fitted on 4 games"):
            repo.save_rating_snapshot(s, game_set=second, ratings=ratings, method="bradley_terry", parameters={})


def test_stored_games_keep_their_tournament_progress_and_open_marks(engine, setup):
    # Each stored game marks its scheduled game stored (at its own finish time) and counts into
    # its tournament's progress; the counters equal a recount over the games (recount_progress,
    # the bulk loaders' rule), and only unstored, unfailed games stay open.
    results = [("B+F", {}), ("W+R", {}),
               ("B+2.5", {"score": 2.5, "score_tromp_taylor": 2.5, "scoring_disagrees": False}),
               ("W+1.5", {"score": -1.5, "score_tromp_taylor": 3.5, "scoring_disagrees": True}),
               ("B+0.5", {"score": 0.5, "score_tromp_taylor": 0.5})]
    a, b = setup["a"], setup["b"]
    with session_scope(engine) as s:
        ids = repo.schedule_games(s, tournament_id=setup["tournament"], games=[
            repo.GameSpec(pairing="counted", game_index=i, black_player_id=a, white_player_id=b, seed=i)
            for i in range(len(results) + 1)])
    for game_id, (result, extra) in zip(ids, results):
        with session_scope(engine) as s:
            repo.record_finished_game(s, scheduled_game_id=game_id, **{**GAME, "result": result, "score": None,
                                                                        "sgf": f"(;GM[1]RE[{result}])", **extra})
    with session_scope(engine) as s:
        t = s.get(Tournament, setup["tournament"])
        kept = (t.games_finished, t.first_finished_at, t.last_finished_at, t.games_forfeited, t.games_pass_ended,
                t.games_refereed, t.games_disagreed)
        assert kept[0] == len(results) and kept[3:] == (1, 3, 2, 1)
        stamps = dict(s.execute(sa.select(FinishedGame.scheduled_game_id, FinishedGame.finished_at)
                                .where(FinishedGame.scheduled_game_id.in_(ids))).all())
        assert (kept[1], kept[2]) == (min(stamps.values()), max(stamps.values()))
        for game_id in ids:
            assert s.get(ScheduledGame, game_id).stored_at == stamps.get(game_id)
        open_ids = s.scalars(sa.select(ScheduledGame.id).where(
            ScheduledGame.tournament_id == setup["tournament"], ScheduledGame.stored_at.is_(None),
            ScheduledGame.failed_at.is_(None))).all()
        assert set(open_ids) == {setup["game"], ids[-1]}
        repo.recount_progress(s.connection())
        s.expire_all()
        t = s.get(Tournament, setup["tournament"])
        assert (t.games_finished, t.first_finished_at, t.last_finished_at, t.games_forfeited, t.games_pass_ended,
                t.games_refereed, t.games_disagreed) == kept
        s.rollback()
