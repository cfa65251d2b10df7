"""Hostile cases: undispatchable and oversized tournaments.

Before: `TournamentConfig` took komi ±1000 and move_limit 100,000 where the workers' payload took
±150 and 10,000 (a 201, then every dispatch failed); visits up to 1,000,000 (672 MiB of tree per
9x9 game, allocated up front, a 32-game block killing worker after worker); and a 50-player,
100-games-a-pairing round robin (245,000 games) was planned inside the request for tens of
seconds. Now one game contract (GameSettings) bounds both sides, and each server limit is a 422
naming its setting, decided before anything is planned or stored.
"""

from __future__ import annotations

import json
import threading
import time

import grpc
import pytest
from celery.exceptions import Reject
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select

from arena.db.connection import session_scope
from arena.db.models import Player, ScheduledGame, Tournament
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import serve
from arena.scheduling import next_games, opening_book, parse_config
from arena.server_engines import server_engines
from search_workers import tasks
from search_workers.go import GameState
from search_workers.schemas import BlockPayload, CheckpointPlayer, EnginePlayer, GameOrder, SearchSettings
from search_workers.search import SearchConfig, search_bytes_per_game
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, app_with, client, db_url, engine, headers, settings, tokens, tournament_config)
from tests.support.demo_checkpoints import register_demo_checkpoints

MIB = 2**20


@pytest.fixture(scope="module")
def nets(engine) -> list[str]:  # noqa: F811
    """Two registered demo checkpoints (9x9); their names."""
    with session_scope(engine) as session:
        return register_demo_checkpoints(session)


def _searching(name: str, nets: list[str], visits: int, **changes) -> dict:
    return tournament_config(name, participants=[
        {"name": f"{net}@{visits}v", "kind": "checkpoint", "ref": net, "visits": visits} for net in nets], **changes)


def _counts(engine) -> tuple[int, int, int]:  # noqa: F811
    with session_scope(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Tournament, ScheduledGame, Player))


def _refused(client, headers, engine, body: dict, *names: str) -> str:  # noqa: F811
    """POST it; assert a 422 naming each of `names`, no internals, nothing stored; the message."""
    before = _counts(engine)
    response = client.post("/tournaments", json=body, headers=headers["submit"])
    assert response.status_code == 422, response.text
    text = response.text
    for name in names:
        assert name in text, text
    assert "Traceback" not in text and "/work" not in text and "site-packages" not in text
    assert _counts(engine) == before
    return text


@pytest.mark.parametrize("field, value", [("komi", 1000), ("komi", -150.5), ("move_limit", 100_000),
                                          ("move_limit", 2001), ("board_size", 25)])
def test_a_game_setting_the_workers_cannot_play_is_refused(client, headers, engine, field, value) -> None:  # noqa: F811
    _refused(client, headers, engine, tournament_config(f"bad-{field}-{value}", **{field: value}), field)


