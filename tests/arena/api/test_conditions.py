"""Rating pools are keyed by conditions (board size, rules, komi): through the HTTP API, gRPC and
the metrics, on a real PostgreSQL. The same three players play on 9x9 (most games), on 19x19 and
on 9x9 at another komi; no leaderboard ever mixes the pools."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import grpc
import pytest

from arena.db import repository as repo
from arena.db.connection import session_factory, session_scope
from arena.db.models import Tournament
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import bearer_tokens, serve
from arena.metrics import DatabaseCollector
from arena.settings import Settings
from arena.tokens import create_token
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

NINE, BIG, KOMI = "9x9 chinese komi 7.5", "19x19 chinese komi 7.5", "9x9 chinese komi 6.5"
PLAYERS = ["ckA@16v", "ckA@64v", "ckB"]
# (configuration, games as (black, white, result)): 8 games on 9x9, 4 on 19x19, 2 at komi 6.5.
POOLS = {
    "nine": ({"board_size": 9, "rules": "chinese", "komi": 7.5},
             [("ckA@64v", "ckA@16v", "B+R"), ("ckA@16v", "ckA@64v", "W+2.5"), ("ckB", "ckA@64v", "W+R"),
              ("ckA@64v", "ckB", "B+0.5"), ("ckB", "ckA@16v", "B+R"), ("ckA@16v", "ckB", "B+3.5"),
              ("ckA@64v", "ckA@16v", "W+R"), ("ckB", "ckA@64v", "0")]),
    "big": ({"board_size": 19, "rules": "chinese", "komi": 7.5},
            [("ckB", "ckA@64v", "B+R"), ("ckA@64v", "ckB", "W+10.5"), ("ckA@16v", "ckA@64v", "W+R"),
             ("ckA@64v", "ckA@16v", "B+R")]),
    "komi": ({"board_size": 9, "rules": "chinese", "komi": 6.5},
             [("ckA@16v", "ckB", "W+R"), ("ckB", "ckA@16v", "B+R")]),
}


@pytest.fixture(scope="module")
def stored(engine) -> dict[str, int]:  # noqa: F811
    """The three tournaments, running (the metrics show running ones), their ids by name."""
    ids = {}
    with session_scope(engine) as s:
        checkpoints = {name: repo.get_or_create_checkpoint(s, sha256=hashlib.sha256(name.encode()).hexdigest(),
                                                           name=name, run_name="run", training_step=i)
                       for i, name in enumerate(("ckA", "ckB"))}
        players = {name: repo.get_or_create_player(s, name=name, checkpoint_id=checkpoints[name.partition("@")[0]].id,
                                                   search_settings={"visits": int(name.partition("@")[2][:-1] or 8)}).id
                   for name in PLAYERS}
        for name, (configuration, games) in POOLS.items():
            t = repo.create_tournament(s, name=name, format="round-robin", configuration=configuration)
            t.status = "running"
            ids[name] = t.id
            specs = [repo.GameSpec(pairing=f"{b} vs {w}", game_index=i, black_player_id=players[b],
                                   white_player_id=players[w], seed=i) for i, (b, w, _) in enumerate(games)]
            for game_id, (_, _, result) in zip(repo.schedule_games(s, tournament_id=t.id, games=specs), games,
                                                strict=True):
                repo.record_finished_game(s, scheduled_game_id=game_id, result=result, move_count=3, duration_s=1.0,
                                          sgf="(;GM[1]FF[4]SZ[9])")
    return ids


def _games(board: dict) -> int:
    """Games counted through the players' records: each game counts for both of its players."""
    return sum(p["games"] for p in board["players"]) // 2


def test_tournaments_record_their_condition(engine, stored) -> None:  # noqa: F811
    with session_scope(engine) as s:
        assert {t.name: t.condition for t in s.query(Tournament)} == {"nine": NINE, "big": BIG, "komi": KOMI}


def test_the_default_leaderboard_is_the_most_played_condition_only(client, stored) -> None:  # noqa: F811
    board = client.get("/ratings/leaderboard").json()
    assert board["condition"] == NINE
    assert board["conditions"] == [{"condition": NINE, "games": 8}, {"condition": BIG, "games": 4},
                                   {"condition": KOMI, "games": 2}]
    assert board["game_set"]["games"] == 8 and _games(board) == 8
    assert sum(r["wins"] + r["losses"] + r["draws"] for r in board["head_to_head"]) == 8
    # Asked for by name: the very same leaderboard (one cache entry).
    assert client.get("/ratings/leaderboard", params={"condition": NINE}).json() == board


def test_each_condition_is_its_own_pool_and_the_counts_never_mix(client, stored) -> None:  # noqa: F811
    boards = {c: client.get("/ratings/leaderboard", params={"condition": c}).json() for c in (NINE, BIG, KOMI)}
    for condition, (_, games) in zip((NINE, BIG, KOMI), POOLS.values(), strict=True):
        board = boards[condition]
        assert board["condition"] == condition and board["game_set"]["games"] == len(games) == _games(board)
    # A player holds a rating in each pool it played in, fitted on that pool's games only.
    ckb = {c: next(p for p in boards[c]["players"] if p["name"] == "ckB") for c in boards}
    assert [ckb[c]["games"] for c in (NINE, BIG, KOMI)] == [5, 2, 2]
    assert len({b["game_set"]["sha256"] for b in boards.values()}) == 3
    # The board size narrows the default: 19x19's only pool.
    assert client.get("/ratings/leaderboard", params={"board_size": 19}).json()["condition"] == BIG
    # A tournament is one condition.
    big = client.get("/ratings/leaderboard", params={"tournament": "big"}).json()
    assert big["condition"] == BIG and big["conditions"] == [{"condition": BIG, "games": 4}]
    assert big["game_set"] == boards[BIG]["game_set"]


