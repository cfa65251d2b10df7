"""One leaderboard service per process (`arena.leaderboards`): the HTTP API, gRPC GetLeaderboard,
the checkpoint page and the Prometheus collector share one cache, so a fit made for one face
answers the others, and a newly stored game makes each of them see it (one refit per pool).

Real components on a real PostgreSQL: the app, a gRPC server on a free port and the `/metrics`
scrape, all built on one `ArenaContext`; fits are counted by the service.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import grpc
import pytest
from fastapi.testclient import TestClient

from arena.api import create_app
from arena.context import ArenaContext
from arena.db import repository as repo
from arena.db.connection import session_scope
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import allow_all, serve
from arena.leaderboards import RatingPolicy
from arena.settings import Settings
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

NINE = "9x9 chinese komi 7.5"
PLAYERS = ("ckA", "ckB", "ckC")
GAMES = [("ckA", "ckB", "B+R"), ("ckB", "ckC", "W+2.5"), ("ckC", "ckA", "B+R"), ("ckA", "ckC", "W+R"),
         ("ckB", "ckA", "0"), ("ckC", "ckB", "B+0.5")]


@pytest.fixture(scope="module")
def stored(engine) -> dict[str, int]:  # noqa: F811
    """One running 9x9 tournament of three checkpoints; the ids of the tournament and the players."""
    with session_scope(engine) as s:
        ids = {name: repo.get_or_create_player(
            s, name=name, search_settings={"visits": 8},
            checkpoint_id=repo.get_or_create_checkpoint(s, sha256=hashlib.sha256(name.encode()).hexdigest(),
                                                        name=name).id).id for name in PLAYERS}
        t = repo.create_tournament(s, name="solo", format="round-robin",
                                   configuration={"board_size": 9, "rules": "chinese", "komi": 7.5})
        t.status = "running"  # the metrics show running tournaments
        ids["solo"] = t.id
        _play(s, t.id, ids, GAMES, first_index=0)
    return ids


def _play(session, tournament_id: int, ids: dict[str, int], games, *, first_index: int) -> None:
    specs = [repo.GameSpec(pairing=f"{b} vs {w}", game_index=first_index + i, black_player_id=ids[b],
                           white_player_id=ids[w], seed=i) for i, (b, w, _) in enumerate(games)]
    for game_id, (_, _, result) in zip(repo.schedule_games(session, tournament_id=tournament_id, games=specs), games,
                                        strict=True):
        repo.record_finished_game(session, scheduled_game_id=game_id, result=result, move_count=3, duration_s=1.0,
                                  sgf="(;GM[1]FF[4]SZ[9])")


@pytest.fixture(scope="module")
def context(settings: Settings) -> ArenaContext:
    # Keys read on every request: a stored game is seen by the very next one.
    return ArenaContext.from_settings(settings.model_copy(update={"api_leaderboard_max_age_s": 0.0}), engines={},
                                      send=lambda payload: None)


@pytest.fixture(scope="module")
def faces(context: ArenaContext, engine, stored) -> Iterator[tuple[TestClient, arena_pb2_grpc.ArenaStub]]:  # noqa: F811
    """The HTTP app (with its /metrics collector) and a gRPC server, on one context."""
    server = serve(context.settings, 0, host="127.0.0.1", authorize=allow_all, context=context)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        with TestClient(create_app(context=context)) as client:
            yield client, arena_pb2_grpc.ArenaStub(channel)
    finally:
        channel.close()
        server.stop(grace=None).wait()


def _scraped_elo(client: TestClient) -> dict[str, float]:
    """arena_player_elo of tournament `solo`'s players, from a /metrics scrape."""
    out = {}
    for line in client.get("/metrics").text.splitlines():
        sample = re.fullmatch(r"arena_player_elo\{(?P<labels>[^}]*)\} (?P<value>\S+)", line)
        if sample is not None:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', sample["labels"]))
            if labels["pool"] == "solo":
                out[labels["player"]] = float(sample["value"])
    return out


