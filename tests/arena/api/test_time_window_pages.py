"""GET /games with a time window (since, until): pages by descending finish time, then id.

A window's games are one range of the finish-time index in that order. By id, the window of a
first day among a million games sat below every newer game and PostgreSQL walked them all to
reach it (0.74 s; `game_queries.PageMark`). Here finish times are shuffled against ids, so that
the two orders differ, and every page is checked against the database's own answer.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from arena.benchmarks.api import load_games

GAMES = 600


@pytest.fixture(scope="module")
def loaded(db_url, engine):  # noqa: F811 -- the API conftest's fresh database
    data = load_games(db_url, GAMES, seed=5)
    with engine.begin() as conn:  # finish times no longer follow ids: the two orders differ
        conn.execute(text("UPDATE finished_games SET finished_at = :first + "
                          "((scheduled_game_id * 7919) % 1000) * interval '1 hour'"), {"first": data.first_finished_at})
    return data


def _windows(loaded) -> list[dict]:
    first = loaded.first_finished_at
    a, b = loaded.players[0], loaded.players[-1]
    day = lambda n: (first + timedelta(hours=n)).isoformat()  # noqa: E731
    return [{"since": day(500)}, {"until": day(100)}, {"since": day(200), "until": day(300)},
            {"until": day(700), "player": a}, {"since": day(50), "player": a, "opponent": b},
            {"since": day(100), "until": day(900), "tournament": loaded.tournaments[0], "result": "black"},
            {"until": day(600), "result": "draw"}, {"until": day(30), "result": "resign"}]


def _expected(engine, loaded, params) -> list[tuple[datetime, int]]:
    """(finish time, id) of every matching game, newest finish first: the database's answer."""
    conditions, values = ["TRUE"], {}
    if "since" in params:
        conditions.append("f.finished_at >= :since")
        values["since"] = datetime.fromisoformat(params["since"])
    if "until" in params:
        conditions.append("f.finished_at < :until")
        values["until"] = datetime.fromisoformat(params["until"])
    if "player" in params:
        conditions.append(":player IN (b.name, w.name)")
        values["player"] = params["player"]
    if "opponent" in params:
        conditions.append(":opponent IN (b.name, w.name)")
        values["opponent"] = params["opponent"]
    if "tournament" in params:
        conditions.append("t.name = :tournament")
        values["tournament"] = params["tournament"]
    if params.get("result") == "black":
        conditions.append("f.result LIKE 'B+%'")
    if params.get("result") == "draw":
        conditions.append("f.result = '0'")
    if params.get("result") == "resign":
        conditions.append("f.result IN ('B+R', 'W+R')")
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT f.finished_at, f.scheduled_game_id FROM finished_games f JOIN players b ON b.id = f.black_player_id "
            "JOIN players w ON w.id = f.white_player_id JOIN tournaments t ON t.id = f.tournament_id WHERE "
            + " AND ".join(conditions) + " ORDER BY f.finished_at DESC, f.scheduled_game_id DESC"), values)]


def _pages(client, params, limit) -> list[tuple[datetime, int]]:
    seen, cursor = [], None
    while True:
        response = client.get("/games", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, (params, response.text)
        page = response.json()
        seen += [(datetime.fromisoformat(g["finished_at"]), g["id"]) for g in page["games"]]
        if (cursor := page["next_cursor"]) is None:
            return seen


def test_a_window_pages_by_finish_time_each_game_once(client, loaded, engine) -> None:  # noqa: F811
    for params in _windows(loaded):
        expected = _expected(engine, loaded, params)
        assert expected, params  # every window holds games: the test sees pages
        assert _pages(client, params, limit=37) == expected, params


def test_without_a_window_pages_still_run_by_id(client, loaded) -> None:
    ids = [game_id for _, game_id in _pages(client, {"player": loaded.players[1]}, limit=50)]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids))
    times = [finished for finished, _ in _pages(client, {"player": loaded.players[1]}, limit=50)]
    assert times != sorted(times, reverse=True)  # the shuffled times: this list is not in time order


def test_a_cursor_of_the_other_order_is_a_422_naming_the_cursor(client, loaded) -> None:
    since = (loaded.first_finished_at + timedelta(hours=100)).isoformat()
    by_id = client.get("/games", params={"limit": 5}).json()["next_cursor"]
    by_time = client.get("/games", params={"limit": 5, "since": since}).json()["next_cursor"]
    assert by_id and by_time and by_id != by_time
    for params in ({"since": since, "cursor": by_id}, {"cursor": by_time}):
        response = client.get("/games", params=params)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "cursor"], params


@pytest.mark.parametrize("text_", ["g2:", "g2:12", "g2:x:5", "g2:999999999999999999:5", "g2:5:99999999999",
                                   "g2:-999999999999999999:1", "g2:1:2:3"])
def test_a_forged_time_cursor_is_a_422(client, loaded, text_) -> None:
    cursor = base64.urlsafe_b64encode(text_.encode()).decode().rstrip("=")
    since = loaded.first_finished_at.isoformat()
    response = client.get("/games", params={"since": since, "cursor": cursor})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "cursor"], text_