@pytest.mark.parametrize("route", ["/ratings/leaderboard", "/ratings/head-to-head", "/ratings/elo-vs-visits",
                                   "/ratings/runs/run/elo-vs-step"])
def test_an_unknown_condition_is_refused_naming_it(client, stored, route) -> None:  # noqa: F811
    unknown = client.get(route, params={"condition": "13x13 chinese komi 7.5"})
    assert unknown.status_code == 404 and "13x13 chinese komi 7.5" in unknown.json()["detail"]
    assert NINE in unknown.json()["detail"]  # the known ones are listed
    bad = client.get(route, params={"condition": "nine by nine"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "condition"]
    other = client.get(route, params={"tournament": "big", "condition": NINE})
    assert other.status_code == 404  # not that tournament's condition


def test_head_to_head_and_curves_are_per_condition(client, stored) -> None:  # noqa: F811
    for condition, (_, games) in zip((NINE, BIG, KOMI), POOLS.values(), strict=True):
        h2h = client.get("/ratings/head-to-head", params={"condition": condition}).json()
        assert h2h["condition"] == condition and h2h["conditions"][0]["condition"] == NINE
        assert sum(r["wins"] + r["losses"] + r["draws"] for r in h2h["head_to_head"]) == len(games)
    curves = client.get("/ratings/elo-vs-visits").json()
    assert curves["condition"] == NINE and [p["visits"] for p in curves["visits_curves"]["ckA"]] == [16, 64]
    big = client.get("/ratings/elo-vs-visits", params={"condition": BIG}).json()
    assert big["condition"] == BIG and big["visits_curves"]["ckA"] != curves["visits_curves"]["ckA"]
    assert client.get("/ratings/elo-vs-visits", params={"condition": KOMI}).json()["visits_curves"] == {}
    steps = client.get("/ratings/runs/run/elo-vs-step", params={"condition": BIG}).json()
    assert steps["condition"] == BIG and {p["games"] for p in steps["points"] if p["player"] == "ckB"} == {2}


def test_a_checkpoint_shows_its_rating_in_every_pool(client, stored) -> None:  # noqa: F811
    players = client.get("/checkpoints/ckB").json()["players"]
    assert {(p["condition"], p["games"]) for p in players} == {(NINE, 5), (BIG, 2), (KOMI, 2)}
    assert all(p["name"] == "ckB" and p["elo"] is not None for p in players)
    for p in players:  # the estimability flag of each pool's leaderboard, where the number comes from
        board = client.get("/ratings/leaderboard", params={"condition": p["condition"]}).json()
        assert "flag" in p and p["flag"] == next(s["flag"] for s in board["players"] if s["name"] == "ckB")


@pytest.fixture(scope="module")
def stub(settings: Settings, engine, stored) -> Iterator[tuple[arena_pb2_grpc.ArenaStub, list]]:  # noqa: F811
    with session_scope(engine) as session:
        auth = [("authorization", f"Bearer {create_token(session, name='conditions').token}")]
    server = serve(settings, 0, host="127.0.0.1", db_engine=engine, authorize=bearer_tokens(engine), poll_s=0.05,
                   engines={})
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield arena_pb2_grpc.ArenaStub(channel), auth
    finally:
        channel.close()
        server.stop(grace=None).wait()


def test_grpc_leaderboard_per_condition(stub) -> None:
    api, auth = stub
    default = api.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), metadata=auth, timeout=10)
    assert default.condition == NINE and default.games == 8
    assert [(c.condition, c.games) for c in default.conditions] == [(NINE, 8), (BIG, 4), (KOMI, 2)]
    big = api.GetLeaderboard(arena_pb2.GetLeaderboardRequest(condition=BIG), metadata=auth, timeout=10)
    assert big.condition == BIG and big.games == 4 and sum(p.games for p in big.players) == 8
    for condition, code in (("13x13 chinese komi 7.5", grpc.StatusCode.NOT_FOUND),
                            ("nine", grpc.StatusCode.INVALID_ARGUMENT)):
        with pytest.raises(grpc.RpcError) as info:
            api.GetLeaderboard(arena_pb2.GetLeaderboardRequest(condition=condition), metadata=auth, timeout=10)
        assert info.value.code() == code and condition in info.value.details()
    watch = api.WatchRatings(arena_pb2.WatchRatingsRequest(tournament_id=1, condition=BIG), metadata=auth, timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        next(watch)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND  # tournament 1 is the 9x9 one


def test_metrics_label_elo_with_the_condition(engine, stored) -> None:  # noqa: F811
    samples = [s for family in DatabaseCollector(session_factory(engine)).collect()
               if family.name == "arena_player_elo" for s in family.samples]
    assert {(s.labels["pool"], s.labels["condition"]) for s in samples} == {("nine", NINE), ("big", BIG),
                                                                             ("komi", KOMI)}
