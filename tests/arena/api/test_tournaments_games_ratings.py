"""Tournaments (create + dispatch to the filesystem broker, list, progress, cancel), games
(filters, cursor pagination, per-move stats, SGF) and ratings over recorded results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from arena.db.connection import session_scope
from arena.db.models import Player, ScheduledGame, Tournament
from arena.db.repository import record_finished_game
from models.demo import demo_manifests
from models.manifest import read_manifest

OLD, NEW = demo_manifests()[0], demo_manifests()[-1]


@pytest.fixture(scope="module")
def tournament(client, auth, engine, settings) -> dict:  # noqa: F811
    for manifest in (OLD, NEW):
        assert client.post("/checkpoints", json={"path": str(manifest)}, headers=auth).status_code == 201
    config = {"name": "ladder", "format": "visits-ladder", "checkpoint": read_manifest(NEW).name, "visits": [4, 8],
              "participants": [{"name": "old@4", "kind": "checkpoint", "ref": read_manifest(OLD).name, "visits": 4}],
              "board_size": 9, "games_per_pairing": 4, "openings": {"source": "random", "plies": 2, "count": 4}}
    response = client.post("/tournaments", json=config, headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    # Every game was sent: the filesystem broker under ARENA_DATA_DIR holds the blocks.
    assert body["dispatched"] == body["tournament"]["progress"]["scheduled"] == 12 and body["dispatch_error"] is None
    assert list((settings.broker_dir() / "queue").iterdir())
    with session_scope(engine) as session:
        games = session.scalars(select(ScheduledGame).order_by(ScheduledGame.id)).all()
        assert all(g.dispatched_at is not None for g in games)
        names = dict(session.execute(select(Player.id, Player.name)).all())
        for i, game in enumerate(games):  # the stronger network and more visits win; one draw
            black, white = names[game.black_player_id], names[game.white_player_id]
            strength = {"old@4": 0, f"{read_manifest(NEW).name}@4v": 1, f"{read_manifest(NEW).name}@8v": 2}
            result = "0" if i == 0 else "B+R" if strength[black] > strength[white] or (i % 5 == 0) else "W+R"
            stats = [{"visits": 4, "root_value": 0.1, "policy_entropy": 1.0, "time_s": 0.01}] * 2
            record_finished_game(session, scheduled_game_id=game.id, result=result, move_count=2, duration_s=1.0,
                                 sgf=f"(;GM[1]FF[4]SZ[9]RE[{result}];B[ee];W[cc])", move_stats=stats,
                                 worker="test", software_version="test")
    return body["tournament"]


def test_create_refusals_store_nothing(client, auth, engine, tournament) -> None:  # noqa: F811
    bad = [({"name": "x", "format": "round-robin", "participants": [
              {"name": "a", "kind": "checkpoint", "ref": "no-such-net", "visits": 4},
              {"name": "b", "kind": "engine", "ref": "gnugo-l1"}]}, "no registered checkpoint named 'no-such-net'"),
           ({"name": "y", "format": "round-robin", "participants": [
              {"name": "a", "kind": "engine", "ref": "gnugo-l1"},
              {"name": "b", "kind": "engine", "ref": "big-only"}]}, "cannot play board size 9"),
           ({"name": "ladder", "format": "round-robin", "participants": [
              {"name": "a", "kind": "engine", "ref": "gnugo-l1"},
              {"name": "b", "kind": "engine", "ref": "gnugo-l1"}]}, "already exists")]
    for config, message in bad:
        response = client.post("/tournaments", json=config, headers=auth)
        assert response.status_code == 422 and message in response.json()["detail"][0]["msg"], response.text
    invalid = client.post("/tournaments", json={"name": "z", "format": "round-robin", "board_size": 42}, headers=auth)
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "board_size"]
    with session_scope(engine) as session:
        assert session.scalars(select(Tournament.name)).all() == ["ladder"]


def test_two_participants_that_are_one_player_are_refused_naming_both(
        client, auth, engine, tournament) -> None:  # noqa: F811
    old = read_manifest(OLD)
    sha256 = next(c["sha256"] for c in client.get("/checkpoints", headers=auth).json() if c["name"] == old.name)
    for config, first, second in (
        ({"name": "dup", "format": "round-robin", "participants": [
            {"name": "old-a@4", "kind": "checkpoint", "ref": old.name, "visits": 4},
            {"name": "gnu", "kind": "engine", "ref": "gnugo-l1"},
            {"name": "old-b@4", "kind": "checkpoint", "ref": sha256, "visits": 4}]},  # one checkpoint, two refs
         ("old-a@4", old.name), ("old-b@4", sha256)),
        ({"name": "dup", "format": "round-robin", "participants": [
            {"name": "gnu-1", "kind": "engine", "ref": "gnugo-l1"},
            {"name": "gnu-2", "kind": "engine", "ref": "gnugo-l1"}]}, ("gnu-1", "gnugo-l1"), ("gnu-2", "gnugo-l1")),
    ):
        response = client.post("/tournaments", json=config, headers=auth)
        assert response.status_code == 422, response.text
        message = response.json()["detail"][0]["msg"]
        for name, ref in (first, second):
            assert repr(name) in message and repr(ref) in message, message
        assert "existing player" not in message
    with session_scope(engine) as session:
        assert "dup" not in session.scalars(select(Tournament.name)).all()
        assert not session.scalars(select(Player.name).where(Player.name.in_(["old-a@4", "gnu-1"]))).all()


def test_tournament_list_get_cancel(client, auth, tournament) -> None:
    assert [t["name"] for t in client.get("/tournaments").json()] == ["ladder"]
    one = client.get("/tournaments/ladder").json()
    assert one["progress"]["finished"] == 12 and "eta_s" in one["progress"]
    assert one["configuration"]["format"] == "visits-ladder"
    assert client.get(f"/tournaments/{tournament['progress']['tournament_id']}").json() == one
    assert client.get("/tournaments/nope").status_code == 404
    assert client.post("/tournaments/nope/cancel", headers=auth).status_code == 404
    cancelled = client.post("/tournaments/ladder/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["progress"]["status"] == "cancelled"


def test_engines_are_listed_by_name(client) -> None:
    engines = client.get("/engines").json()
    assert [e["name"] for e in engines] == ["big-only", "gnugo-l1"]
    assert engines[0] == {"name": "big-only", "kind": "command", "board_sizes": [19]}


def test_game_pages_are_stable_and_complete(client, tournament) -> None:
    everything = client.get("/games", params={"limit": 500}).json()
    ids = [g["id"] for g in everything["games"]]
    assert len(ids) == 12 and ids == sorted(ids, reverse=True) and everything["next_cursor"] is None
    seen, cursor = [], None
    while True:
        page = client.get("/games", params={"limit": 5, **({"cursor": cursor} if cursor else {})}).json()
        seen += [g["id"] for g in page["games"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert client.get("/games", params={"limit": 5, "cursor": cursor}).json() == \
            client.get("/games", params={"limit": 5, "cursor": cursor}).json()
    assert seen == ids


def test_game_filters(client, tournament) -> None:
    new = read_manifest(NEW).name
    def ids(**params):
        response = client.get("/games", params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        return {g["id"] for g in response.json()["games"]}
    old_games = ids(player="old@4")
    assert len(old_games) == 8
    against = ids(player="old@4", opponent=f"{new}@8v")
    assert len(against) == 4 and against < old_games
    assert len(ids(result="draw")) == 1 and ids(result="0") == ids(result="draw")
    assert ids(result="black") | ids(result="white") | ids(result="draw") == ids()
    assert ids(tournament="ladder") == ids() == ids(tournament=str(tournament["progress"]["tournament_id"]))
    now = datetime.now(UTC)
    assert ids(since=(now - timedelta(hours=1)).isoformat()) == ids()
    assert ids(until=(now - timedelta(hours=1)).isoformat()) == set()


@pytest.mark.parametrize("params, loc", [
    ({"limit": 501}, ["query", "limit"]),
    ({"limit": 0}, ["query", "limit"]),
    ({"cursor": "garbage!"}, ["query", "cursor"]),
    ({"result": "B+banana"}, ["query", "result"]),
    ({"opponent": "x"}, ["query", "opponent"]),
    ({"since": "yesterday"}, ["query", "since"]),
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, ["query", "until"]),
])
def test_bad_game_filters_are_422_naming_the_field(client, params, loc) -> None:
    response = client.get("/games", params=params)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == loc, response.text


def test_game_detail_and_sgf(client, tournament) -> None:
    game_id = client.get("/games", params={"limit": 1}).json()["games"][0]["id"]
    game = client.get(f"/games/{game_id}").json()
    assert game["summary"]["id"] == game_id and len(game["move_stats"]) == 2 and game["move_stats"][0]["visits"] == 4
    assert game["pairing"] and "worker" not in game  # the worker's host and pid stay in the database
    sgf = client.get(f"/games/{game_id}.sgf")
    assert sgf.status_code == 200 and sgf.headers["content-type"].startswith("application/x-go-sgf")
    assert sgf.text.startswith("(;GM[1]") and f"RE[{game['summary']['result']}]" in sgf.text
    assert client.get("/games/999999").status_code == 404
    assert client.get("/games/999999.sgf").status_code == 404
    assert client.get("/games/abc").status_code == 422


def test_ratings(client, tournament) -> None:
    new = read_manifest(NEW).name
    board = client.get("/ratings/leaderboard", params={"tournament": "ladder", "board_size": 9}).json()
    assert board["game_set"]["games"] == 12
    assert [p["name"] for p in board["players"]][0] == f"{new}@8v"
    assert client.get("/ratings/leaderboard").json()["game_set"] == board["game_set"]
    assert client.get("/ratings/leaderboard", params={"board_size": 19}).json()["game_set"]["games"] == 0
    assert client.get("/ratings/leaderboard", params={"board_size": 1}).status_code == 422
    assert client.get("/ratings/leaderboard", params={"tournament": "nope"}).status_code == 404
    h2h = client.get("/ratings/head-to-head").json()
    assert len(h2h["head_to_head"]) == 3 and h2h["head_to_head"] == board["head_to_head"]
    curves = client.get("/ratings/elo-vs-visits").json()["visits_curves"]
    assert [p["visits"] for p in curves[new]] == [4, 8]
    run = read_manifest(NEW).run_name
    steps = client.get(f"/ratings/runs/{run}/elo-vs-step").json()["points"]
    assert [(p["checkpoint"], p["player"]) for p in steps] == [
        (read_manifest(OLD).name, "old@4"), (new, f"{new}@4v"), (new, f"{new}@8v")]
    assert steps[0]["training_step"] < steps[1]["training_step"]
    # Each point carries its player's estimability flag, as the leaderboard's row does, with the legend.
    everyone = {p["name"]: p["flag"] for p in client.get("/ratings/leaderboard").json()["players"]}
    assert {p["player"]: p["flag"] for p in steps} == {p["player"]: everyone[p["player"]] for p in steps}
    assert client.get("/ratings/runs/no-such-run/elo-vs-step").status_code == 404
    # A checkpoint shows the ratings of the players it plays as.
    detail = client.get(f"/checkpoints/{new}").json()
    assert {p["name"] for p in detail["players"]} == {f"{new}@4v", f"{new}@8v"}
    assert all(p["elo"] is not None and p["games"] == 8 for p in detail["players"])


def test_healthz(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