def _faces_agree(client: TestClient, api: arena_pb2_grpc.ArenaStub, tournament_id: int, games: int) -> None:
    """Every face shows the leaderboard of `games` games, each the same fit."""
    every = client.get("/ratings/leaderboard").json()
    solo = client.get("/ratings/leaderboard", params={"tournament": "solo"}).json()
    assert every["condition"] == solo["condition"] == NINE
    assert every["game_set"]["games"] == solo["game_set"]["games"] == games
    rpc_every = api.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), timeout=10)
    rpc_solo = api.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=tournament_id), timeout=10)
    assert rpc_every.game_set_sha256 == every["game_set"]["sha256"] and rpc_every.games == games
    assert rpc_solo.game_set_sha256 == solo["game_set"]["sha256"]
    elo = {p["name"]: p["elo"] for p in every["players"]}
    assert {p.name: p.elo for p in rpc_every.players} == pytest.approx(elo)
    page = client.get("/checkpoints/ckA").json()["players"]
    assert [(p["condition"], p["elo"]) for p in page] == [(NINE, pytest.approx(elo["ckA"]))]
    assert _scraped_elo(client) == pytest.approx({p["name"]: p["elo"] for p in solo["players"]})


def test_one_fit_per_game_set_answers_every_face(faces, context, engine, stored) -> None:  # noqa: F811
    client, api = faces
    service = context.leaderboards
    assert client.app.state.leaderboards is service
    before = service.fits
    _faces_agree(client, api, stored["solo"], len(GAMES))
    # Two pools were asked for (every game's and the tournament's, each of one condition): two
    # fits, whichever face asked first; gRPC, the checkpoint page and the scrape fitted nothing.
    assert service.fits == before + 2
    _faces_agree(client, api, stored["solo"], len(GAMES))
    assert service.fits == before + 2

    with session_scope(engine) as s:  # a new game: every face sees it, each pool refitted once
        _play(s, stored["solo"], stored, [("ckA", "ckB", "W+R")], first_index=len(GAMES))
    _faces_agree(client, api, stored["solo"], len(GAMES) + 1)
    assert service.fits == before + 4


def test_a_new_game_seen_first_by_grpc_is_fitted_once_for_all(faces, context, engine, stored) -> None:  # noqa: F811
    client, api = faces
    service = context.leaderboards
    with session_scope(engine) as s:
        _play(s, stored["solo"], stored, [("ckC", "ckA", "B+R")], first_index=len(GAMES) + 1)
    before = service.fits
    board = api.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=stored["solo"]), timeout=10)
    assert board.games == len(GAMES) + 2 and service.fits == before + 1
    assert _scraped_elo(client) == pytest.approx({p.name: p.elo for p in board.players})
    assert client.get("/ratings/leaderboard", params={"tournament": "solo"}).json()["game_set"]["sha256"] == \
        board.game_set_sha256
    assert service.fits == before + 1


def test_a_new_game_seen_first_by_the_scrape_and_the_checkpoint_page(faces, context, engine,  # noqa: F811
                                                                     stored) -> None:
    """The faces that fit through the service count their fits there: a fit made for the scrape
    (the tournament's pool) and for the checkpoint page (every game's) answers the API and gRPC."""
    client, api = faces
    service = context.leaderboards
    with session_scope(engine) as s:
        _play(s, stored["solo"], stored, [("ckB", "ckC", "B+R")], first_index=len(GAMES) + 2)
    before = service.fits
    scraped = _scraped_elo(client)
    assert service.fits == before + 1
    page = client.get("/checkpoints/ckB").json()["players"]
    assert service.fits == before + 2
    _faces_agree(client, api, stored["solo"], len(GAMES) + 3)
    assert service.fits == before + 2
    assert scraped == _scraped_elo(client) and page == client.get("/checkpoints/ckB").json()["players"]


def test_the_policy_is_built_once_from_settings(context, faces) -> None:
    client, _ = faces
    policy = context.leaderboards.policy
    assert policy == RatingPolicy.from_settings(context.settings) and policy.reference is None
    # What every leaderboard reports as its parameters is the policy's fit arguments.
    assert client.get("/ratings/leaderboard").json()["parameters"] == policy.fit_arguments() == {
        "anchor": None, "anchor_elo": 0.0, "bootstrap": 0, "seed": 0, "colour_advantage": True,
        "prior_games": 2.0, "bias_reduction": True, "draw_model": "half"}
    with pytest.raises(AttributeError):
        policy.anchor = "ckA"  # frozen: one policy per process
