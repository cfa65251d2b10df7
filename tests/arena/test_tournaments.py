"""The tournament service on a real PostgreSQL: refusals before anything is stored, payloads,
dispatch bookkeeping, and dynamic formats driven to their end by recorded results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from arena.db.connection import session_scope
from arena.db.models import Player, ScheduledGame, Tournament
from arena.db.repository import record_finished_game, get_or_create_checkpoint
from arena.scheduling import TournamentConfig, parse_config
from arena.tournaments import TournamentError, advance, create_tournament, dispatch, progress
from models.demo import demo_manifests
from models.manifest import read_manifest
from search_workers.engines.config import parse_engine_config
from search_workers.schemas import BlockPayload
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

ENGINES = parse_engine_config({"engine": [
    {"name": "gnugo-l1", "preset": "gnugo", "level": 1},
    {"name": "big-only", "command": ["/bin/true"], "board_sizes": [19]},
]})


@pytest.fixture(scope="module")
def checkpoints(engine) -> list[str]:  # noqa: F811
    names = []
    with session_scope(engine) as session:
        for path in demo_manifests():
            manifest = read_manifest(path)
            get_or_create_checkpoint(session, sha256=manifest.weights_sha256, name=manifest.name,
                                manifest=manifest.model_dump(mode="json"))
            names.append(manifest.name)
    return names


def _config(name: str, participants: list[dict], **extra) -> TournamentConfig:
    return parse_config({"name": name, "participants": participants, "board_size": 9, "rules": "chinese",
                         "format": "round-robin", "openings": {"source": "random", "plies": 2, "count": 4}, **extra})


def _count(engine, model) -> int:  # noqa: F811
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("participants, message", [
    ([{"name": "x", "kind": "checkpoint", "ref": "no-such-net", "visits": 8},
      {"name": "g", "kind": "engine", "ref": "gnugo-l1"}], "no registered checkpoint named 'no-such-net'"),
    ([{"name": "a", "kind": "engine", "ref": "gnugo-l1"},
      {"name": "k", "kind": "engine", "ref": "katago"}], "unknown engine 'katago'"),
    ([{"name": "a", "kind": "engine", "ref": "gnugo-l1"},
      {"name": "b", "kind": "engine", "ref": "big-only"}], "cannot play board size 9"),
])
def test_bad_references_are_refused_before_anything_is_stored(engine, checkpoints, participants,  # noqa: F811
                                                               message) -> None:
    before = (_count(engine, Tournament), _count(engine, Player), _count(engine, ScheduledGame))
    with pytest.raises(TournamentError, match=message), session_scope(engine) as session:
        create_tournament(session, _config(f"bad-{message[:8]}", participants), engines=ENGINES)
    assert (_count(engine, Tournament), _count(engine, Player), _count(engine, ScheduledGame)) == before


@pytest.mark.parametrize("change, message", [
    ({"participants": [{"name": "solo", "kind": "engine", "ref": "gnugo-l1"}]}, "at least two players"),
    ({"participants": [{"name": "a", "kind": "checkpoint", "ref": "n", "visits": 0},
                       {"name": "b", "kind": "engine", "ref": "gnugo-l1"}]}, "visits"),
    ({"games_per_pairing": 3}, "games_per_pairing"),
    ({"board_size": 42}, "board_size"),
])
def test_impossible_configurations_fail_validation(change: dict, message: str) -> None:
    data = {"name": "t", "format": "round-robin", "board_size": 9,
            "participants": [{"name": "a", "kind": "engine", "ref": "gnugo-l1"},
                             {"name": "b", "kind": "engine", "ref": "gnugo-l1"}], **change}
    with pytest.raises(ValueError, match=message):
        parse_config(data)


def test_round_robin_is_stored_dispatched_once_and_finishes(engine, checkpoints) -> None:  # noqa: F811
    participants = [{"name": f"{c}@8v", "kind": "checkpoint", "ref": c, "visits": 8} for c in checkpoints[:2]]
    participants.append({"name": "gnugo-l1", "kind": "engine", "ref": "gnugo-l1"})
    with session_scope(engine) as session:
        tid = create_tournament(session, _config("rr", participants, games_per_pairing=4), engines=ENGINES).id
    sent: list[dict] = []
    with session_scope(engine) as session:
        assert dispatch(session, tid, send=sent.append, block_size=5) == 12
    with session_scope(engine) as session:
        assert dispatch(session, tid, send=sent.append) == 0  # nothing is sent twice
    assert [len(p["games"]) for p in sent] == [5, 5, 2]
    payloads = [BlockPayload.model_validate(p) for p in sent]
    orders = [g for p in payloads for g in p.games]
    assert len({g.scheduled_game_id for g in orders}) == 12
    assert all(p.referee is None for p in payloads)  # no engine named gnugo: strict Tromp-Taylor
    # Colour-swapped pairs: consecutive games of a pairing share the opening with colours swapped.
    for first, second in zip(orders[::2], orders[1::2]):
        assert (first.black, first.white, first.opening) == (second.white, second.black, second.opening)
        assert len(first.opening) == 2
    with session_scope(engine) as session:
        assert advance(session, tid) == "running"
        games = session.scalars(select(ScheduledGame).where(ScheduledGame.tournament_id == tid)).all()
        for game in games:
            record_finished_game(session, scheduled_game_id=game.id, result="B+R", move_count=0, duration_s=1.0,
                                 sgf="(;GM[1]FF[4]SZ[9]RE[B+R])")
    with session_scope(engine) as session:
        assert advance(session, tid) == "finished"
        report = progress(session, tid)
    assert (report.finished, report.scheduled, report.status) == (12, 12, "finished")


def _play_out(engine, tid: int, strength: dict[str, float], rng: np.random.Generator) -> int:  # noqa: F811
    """Record a simulated result for every unfinished game; the number recorded."""
    names = {}
    with session_scope(engine) as session:
        names = dict(session.execute(select(Player.id, Player.name)).all())
        games = session.scalars(select(ScheduledGame).where(ScheduledGame.tournament_id == tid)
                                .where(~ScheduledGame.finished.has())).all()
        for game in games:
            diff = strength[names[game.black_player_id]] - strength[names[game.white_player_id]]
            black_wins = rng.random() < 1 / (1 + 10 ** (-diff / 400))
            result = "B+R" if black_wins else "W+R"
            record_finished_game(session, scheduled_game_id=game.id, result=result, move_count=0, duration_s=1.0,
                                 sgf=f"(;GM[1]FF[4]SZ[9]RE[{result}])")
    return len(games)


def test_sprt_gate_stops_at_a_decision(engine, checkpoints) -> None:  # noqa: F811
    new, old = checkpoints[-1], checkpoints[0]
    participants = [{"name": "cand", "kind": "checkpoint", "ref": new, "visits": 6},
                    {"name": "base", "kind": "checkpoint", "ref": old, "visits": 6}]
    config = _config("gate", participants, format="sprt", candidates=["cand"], elo0=0, elo1=50, batch_pairs=8)
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines=ENGINES).id
    rng = np.random.default_rng(4)
    for _ in range(200):
        _play_out(engine, tid, {"cand": 300.0, "base": 0.0}, rng)
        with session_scope(engine) as session:
            if advance(session, tid) == "finished":
                break
    with session_scope(engine) as session:
        report = progress(session, tid)
    assert report.status == "finished"
    assert report.verdict["verdict"] == "accept", report.verdict
    assert report.scheduled < 2000


def test_adaptive_stops_at_its_budget(engine, checkpoints) -> None:  # noqa: F811
    participants = [{"name": f"{c}@8v", "kind": "checkpoint", "ref": c, "visits": 8} for c in checkpoints]
    config = _config("adaptive", participants, format="adaptive", game_budget=64, batch_pairs=8)
    strength = {f"{c}@8v": 100.0 * i for i, c in enumerate(checkpoints)}
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines=ENGINES).id
    rng = np.random.default_rng(5)
    for _ in range(50):
        _play_out(engine, tid, strength, rng)
        with session_scope(engine) as session:
            if advance(session, tid) == "finished":
                break
    with session_scope(engine) as session:
        report = progress(session, tid)
    assert report.status == "finished" and report.scheduled == 64 == report.finished


def test_a_known_player_under_another_name_is_refused(engine, checkpoints) -> None:  # noqa: F811
    participants = [{"name": "alias", "kind": "checkpoint", "ref": checkpoints[0], "visits": 5},
                    {"name": "gnugo-l1", "kind": "engine", "ref": "gnugo-l1"}]
    with session_scope(engine) as session:
        create_tournament(session, _config("first-name", [{**participants[0], "name": "orig"}, participants[1]]),
                          engines=ENGINES)
    with pytest.raises(TournamentError, match="'alias' conflicts"), session_scope(engine) as session:
        create_tournament(session, _config("second-name", participants), engines=ENGINES)
    with session_scope(engine) as session:
        assert session.scalar(select(Tournament).where(Tournament.name == "second-name")) is None


def test_a_tournament_name_is_unique(engine, checkpoints, tmp_path: Path) -> None:  # noqa: F811
    participants = [{"name": "gnugo-l1", "kind": "engine", "ref": "gnugo-l1"},
                    {"name": "u2", "kind": "checkpoint", "ref": checkpoints[0], "visits": 4}]
    with session_scope(engine) as session:
        create_tournament(session, _config("unique", participants), engines=ENGINES)
    with pytest.raises(TournamentError, match="already exists"), session_scope(engine) as session:
        create_tournament(session, _config("unique", participants), engines=ENGINES)


@pytest.mark.parametrize("format_", ["sprt", "adaptive"])
def test_the_formats_read_the_database_counts_as_they_would_the_games(engine, checkpoints, format_) -> None:  # noqa: F811
    """advance reads counts kept as games are stored (rating_pairs, pair_pentanomials), not every
    game: they must be what the games themselves give, with draws, Void games, unplayed halves of
    pairs, games stored in any order, and the candidate named after the baseline in the pairing
    ("zed" sorts after "abe"); a recount from the games (rebuild_pentanomials) agrees."""
    from arena.db.models import FinishedGame
    from arena.scheduling import FinishedGames, PlayedGame
    from arena.db.rating_inputs import rebuild_pentanomials
    from arena.tournaments import _finished

    visits = 13 if format_ == "sprt" else 17  # players are global: one name per checkpoint and visits
    participants = [{"name": f"zed-{format_}", "kind": "checkpoint", "ref": checkpoints[-1], "visits": visits},
                    {"name": f"abe-{format_}", "kind": "checkpoint", "ref": checkpoints[0], "visits": visits}]
    extra = {"candidates": [f"zed-{format_}"], "batch_pairs": 40} if format_ == "sprt" else {"game_budget": 80,
                                                                                            "batch_pairs": 40}
    config = _config(f"counts-{format_}", participants, format=format_, **extra)
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines=ENGINES).id
    rng = np.random.default_rng(7)
    with session_scope(engine) as session:
        games = session.scalars(select(ScheduledGame).where(ScheduledGame.tournament_id == tid)
                                .order_by(ScheduledGame.id)).all()
        assert len(games) == 80
        order = rng.permutation(len(games) - 3)  # the last pair and a half stay unplayed
        for game in (games[i] for i in order):  # odd games before even ones too
            result = str(rng.choice(["B+R", "W+R", "B+3.5", "W+0.5", "0", "Void"], p=[.3, .3, .1, .1, .1, .1]))
            record_finished_game(session, scheduled_game_id=game.id, result=result, move_count=0, duration_s=1.0,
                                 sgf=f"(;GM[1]FF[4]SZ[9]RE[{result}])")
    with session_scope(engine) as session:
        names = dict(session.execute(select(Player.id, Player.name)).all())
        rows = session.execute(select(ScheduledGame, FinishedGame.result)
                               .join(FinishedGame, FinishedGame.scheduled_game_id == ScheduledGame.id)
                               .where(ScheduledGame.tournament_id == tid, FinishedGame.result != "Void")).all()
        played = []
        for game, result in rows:
            black, white = names[game.black_player_id], names[game.white_player_id]
            winner = black if result.startswith("B+") else white if result.startswith("W+") else None
            played.append(PlayedGame(game.pairing, game.game_index, black, white, winner))
        counted = _finished(session, tid)
    expected = FinishedGames.of(played)
    assert counted == expected
    with session_scope(engine) as session:
        rebuild_pentanomials(session)
    with session_scope(engine) as session:
        assert _finished(session, tid) == expected
    pentanomial = counted.pentanomial(f"zed-{format_}", f"abe-{format_}")
    assert 30 <= sum(pentanomial) < 39 and expected.games == len(played) > 60


def test_a_pair_stored_by_two_writers_at_once_is_counted_once(engine, checkpoints) -> None:  # noqa: F811
    """The two games of a colour-swapped pair stored in two transactions at the same time: the
    second waits on the tournament's row for the first to commit, then sees it and counts the pair
    (rating_inputs.count_pentanomial); neither misses it, nor do both count it."""
    import threading

    from arena.db.rating_inputs import pentanomials

    participants = [{"name": "race-a", "kind": "checkpoint", "ref": checkpoints[0], "visits": 19},
                    {"name": "race-b", "kind": "checkpoint", "ref": checkpoints[-1], "visits": 19}]
    config = _config("race", participants, format="sprt", candidates=["race-b"], batch_pairs=2)
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines=ENGINES).id
        first, second = session.scalars(select(ScheduledGame.id).where(ScheduledGame.tournament_id == tid)
                                        .order_by(ScheduledGame.game_index).limit(2)).all()

    def store(session, game_id: int, result: str) -> None:
        record_finished_game(session, scheduled_game_id=game_id, result=result, move_count=0, duration_s=1.0,
                             sgf=f"(;GM[1]FF[4]SZ[9]RE[{result}])")

    errors = []

    def second_writer() -> None:
        try:
            with session_scope(engine) as session:
                store(session, second, "B+R")  # waits for the first writer's commit
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    with session_scope(engine) as session:
        store(session, first, "B+R")  # uncommitted: the tournament's row stays locked
        writer = threading.Thread(target=second_writer)
        writer.start()
        writer.join(1.0)
        assert writer.is_alive()  # blocked on the row, not finished without seeing this game
    writer.join(30)
    assert not errors and not writer.is_alive()
    with session_scope(engine) as session:
        # race-a is Black in game 0 and White in game 1: one win each way, one pair scored 1.
        assert pentanomials(session, tid) == {"race-a vs race-b": ("race-a", (0, 0, 1, 0, 0))}
