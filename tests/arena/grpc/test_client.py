"""`arena.client.ArenaClient` against a real gRPC server on 127.0.0.1 and a real PostgreSQL.

As a training pipeline uses it: the checkpoint is written next to the server (an import folder),
registered, its gauntlet scheduled and played by a real worker process (`arena worker` on the
filesystem broker, demo networks at 2 visits), and its rating awaited on the WatchRatings stream.
The other waits and refusals run on results recorded straight into the database, as a worker
records them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

from arena.client import (AlreadyExists, ArenaClient, DeadlineExceeded, InvalidArgument, Leaderboard, NotFound,
                          Participant, PermissionDenied, RatingWait, RegisteredCheckpoint, ResourceExhausted,
                          ScheduledTournament, Standing, Unauthenticated, Unavailable)
from arena.db.connection import session_scope
from arena.db.models import ScheduledGame
from arena.db.repository import record_finished_game
from arena.grpc.access import bearer_tokens
from arena.grpc.server import serve
from arena.settings import Settings
from arena.tokens import create_token
from arena.tournaments import advance
from models.demo import DEMO_DIR, demo_manifests
from models.manifest import read_manifest
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.security.test_grpc_limits import _self_signed
from tests.support.processes import start_arena, stop_process

PLAY_TIMEOUT_S = 240.0  # a worker process starting and playing two 2-visit games on a busy machine


class Server:
    """The running server's address and the module's tokens."""

    def __init__(self, target: str, tokens: dict[str, str], settings: Settings) -> None:
        self.target, self.tokens, self.settings = target, tokens, settings
        self.data_dir = settings.data_dir

    def client(self, scope: str | None = "submit", **options) -> ArenaClient:
        return ArenaClient(self.target, token=self.tokens.get(scope) if scope else None, **options)


@pytest.fixture(scope="module")
def server(db_url, engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    data_dir = tmp_path_factory.mktemp("arena-data")
    (data_dir / "imports").mkdir()
    # broker_url None: the filesystem broker under data_dir, which the worker process reads too.
    settings = Settings(database_url=db_url, data_dir=data_dir, broker_url=None, checkpoint_dir=None,
                        engines_file=None, import_dirs=[DEMO_DIR, data_dir / "imports"])
    with session_scope(engine) as session:
        tokens = {scope: create_token(session, name=f"client-{scope}", scope=scope).token
                  for scope in ("submit", "read")}
    grpc_server = serve(settings, 0, host="127.0.0.1", db_engine=engine, authorize=bearer_tokens(engine), poll_s=0.05,
                        engines={})
    try:
        yield Server(f"127.0.0.1:{grpc_server.port}", tokens, settings)
    finally:
        grpc_server.stop(grace=None).wait()


@pytest.fixture(scope="module")
def arena(server: Server) -> Iterator[ArenaClient]:
    with server.client() as client:
        yield client


def _pipeline_checkpoint(server: Server, demo: Path) -> Path:
    """A training run's output: a demo manifest and its weights copied into the import folder."""
    manifest = read_manifest(demo)
    target = server.data_dir / "imports" / demo.name
    shutil.copy(demo, target)
    shutil.copy(demo.parent / manifest.weights_file, target.parent / manifest.weights_file)
    return target


@pytest.fixture(scope="module")
def candidate(server: Server, arena: ArenaClient) -> RegisteredCheckpoint:
    return arena.register_checkpoint(_pipeline_checkpoint(server, demo_manifests()[-1]), name="run7-candidate")


@pytest.fixture(scope="module")
def opponent(arena: ArenaClient) -> RegisteredCheckpoint:
    return arena.register_checkpoint(demo_manifests()[0])


def _record(engine, tournament_id: int, count: int, winner: str | None = None) -> None:  # noqa: F811
    """Record `count` unplayed games of the tournament, `winner` (a player id) winning each."""
    with session_scope(engine) as session:
        games = session.scalars(select(ScheduledGame).where(ScheduledGame.tournament_id == tournament_id,
                                                            ~ScheduledGame.finished.has())
                                .order_by(ScheduledGame.id).limit(count)).all()
        for game in games:
            result = "W+R" if winner is not None and game.white_player_id == winner else "B+R"
            record_finished_game(session, scheduled_game_id=game.id, result=result, move_count=0, duration_s=1.0,
                                 sgf=f"(;GM[1]FF[4]SZ[9]RE[{result}])")


def _candidate_id(engine, tournament_id: int) -> int:  # noqa: F811
    """The player id of the gauntlet's candidate: in every game, so in the first two colours."""
    with session_scope(engine) as session:
        first, second = session.execute(select(ScheduledGame.black_player_id, ScheduledGame.white_player_id).where(
            ScheduledGame.tournament_id == tournament_id).order_by(ScheduledGame.id).limit(2)).all()
    return ({first[0], first[1]} & {second[0], second[1]}).pop()


