"""The API under load (issue 6 item 8, bounded): the bulk loader, the leaderboard cache, cursor
pages over a loaded database, and `benchmark_api` (the real API process, concurrent clients).

Timings are printed, never asserted: the machine is shared. What is asserted is correctness:
no errors or 5xx under load, the cached leaderboard is refitted exactly when a game is added,
and cursor pages cover every matching game once.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select, text

from arena.benchmarks.api import benchmark_api, load_games
from arena.db.connection import session_scope
from arena.db.models import FinishedGame, Player, ScheduledGame, Tournament
from arena.db.repository import record_finished_game

GAMES = 3000


@pytest.fixture(scope="module")
def loaded(db_url, engine):  # noqa: F811 -- the API conftest's fresh database
    return load_games(db_url, GAMES, seed=3)


def test_loader_stores_realistic_finished_games(loaded, engine) -> None:  # noqa: F811
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(FinishedGame)) == GAMES
        assert conn.scalar(select(func.count()).select_from(Player)) == len(loaded.players) == 20
        assert conn.scalar(select(func.sum(Tournament.games_finished))) == GAMES
        sgf, stats, moves = conn.execute(select(FinishedGame.sgf, FinishedGame.move_stats, FinishedGame.move_count)
                                         .limit(1)).one()
        assert sgf.startswith("(;GM[1]") and sgf.count(";B[") + sgf.count(";W[") == moves == len(stats)
        assert set(stats[0]) == {"visits", "root_value", "policy_entropy", "time_s"}
        # The database's own result constraint accepted every generated result; the mix is realistic.
        kinds = dict(conn.execute(text("SELECT left(result, 2), count(*) FROM finished_games GROUP BY 1")).all())
        assert kinds["B+"] > GAMES / 4 and kinds["W+"] > GAMES / 4
    with pytest.raises(ValueError, match="already holds games"):
        load_games(str(engine.url.render_as_string(hide_password=False)), 10)


def test_leaderboard_is_cached_until_a_game_is_added(client, loaded, engine, settings) -> None:  # noqa: F811
    """Refitted only when a game has been added, which is checked at most every
    api_leaderboard_max_age_s: a game is in the leaderboard no later than that after it is stored."""
    max_age = settings.api_leaderboard_max_age_s
    assert 0 < max_age <= 5
    checked = time.monotonic()  # no later than the key's read: its age is at most now - checked
    first = client.get("/ratings/leaderboard")
    assert first.status_code == 200
    cache = client.app.state.leaderboards
    fits = cache.fits
    with engine.connect() as conn:
        rated = conn.scalar(select(func.count()).select_from(FinishedGame).where(FinishedGame.result != "Void"))
    assert first.json()["game_set"]["games"] == rated and len(first.json()["players"]) == 20
    assert client.get("/ratings/leaderboard").json() == first.json() and cache.fits == fits
    assert client.get("/ratings/head-to-head").status_code == 200 and cache.fits == fits
    per_tournament = client.get("/ratings/leaderboard", params={"tournament": loaded.tournaments[0]}).json()
    assert per_tournament["game_set"]["games"] < rated and cache.fits == fits + 1
    # A game added through the repository: a request after max_age refits, with that game in.
    with session_scope(engine) as session:
        t = session.scalar(select(Tournament).where(Tournament.name == loaded.tournaments[1]))
        black, white = session.scalars(select(Player.id).order_by(Player.id).limit(2)).all()
        game = ScheduledGame(tournament_id=t.id, pairing="extra", game_index=0, black_player_id=black,
                             white_player_id=white, seed=1)
        session.add(game)
        t.games_scheduled += 1
        session.flush()
        record_finished_game(session, scheduled_game_id=game.id, result="B+R", move_count=2, duration_s=1.0,
                             sgf="(;GM[1]FF[4]SZ[9]RE[B+R];B[ee];W[cc])", worker="t", software_version="t")
    stored = time.monotonic()
    if time.monotonic() - checked < max_age * 0.8:  # still within the last check's max age: not seen yet
        assert client.get("/ratings/leaderboard").json() == first.json() and cache.fits == fits + 1
    time.sleep(max(0.0, max_age - (time.monotonic() - stored)) + 0.05)
    after = client.get("/ratings/leaderboard").json()
    assert after["game_set"]["games"] == rated + 1 and after["game_set"]["sha256"] != first.json()["game_set"]["sha256"]
    assert cache.fits == fits + 2
    assert client.get("/ratings/leaderboard").json() == after and cache.fits == fits + 2


@pytest.mark.parametrize("params", [{"player": "gnugo-l4"}, {"player": "gnugo-l1", "opponent": "gnugo-l10"},
                                    {"tournament": "bench-t2", "result": "resign"}, {"result": "draw"}])
def test_cursor_pages_cover_each_matching_game_once(client, loaded, params) -> None:
    seen, cursor = [], None
    while True:
        response = client.get("/games", params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [g["id"] for g in page["games"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) and seen
    everything = client.get("/games", params={**params, "limit": 500}).json()
    if everything["next_cursor"] is None:
        assert [g["id"] for g in everything["games"]] == seen


def test_bench_api_under_concurrent_clients(admin_url) -> None:  # noqa: F811
    """20,000 games, 10 clients for 5 s on the real API process: no errors; figures printed."""
    result = benchmark_api(games=20_000, clients=10, seconds=5.0, server_url=admin_url)
    print("\nbench api (20k games, 10 clients, 5 s; shared machine, noisy):", json.dumps(result))
    assert result["bench"] == "api" and result["errors"] == 0, result["error_samples"]
    assert result["leaderboard_requests"] > 0 and result["games_requests"] > 0
    assert 0 < result["leaderboard_p50_ms"] <= result["leaderboard_p99_ms"]
    assert 0 < result["games_p50_ms"] <= result["games_p99_ms"]