def _mostly(valid: st.SearchStrategy, *hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Values within the bounds nine times in ten, so that whole configurations pass often."""
    return st.integers(0, 9).flatmap(lambda k: valid if k < 9 else st.one_of(*hostile))


_NAMES = _mostly(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.@+\-]{0,100}", fullmatch=True), st.text(max_size=12))


@st.composite
def _configs(draw) -> dict:
    """Tournament configurations within, at and beyond every bound of the game contract."""
    names = draw(st.lists(_NAMES, min_size=2, max_size=3, unique=True))
    plies = draw(st.integers(0, 6))
    return {
        "name": "property", "format": "round-robin",
        "board_size": draw(_mostly(st.integers(2, 19), st.integers(-1, 30))),
        "rules": draw(_mostly(st.sampled_from(["tromp-taylor", "chinese", " Chinese "]),
                              st.sampled_from(["japanese", "go-moku", ""]))),
        "komi": draw(_mostly(st.integers(-300, 300).map(lambda k: k / 2),
                             st.floats(allow_nan=True), st.sampled_from([150.5, -1000, 1000]))),
        "move_limit": draw(_mostly(st.one_of(st.none(), st.integers(1, 2000)), st.integers(-1, 200_000))),
        "openings": {"source": "random", "plies": plies, "count": 2} if plies else {"source": "none", "plies": 0},
        "resign": {"threshold": draw(_mostly(st.floats(-1, 1), st.floats(-2, 2))),
                   "consecutive": draw(_mostly(st.integers(1, 1000), st.integers(-1, 2000)))},
        "participants": [{"name": names[0], "kind": "checkpoint", "ref": "net",
                          "visits": draw(_mostly(st.integers(1, 1_000_000), st.integers(-1, 2_000_000)))}] + [
            {"name": name, "kind": "engine", "ref": "gnugo"} for name in names[1:]],
    }


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_configs())
def test_anything_a_tournament_accepts_builds_a_valid_block_payload(data: dict) -> None:
    """The contract: what TournamentConfig accepts, BlockPayload and the worker's search accept."""
    try:
        config = parse_config(data)
    except ValidationError:
        return
    book = opening_book(config.openings, board_size=config.board_size, rules=config.game_rules())
    planned = next_games(config, [], {}, book)[:4]
    search = SearchSettings(visits=config.participants[0].visits, **config.resign.search_fields())
    players = [CheckpointPlayer(name=config.participants[0].name, sha256="a" * 64, search=search)] + [
        EnginePlayer(name=p.name, engine=p.ref) for p in config.participants[1:]]
    payload = BlockPayload(tournament_id=1, **config.game_settings(), players=players, games=[
        GameOrder(scheduled_game_id=i + 1, black=g.black, white=g.white, opening=list(g.opening), seed=g.seed)
        for i, g in enumerate(planned)])
    assert BlockPayload.model_validate(payload.model_dump(mode="json")) == payload
    SearchConfig(**search.model_dump())
    GameState.new(payload.board_size, payload.game_rules(), move_limit=payload.move_limit)


def test_too_many_games_are_refused_before_planning(client, headers, engine) -> None:  # noqa: F811
    body = tournament_config("huge", games_per_pairing=100, participants=[
        {"name": f"p{i}", "kind": "engine", "ref": "e1"} for i in range(50)])  # 1225 pairings: 122,500 games
    started = time.perf_counter()
    text = _refused(client, headers, engine, body, "ARENA_MAX_GAMES_PER_TOURNAMENT", "122500")
    assert time.perf_counter() - started < 2.0, "the count is arithmetic, not a plan"
    assert "100000" in text


def test_an_adaptive_tournament_without_budget_gets_the_servers(client, headers, engine) -> None:  # noqa: F811
    response = client.post("/tournaments", headers=headers["submit"], json=tournament_config(
        "adaptive-capped", format="adaptive", target_ci=1.0, games_per_pairing=None))
    assert response.status_code == 201, response.text
    assert response.json()["tournament"]["configuration"]["game_budget"] == 100_000


def test_too_many_players_are_refused(client, headers, engine) -> None:  # noqa: F811
    body = tournament_config("crowd", participants=[{"name": f"p{i}", "kind": "engine", "ref": "e1"}
                                                    for i in range(65)])
    _refused(client, headers, engine, body, "ARENA_MAX_PLAYERS_PER_TOURNAMENT", "65")


def test_visits_beyond_the_servers_limit_are_refused(client, headers, engine, nets) -> None:  # noqa: F811
    _refused(client, headers, engine, _searching("deep", nets, 16_385), "ARENA_MAX_VISITS", "16385")


def test_a_game_that_cannot_fit_a_worker_is_refused_at_creation(settings, headers, engine, nets) -> None:  # noqa: F811
    need = 2 * search_bytes_per_game(9, 16_384, pipeline_groups=2)  # two searching players, one game
    assert 64 * MIB < need < 4096 * MIB
    with app_with(settings, worker_memory_mb=64) as small:
        text = _refused(small, headers, engine, _searching("too-big-for-64", nets, 16_384),
                        "ARENA_WORKER_MEMORY_MB", "64 MiB")
    assert "need" in text


def test_blocks_are_cut_to_the_worker_memory_budget(settings, headers, engine, nets) -> None:  # noqa: F811
    per_game = 2 * search_bytes_per_game(9, 4096, pipeline_groups=2)  # about 55 MB: 4 games in 256 MiB
    sent: list[dict] = []
    with app_with(settings, sent, worker_memory_mb=256) as small:
        response = small.post("/tournaments", json=_searching("budgeted", nets, 4096, games_per_pairing=20),
                              headers=headers["submit"])
    assert response.status_code == 201, response.text
    assert response.json()["dispatched"] == 20
    payloads = [BlockPayload.model_validate(p) for p in sent]
    assert sum(len(p.games) for p in payloads) == 20
    assert max(len(p.games) for p in payloads) == 256 * MIB // per_game
    for payload in payloads:
        assert payload.search_bytes_at_once() <= 256 * MIB


class _Sink:
    """A sink that must not be reached: the block is refused before any lookup."""

    def finished_ids(self, ids):
        raise AssertionError("the sink was asked before the memory check")

    def record(self, game):
        raise AssertionError("a game was played")

    def tournament_status(self, tournament_id):
        raise AssertionError("the sink was asked before the memory check")


def test_a_worker_refuses_an_oversized_block_without_allocating(tmp_path, monkeypatch) -> None:
    def no(*args, **kwargs):
        raise AssertionError("allocated or loaded for an oversized block")

    monkeypatch.setattr(tasks, "evaluator_for", no)
    monkeypatch.setattr(tasks, "play_games", no)
    tasks.configure(tasks.WorkerContext(sink=_Sink(), checkpoint_root=tmp_path, engines={},
                                        memory_bytes=1024 * MIB))
    players = [{"kind": "checkpoint", "name": f"n{i}", "sha256": f"{i}" * 64, "search": {"visits": 1_000_000}}
               for i in range(2)]  # 3.2 GiB of tree per player and game
    payload = {"tournament_id": 1, "board_size": 9, "rules": "chinese", "komi": 7.5, "players": players,
               "games": [{"scheduled_game_id": i + 1, "black": "n0", "white": "n1", "seed": i} for i in range(32)]}
    try:
        with pytest.raises(Reject) as raised:
            tasks.play_block_task.run(payload)
    finally:
        tasks.configure(tasks.WorkerContext(sink=_Sink(), checkpoint_root=tmp_path, engines={}))
    assert raised.value.requeue is False
    assert "ARENA_WORKER_MEMORY_MB" in str(raised.value.reason)


class _PastTheChecks(Exception):
    pass


class _CheckedSink(_Sink):
    """The first thing a block asks after its checks is whether its tournament is cancelled."""

    def tournament_status(self, tournament_id):
        raise _PastTheChecks


@pytest.mark.parametrize("engine_processes, accepted", [(2, True), (16, False)])
def test_the_memory_check_counts_the_games_a_block_really_plays_at_once(tmp_path, engine_processes: int,
                                                                         accepted: bool) -> None:
    """A network against an engine plays no more games at once than the worker's engine processes
    seat; the search memory is checked for those, not for the whole block (or its concurrency)."""
    players = [{"kind": "checkpoint", "name": "net", "sha256": "a" * 64, "search": {"visits": 100_000}},
               {"kind": "engine", "name": "gnugo", "engine": "gnugo"}]
    payload = {"tournament_id": 1, "board_size": 9, "rules": "chinese", "komi": 7.5, "players": players,
               "games": [{"scheduled_game_id": i + 1, "black": "net", "white": "gnugo", "seed": i} for i in range(32)]}
    per_game, budget = BlockPayload.model_validate(payload).search_bytes_at_once(1), 1024 * MIB
    assert 2 * per_game < budget < 16 * per_game  # 2 games at once fit, 16 do not
    tasks.configure(tasks.WorkerContext(sink=_CheckedSink(), checkpoint_root=tmp_path, engines={},
                                        memory_bytes=budget, max_engine_processes=engine_processes))
    try:
        if accepted:
            with pytest.raises(_PastTheChecks):
                tasks._play_block(payload, time.perf_counter())
        else:
            with pytest.raises(tasks.BlockTooLargeError, match="ARENA_WORKER_MEMORY_MB"):
                tasks._play_block(payload, time.perf_counter())
    finally:
        tasks.configure(tasks.WorkerContext(sink=_Sink(), checkpoint_root=tmp_path, engines={}))


def test_planning_a_large_tournament_leaves_the_event_loop_free(client, headers, engine) -> None:  # noqa: F811
    """Creation plans in the thread pool: /healthz keeps answering while 20,000 games are planned."""
    created: dict = {}

    def create() -> None:
        started = time.perf_counter()
        created["response"] = client.post("/tournaments", headers=headers["submit"], json=tournament_config(
            "large-but-allowed", games_per_pairing=20_000))
        created["seconds"] = time.perf_counter() - started

    worker = threading.Thread(target=create)
    worker.start()
    latencies = []
    while worker.is_alive():
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        latencies.append(time.perf_counter() - started)
    worker.join()
    assert created["response"].status_code == 201, created["response"].text
    assert created["response"].json()["tournament"]["progress"]["scheduled"] == 20_000
    # A blocked loop would hold one /healthz for about the whole creation.
    assert len(latencies) >= 10 and max(latencies) < created["seconds"] / 2, (created["seconds"], max(latencies))


def test_grpc_refuses_the_same_oversized_tournament(settings, tokens, engine) -> None:  # noqa: F811
    """ScheduleTournament applies the HTTP API's limits: INVALID_ARGUMENT naming the setting."""
    sent: list[dict] = []
    server = serve(settings, 0, db_engine=engine, engines=server_engines(settings), send=sent.append)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    body = tournament_config("huge-over-grpc", games_per_pairing=100, participants=[
        {"name": f"p{i}", "kind": "engine", "ref": "e1"} for i in range(50)])
    before = _counts(engine)
    try:
        with pytest.raises(grpc.RpcError) as raised:
            arena_pb2_grpc.ArenaStub(channel).ScheduleTournament(
                arena_pb2.ScheduleTournamentRequest(config_json=json.dumps(body)),
                metadata=[("authorization", f"Bearer {tokens['submit']}")], timeout=10)
    finally:
        channel.close()
        server.stop(grace=None).wait()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ARENA_MAX_GAMES_PER_TOURNAMENT" in raised.value.details()
    assert _counts(engine) == before and sent == []


def test_pipeline_groups_setting_stays_within_what_the_memory_limits_assume() -> None:
    # Block payloads are sized for MAX_PIPELINE_GROUPS groups in flight (BlockPayload's memory
    # bound); ARENA_TRITON_PIPELINE_GROUPS may choose fewer, never more.
    from arena.settings import Settings
    from search_workers.schemas import MAX_PIPELINE_GROUPS

    assert Settings(database_url="x", triton_pipeline_groups=1).triton_pipeline_groups == 1
    for bad in (0, MAX_PIPELINE_GROUPS + 1):
        with pytest.raises(ValidationError, match="triton_pipeline_groups"):
            Settings(database_url="x", triton_pipeline_groups=bad)