def test_register_returns_a_typed_record_and_is_idempotent(server, arena, candidate, opponent) -> None:
    assert isinstance(candidate, RegisteredCheckpoint)
    assert (candidate.name, candidate.created, len(candidate.sha256)) == ("run7-candidate", True, 64)
    assert candidate.sha256 == read_manifest(demo_manifests()[-1]).weights_sha256
    again = arena.register_checkpoint(server.data_dir / "imports" / demo_manifests()[-1].name, name="run7-candidate")
    assert again == RegisteredCheckpoint(id=candidate.id, sha256=candidate.sha256, name="run7-candidate",
                                         created=False, parent_sha256=candidate.parent_sha256)
    with pytest.raises(AttributeError):
        candidate.name = "renamed"  # frozen


def test_the_same_name_with_other_weights_is_already_exists(server, arena, candidate) -> None:
    other = _pipeline_checkpoint(server, demo_manifests()[1])
    with pytest.raises(AlreadyExists) as info:
        arena.register_checkpoint(other, name="run7-candidate")
    assert info.value.field == "name" and "run7-candidate" in info.value.message
    assert info.value.code == "ALREADY_EXISTS"


def test_tokens_are_checked(server, candidate, opponent) -> None:
    gauntlet = dict(candidate=Participant.checkpoint(candidate.name, 2), opponents=[Participant.checkpoint(
        opponent.name, 2)], dispatch=False)
    with ArenaClient(server.target, token="not-a-token") as stranger:
        with pytest.raises(Unauthenticated) as info:
            stranger.schedule_gauntlet("stranger", **gauntlet)
        assert info.value.field == "authorization"
    with server.client(None) as anonymous, pytest.raises(Unauthenticated, match="Bearer"):
        anonymous.register_checkpoint(demo_manifests()[0])
    with server.client("read") as reader:
        with pytest.raises(PermissionDenied) as info:
            reader.schedule_gauntlet("reader", **gauntlet)
        assert "submit" in info.value.message
        assert reader.get_leaderboard().games >= 0  # reads are public here; the read token may read


def test_bad_input_is_invalid_argument_naming_the_field(arena, candidate, opponent) -> None:
    me, them = Participant.checkpoint(candidate.name, 2), Participant.checkpoint(opponent.name, 2)
    with pytest.raises(InvalidArgument) as info:
        arena.schedule_gauntlet("odd", me, [them], games_per_pairing=3, dispatch=False)
    assert info.value.field == "config_json.games_per_pairing" and "even" in info.value.message
    with pytest.raises(InvalidArgument) as info:
        arena.schedule_gauntlet("unknown-field", me, [them], dispatch=False, komi_typo=7.5)
    assert info.value.field == "config_json.komi_typo"
    with pytest.raises(InvalidArgument) as info:
        arena.register_checkpoint("")
    assert info.value.field == "path"
    with pytest.raises(NotFound) as info:
        arena.get_leaderboard(999_999)
    assert info.value.field == "tournament_id"


def test_wait_for_rating_ends_on_its_conditions(arena, candidate, opponent, engine) -> None:  # noqa: F811
    me = Participant.checkpoint(candidate.name, 2)
    scheduled = arena.schedule_gauntlet("recorded-gauntlet", me, [Participant.checkpoint(opponent.name, 2)],
                                        games_per_pairing=4, dispatch=False)
    assert scheduled == ScheduledTournament(tournament_id=scheduled.tournament_id, name="recorded-gauntlet",
                                            games_scheduled=4, games_dispatched=0)
    tid = scheduled.tournament_id
    with pytest.raises(AlreadyExists) as info:
        arena.schedule_gauntlet("recorded-gauntlet", me, [Participant.checkpoint(opponent.name, 2)], dispatch=False)
    assert info.value.field == "config_json.name"
    # Nothing played yet: the wait times out and says what it saw last.
    with pytest.raises(DeadlineExceeded) as timed_out:
        arena.wait_for_rating(tid, me.name, min_games=1, timeout=1.0)
    assert isinstance(timed_out.value.last, Leaderboard) and timed_out.value.last.games == 0
    winner = _candidate_id(engine, tid)
    _record(engine, tid, 2, winner=winner)
    by_games = arena.wait_for_rating(tid, me.name, min_games=2, timeout=10)
    assert isinstance(by_games, RatingWait) and by_games.met and by_games.reason == "condition"
    assert isinstance(by_games.standing, Standing)
    assert (by_games.standing.games, by_games.standing.wins, by_games.standing.score) == (2, 2, 1.0)
    # Two wins in two games: an interval far wider than 1 Elo; the tournament's end ends the wait.
    assert by_games.standing.ci_half_width > 1.0 and by_games.standing.flag == "unbeaten"
    # Unbeaten, its interval is the fit's prior, not the games': no width, however wide, ends the wait.
    with pytest.raises(DeadlineExceeded):
        arena.wait_for_rating(tid, me.name, max_ci_half_width=10_000, until_finished=False, timeout=1.0)
    _record(engine, tid, 2)  # Black wins both of a colour-swapped pair: one win, one loss
    with session_scope(engine) as session:
        assert advance(session, tid) == "finished"
    finished = arena.wait_for_rating(tid, me.name, max_ci_half_width=1.0, timeout=10)
    assert (finished.reason, finished.met, finished.leaderboard.tournament_status) == ("finished", False, "finished")
    assert finished.standing.games == 4 and finished.leaderboard.standings[0].name == me.name
    assert finished.standing.flag is None  # 3-1: rated by the games
    # A half-width the four games do reach.
    wide = finished.standing.ci_half_width + 1.0
    assert arena.wait_for_rating(tid, me.name, max_ci_half_width=wide, until_finished=False, timeout=10).met
    with pytest.raises(ValueError):
        arena.wait_for_rating(tid, me.name, until_finished=False)


