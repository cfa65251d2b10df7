"""The gRPC API with a real grpc client against a server on 127.0.0.1, on a real PostgreSQL.

Results are recorded straight into the database (as a worker would); the filesystem broker
writes the dispatched blocks under a temporary data directory, and no worker plays them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from arena.db.connection import session_scope
from arena.db.models import ScheduledGame
from arena.db.repository import record_finished_game
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import bearer_tokens, serve
from arena.tokens import create_token
from arena.settings import Settings
from models.demo import DEMO_DIR, demo_manifests
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

TIMEOUT = 10.0
AUTH: list[tuple[str, str]] = []  # a live token's metadata, filled by the `stub` fixture


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("arena-data")


@pytest.fixture(scope="module")
def stub(db_url, engine, data_dir) -> Iterator[arena_pb2_grpc.ArenaStub]:  # noqa: F811
    # `path` registrations: the demo checkpoints and data_dir/imports (ARENA_IMPORT_DIRS).
    (data_dir / "imports").mkdir(exist_ok=True)
    settings = Settings(database_url=db_url, data_dir=data_dir, broker_url=None, checkpoint_dir=None,
                        engines_file=None, import_dirs=[DEMO_DIR, data_dir / "imports"])
    with session_scope(engine) as session:
        AUTH[:] = [("authorization", f"Bearer {create_token(session, name='grpc-tests').token}")]
    server = serve(settings, 0, host="127.0.0.1", db_engine=engine, authorize=bearer_tokens(engine), poll_s=0.05,
                   engines={})
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield arena_pb2_grpc.ArenaStub(channel)
    finally:
        channel.close()
        server.stop(grace=None).wait()


@pytest.fixture(scope="module")
def checkpoints(stub) -> list[arena_pb2.RegisterCheckpointResponse]:
    paths = demo_manifests()[:2]
    return [stub.RegisterCheckpoint(arena_pb2.RegisterCheckpointRequest(path=str(p)), metadata=AUTH, timeout=60)
            for p in paths]


def _round_robin(name: str, checkpoints, games_per_pairing: int = 4) -> str:
    return json.dumps({"name": name, "format": "round-robin", "board_size": 9, "rules": "chinese",
                       "games_per_pairing": games_per_pairing, "openings": {"source": "none", "plies": 0},
                       "participants": [{"name": f"{c.name}@8v", "kind": "checkpoint", "ref": c.name, "visits": 8}
                                        for c in checkpoints]})


def _schedule(stub, config_json: str, **fields) -> arena_pb2.ScheduleTournamentResponse:
    return stub.ScheduleTournament(arena_pb2.ScheduleTournamentRequest(config_json=config_json, **fields),
                                   metadata=AUTH, timeout=TIMEOUT)


def _record(engine, tournament_id: int, count: int, result=lambda game: "B+R") -> list[int]:  # noqa: F811
    """Record `count` unfinished games of the tournament (as a worker would); their ids."""
    with session_scope(engine) as session:
        games = session.scalars(select(ScheduledGame).where(ScheduledGame.tournament_id == tournament_id,
                                                            ~ScheduledGame.finished.has())
                                .order_by(ScheduledGame.id).limit(count)).all()
        for game in games:
            res = result(game)
            record_finished_game(session, scheduled_game_id=game.id, result=res, move_count=0, duration_s=1.0,
                                 sgf=f"(;GM[1]FF[4]SZ[9]RE[{res}])")
        return [g.id for g in games]


def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def test_register_is_idempotent_and_returns_the_identity(stub, checkpoints) -> None:
    assert [c.created for c in checkpoints] == [True, True]
    assert all(len(c.sha256) == 64 for c in checkpoints)
    again = stub.RegisterCheckpoint(arena_pb2.RegisterCheckpointRequest(path=str(demo_manifests()[0])),
                                    metadata=AUTH, timeout=60)
    assert (again.id, again.sha256, again.name, again.created) == (
        checkpoints[0].id, checkpoints[0].sha256, checkpoints[0].name, False)


def test_schedule_dispatch_and_leaderboard_on_recorded_results(stub, checkpoints, engine, data_dir) -> None:  # noqa: F811
    response = _schedule(stub, _round_robin("rr-board", checkpoints))
    assert (response.name, response.games_scheduled, response.games_dispatched) == ("rr-board", 4, 4)
    assert any((data_dir / "broker" / "queue").iterdir())  # the block went to the filesystem broker
    empty = stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=response.tournament_id))
    assert (empty.games, list(empty.players), empty.tournament_status) == (0, [], "running")
    # The first checkpoint wins every game, whatever its colour.
    with session_scope(engine) as session:
        first_player_id = session.scalar(select(ScheduledGame.black_player_id).where(
            ScheduledGame.tournament_id == response.tournament_id).order_by(ScheduledGame.id))
    _record(engine, response.tournament_id, 4,
            result=lambda g: "B+R" if g.black_player_id == first_player_id else "W+R")
    board = stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=response.tournament_id))
    assert board.games == 4 and len(board.game_set_sha256) == 64
    best, worst = board.players
    assert (best.games, best.wins, best.score, worst.wins) == (4, 4, 1.0, 0)
    assert best.ci_low < best.elo < best.ci_high and best.elo > worst.elo
    # 4-0: the games bound only one end of each rating (arena.ratings.estimability)
    assert (best.flag, worst.flag) == ("unbeaten", "winless") and set(board.flag_legend) == {"unbeaten", "winless"}
    assert board.HasField("tournament_id")
    overall = stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest())
    assert not overall.HasField("tournament_id") and overall.games >= 4


def test_watch_games_streams_games_stored_after_it_opened(stub, checkpoints, engine) -> None:  # noqa: F811
    tid = _schedule(stub, _round_robin("rr-watch", checkpoints), no_dispatch=True).tournament_id
    before = _record(engine, tid, 1)
    stream = stub.WatchGames(arena_pb2.WatchGamesRequest(tournament_id=tid, only_new=True, include_sgf=True),
                             timeout=TIMEOUT)
    time.sleep(0.3)  # let the stream open before anything is recorded
    recorded: list[int] = []
    writer = threading.Thread(target=lambda: [recorded.extend(_record(engine, tid, 1)) or time.sleep(0.1)
                                              for _ in range(2)])
    writer.start()
    received = [next(stream), next(stream)]
    writer.join()
    stream.cancel()
    assert [g.id for g in received] == recorded and before[0] not in recorded
    assert all(g.sgf.startswith("(;GM[1]") and g.tournament == "rr-watch" for g in received)
    assert received[0].finished_at.seconds > 0
    # From the start, and until the tournament has finished: every game, then the stream ends.
    _record(engine, tid, 10)
    from arena.tournaments import advance
    with session_scope(engine) as session:
        assert advance(session, tid) == "finished"
    everything = list(stub.WatchGames(arena_pb2.WatchGamesRequest(tournament_id=tid, until_finished=True),
                                      timeout=TIMEOUT))
    assert len(everything) == 4 and everything[0].id == before[0]
    after = list(stub.WatchGames(arena_pb2.WatchGamesRequest(tournament_id=tid, until_finished=True,
                                                              after_game_id=everything[1].id), timeout=TIMEOUT))
    assert [g.id for g in after] == [g.id for g in everything[2:]]
    mine = list(stub.WatchGames(arena_pb2.WatchGamesRequest(tournament_id=tid, until_finished=True,
                                                             player=everything[0].black), timeout=TIMEOUT))
    assert len(mine) == 4  # a round-robin of two: every game is this player's


def test_watch_ratings_emits_a_snapshot_when_results_change(stub, checkpoints, engine) -> None:  # noqa: F811
    tid = _schedule(stub, _round_robin("rr-ratings", checkpoints), no_dispatch=True).tournament_id
    player = f"{checkpoints[0].name}@8v"
    stream = stub.WatchRatings(arena_pb2.WatchRatingsRequest(tournament_id=tid, player=player,
                                                             until_player_games=3), timeout=TIMEOUT)
    first = next(stream)
    assert first.games == 0
    _record(engine, tid, 2)
    second = next(stream)
    assert second.games == 2 and second.game_set_sha256 != first.game_set_sha256
    _record(engine, tid, 1)
    snapshots = list(stream)  # ends by itself: the player has 3 rated games
    assert snapshots[-1].games == 3
    assert {p.name: p.games for p in snapshots[-1].players}[player] == 3


def test_bad_input_maps_to_status_codes(stub, checkpoints, data_dir, tmp_path) -> None:
    not_a_checkpoint = data_dir / "imports" / "x.json"
    not_a_checkpoint.write_text("{}")
    outside = tmp_path / "x.json"
    outside.write_text("{}")
    register = lambda path, **kw: stub.RegisterCheckpoint(  # noqa: E731
        arena_pb2.RegisterCheckpointRequest(path=path), timeout=TIMEOUT, **kw)
    cases = [
        (lambda: register(str(not_a_checkpoint)), grpc.StatusCode.UNAUTHENTICATED, "Bearer"),
        (lambda: register("", metadata=AUTH), grpc.StatusCode.INVALID_ARGUMENT, "path: must not be empty"),
        # Missing or outside ARENA_IMPORT_DIRS: one refusal, which says neither.
        (lambda: register(str(data_dir / "imports" / "missing.json"), metadata=AUTH), grpc.StatusCode.INVALID_ARGUMENT,
         "path: not an importable path"),
        (lambda: register(str(outside), metadata=AUTH), grpc.StatusCode.INVALID_ARGUMENT, "path: not an importable path"),
        (lambda: register(str(not_a_checkpoint), metadata=AUTH), grpc.StatusCode.INVALID_ARGUMENT,
         "path: checkpoint refused"),
        (lambda: _schedule(stub, "{not json"), grpc.StatusCode.INVALID_ARGUMENT, "config_json: not JSON"),
        (lambda: _schedule(stub, _round_robin("odd", checkpoints, games_per_pairing=3)),
         grpc.StatusCode.INVALID_ARGUMENT, "config_json.games_per_pairing"),
        (lambda: _schedule(stub, json.dumps({**json.loads(_round_robin("ghost", checkpoints)), "participants": [
            {"name": "a", "kind": "checkpoint", "ref": "no-such-net", "visits": 8},
            {"name": "b", "kind": "checkpoint", "ref": checkpoints[0].name, "visits": 8}]})),
         grpc.StatusCode.INVALID_ARGUMENT, "no registered checkpoint named 'no-such-net'"),
        (lambda: _schedule(stub, _round_robin("rr-board", checkpoints)), grpc.StatusCode.ALREADY_EXISTS,
         "config_json.name"),
        (lambda: stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=999999), timeout=TIMEOUT),
         grpc.StatusCode.NOT_FOUND, "tournament_id"),
        (lambda: next(stub.WatchGames(arena_pb2.WatchGamesRequest(until_finished=True), timeout=TIMEOUT)),
         grpc.StatusCode.INVALID_ARGUMENT, "until_finished: needs tournament_id"),
        (lambda: next(stub.WatchGames(arena_pb2.WatchGamesRequest(player="nobody"), timeout=TIMEOUT)),
         grpc.StatusCode.NOT_FOUND, "player"),
        (lambda: next(stub.WatchGames(arena_pb2.WatchGamesRequest(after_game_id=999999), timeout=TIMEOUT)),
         grpc.StatusCode.NOT_FOUND, "after_game_id"),
        (lambda: next(stub.WatchRatings(arena_pb2.WatchRatingsRequest(), timeout=TIMEOUT)),
         grpc.StatusCode.INVALID_ARGUMENT, "tournament_id: required"),
        (lambda: next(stub.WatchRatings(arena_pb2.WatchRatingsRequest(tournament_id=999999), timeout=TIMEOUT)),
         grpc.StatusCode.NOT_FOUND, "tournament_id"),
    ]
    for call, code, message in cases:
        got, details = _code(call)
        assert got == code and message in details, (code, message, got, details)


def test_schedule_with_policy_openings_loads_the_network_from_store(stub, checkpoints, engine) -> None:  # noqa: F811
    # ScheduleTournament creates through create_and_dispatch with the server's evaluator factory.
    config = json.loads(_round_robin("rr-policy", checkpoints))
    config["openings"] = {"source": "policy", "plies": 3, "count": 2, "checkpoint": checkpoints[-1].name,
                          "max_abs_value": 1.0}
    response = _schedule(stub, json.dumps(config))
    assert (response.name, response.games_scheduled, response.games_dispatched) == ("rr-policy", 4, 4)
    with session_scope(engine) as session:
        openings = session.scalars(select(ScheduledGame.opening).where(
            ScheduledGame.tournament_id == response.tournament_id)).all()
    assert len(openings) == 4 and all(o and len(o.split()) == 3 for o in openings)
    config["name"], config["openings"]["checkpoint"] = "rr-policy-unknown", "no-such-network"
    code, details = _code(lambda: _schedule(stub, json.dumps(config)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "no-such-network" in details