def test_tls_with_a_root_certificate(server, engine, tmp_path) -> None:  # noqa: F811
    cert, key = _self_signed(tmp_path)
    tls_server = serve(server.settings.model_copy(update={"grpc_tls_cert": cert, "grpc_tls_key": key}), 0,
                       db_engine=engine, engines={})
    target = f"127.0.0.1:{tls_server.port}"
    try:
        with ArenaClient(target, root_certificates=cert, timeout=10) as secure:
            assert len(secure.get_leaderboard().game_set_sha256) == 64
        with ArenaClient(target, timeout=2) as plain, pytest.raises(Unavailable):
            plain.get_leaderboard()  # clear text to a TLS port: no answer
    finally:
        tls_server.stop(grace=None).wait()


def test_streams_beyond_the_per_address_bound_are_resource_exhausted(arena, candidate, opponent) -> None:
    tid = arena.schedule_gauntlet("bounded", Participant.checkpoint(candidate.name, 2),
                                  [Participant.checkpoint(opponent.name, 2)], dispatch=False).tournament_id
    streams = [arena.watch_ratings(tid, timeout=30) for _ in range(4)]  # the default per-peer bound
    try:
        assert all(next(stream).games == 0 for stream in streams)
        with closing(arena.watch_ratings(tid, timeout=30)) as fifth, pytest.raises(ResourceExhausted) as info:
            next(fifth)
        assert "ARENA_GRPC_MAX_STREAMS_PER_PEER" in info.value.message
    finally:
        for stream in streams:
            stream.close()  # cancels it, which frees its slot on the server
    deadline = time.monotonic() + 5  # the server frees a slot in the cancelled call's callback
    while True:
        try:
            with closing(arena.watch_ratings(tid, timeout=30)) as again:
                assert next(again).games == 0
            break
        except ResourceExhausted:
            assert time.monotonic() < deadline, "closed streams kept their slots"
            time.sleep(0.1)


def test_a_gauntlet_played_by_a_worker_gets_its_rating(server, arena, candidate, opponent, db_url,  # noqa: F811
                                                       tmp_path) -> None:
    me = Participant.checkpoint(candidate.name, 2)
    scheduled = arena.schedule_gauntlet("played-gauntlet", me, [Participant.checkpoint(opponent.name, 2)],
                                        games_per_pairing=2)
    assert (scheduled.games_scheduled, scheduled.games_dispatched) == (2, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(server.data_dir))
    log = tmp_path / "worker.log"
    worker = start_arena(["worker", "--loglevel", "INFO"], env, log)
    try:
        wait = arena.wait_for_rating(scheduled.tournament_id, me.name, min_games=2, timeout=PLAY_TIMEOUT_S)
    except DeadlineExceeded:
        pytest.fail(f"no rating within {PLAY_TIMEOUT_S} s; worker log:\n{log.read_text(errors='replace')[-3000:]}")
    finally:
        stop_process(worker)
    assert wait.met and wait.standing.games == 2
    assert wait.standing.wins + wait.standing.losses + wait.standing.draws == 2
    board = arena.get_leaderboard(scheduled.tournament_id)
    assert isinstance(board, Leaderboard) and board.games == 2 and len(board.game_set_sha256) == 64
    assert {s.name for s in board.standings} == {me.name, f"{opponent.name}@2v"}
    assert board.condition.startswith("9x9 ") and board.conditions[0].condition == board.condition
    assert board.conditions[0].games >= 2
    overall = arena.get_leaderboard(condition=board.condition)
    assert overall.tournament_id is None and overall.tournament_status is None and overall.games >= 2


def test_the_client_imports_no_server_libraries() -> None:
    """A training job installs grpc, not the arena's database, web and worker stacks."""
    heavy = ("sqlalchemy", "psycopg", "fastapi", "celery", "torch")
    probe = f"import sys, arena.client; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
