"""The asynchronous read path (arena.api.reads, .lean, .encoding): what it answers is what the
synchronous path answers, byte for byte where FastAPI would have encoded it; it survives
PostgreSQL dropping its connections; a database that does not answer is a 503, not a hang."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter
from sqlalchemy import text

from arena.api.encoding import encode
from arena.api.reads import DatabaseUnavailable, ReadPool
from arena.api.routers.games import GamePage, encode_cursor
from arena.benchmarks.api import load_games
from arena.benchmarks.http_load import HttpLoadClient
from arena.db import game_queries
from arena.leaderboards import leaderboard_key_statement
from arena.ports import free_port

GAMES = 1500


@pytest.fixture(scope="module")
def loaded(db_url, engine):  # noqa: F811 -- the API conftest's fresh database
    return load_games(db_url, GAMES, seed=11)


def _filters(loaded) -> list[dict]:
    a, b = loaded.players[0], loaded.players[-1]
    since = (loaded.first_finished_at + timedelta(days=50)).isoformat()
    return [{}, {"player": a}, {"player": a, "opponent": b}, {"tournament": loaded.tournaments[1]},
            {"tournament": "2"}, {"result": "draw"}, {"result": "forfeit", "tournament": loaded.tournaments[0]},
            {"result": "W+R"}, {"result": "void"}, {"player": b, "since": since},
            {"until": since, "result": "black"}, {"player": "nobody"}]


def test_game_pages_are_the_synchronous_pages_as_fastapi_encodes_them(client, loaded, engine) -> None:  # noqa: F811
    """Every filter shape, first and later pages: the page the read path encodes from rows is
    `page_games` (the ORM path) encoded by pydantic, byte for byte."""
    for params in _filters(loaded):
        cursor, before = None, None
        for _ in range(3):
            response = client.get("/games", params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200, (params, response.text)
            tournament = params.get("tournament")
            since = params.get("since")
            until = params.get("until")
            filters = game_queries.GameFilter(
                player=params.get("player"), opponent=params.get("opponent"), tournament=tournament,
                result=params.get("result"), since=datetime.fromisoformat(since) if since else None,
                until=datetime.fromisoformat(until) if until else None)
            with engine.connect() as conn:
                from sqlalchemy.orm import Session

                games, mark = game_queries.page_games(Session(bind=conn), filters, before=before, limit=7)
            expected = GamePage(games=games, next_cursor=None if mark is None else encode_cursor(mark))
            assert response.content == TypeAdapter(GamePage).dump_json(expected), params
            cursor, before = response.json()["next_cursor"], mark
            if cursor is None:
                break


def test_encoding_matches_fastapi_for_datetimes_and_numbers() -> None:
    import numpy as np

    page = GamePage(games=[game_queries.GameSummary(
        id=1, tournament_id=2, tournament="t", black="b", white="w", result="B+R", move_count=3, duration_s=1.5,
        finished_at=datetime(2026, 11, 21, 13, 0, 0, tzinfo=UTC))], next_cursor=None)
    assert encode(page) == TypeAdapter(GamePage).dump_json(page)
    assert json.loads(encode({"x": np.float64(0.25), "n": np.int64(3)})) == {"x": 0.25, "n": 3}


def test_lean_routes_document_and_validate_their_query(client) -> None:
    schema = client.get("/openapi.json").json()["paths"]
    games = {p["name"]: p for p in schema["/games"]["get"]["parameters"]}
    assert set(games) == {"player", "opponent", "tournament", "result", "since", "until", "cursor", "limit"}
    assert games["limit"]["schema"]["maximum"] == 500 and games["since"]["in"] == "query"
    board = {p["name"] for p in schema["/ratings/leaderboard"]["get"]["parameters"]}
    assert board == {"tournament", "condition", "board_size"}
    bad = client.get("/ratings/leaderboard", params={"board_size": "nine"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "board_size"]
    bad = client.get("/ratings/leaderboard", params={"condition": "9x9; DROP"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "condition"]


def test_lean_routes_are_dispatched_before_fastapis_routing(client, loaded) -> None:
    """The lean GETs are answered by their dispatch routes (arena.api.lean.dispatch_first), first
    in the app's routes, labelled in the request metrics with their path template; another
    method on their path is still a 405, and a path they do not match reaches FastAPI's routes."""
    from arena.api.lean import DispatchRoute

    dispatched = [route for route in client.app.router.routes if isinstance(route, DispatchRoute)]
    assert {route.path for route in dispatched} == {"/games", "/ratings/leaderboard", "/ratings/head-to-head",
                                                    "/ratings/elo-vs-visits"}
    assert client.app.router.routes[:len(dispatched)] == dispatched
    assert client.get("/games", params={"limit": 1, "tournament": loaded.tournaments[0]}).status_code == 200
    assert client.get("/games", params={"tournament": "no such tournament"}).status_code == 404
    for refused in (client.post("/games", json={}), client.head("/games"), client.head("/ratings/leaderboard")):
        assert refused.status_code == 405 and refused.headers["allow"] == "GET"  # as their FastAPI routes
    assert client.get("/games/1").status_code == 200  # FastAPI's route, after the dispatch ones
    text = client.get("/metrics").text
    assert 'arena_http_requests_total{method="GET",route="/games",status="200"}' in text
    assert 'arena_http_requests_total{method="GET",route="/games",status="404"}' in text


def test_a_lean_route_with_dependencies_is_refused() -> None:
    """A dispatch route runs its endpoint alone: a lean route whose router adds a dependency (a
    read-access check) would lose it, so building such an app fails."""
    from fastapi import APIRouter, FastAPI, Request

    from arena.api.deps import ReadAccess
    from arena.api.lean import dispatch_first, lean

    router = APIRouter(prefix="/x", dependencies=[ReadAccess])

    @router.get("")
    @lean
    async def endpoint(request: Request) -> dict:
        return {}

    app = FastAPI()
    app.include_router(router)
    with pytest.raises(ValueError, match="lean route /x: GET only, without dependencies"):
        dispatch_first(app, [router])


def test_reads_survive_the_server_dropping_their_connections(client, loaded, engine) -> None:  # noqa: F811
    """Every pooled read connection killed by the server (as a restart does): the next reads
    are answered, on new connections, without an error."""
    for _ in range(3):
        assert client.get("/games", params={"limit": 2}).status_code == 200
    with engine.connect() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = 'arena-api-reads' AND datname = current_database()"))
        assert killed.scalar() >= 1
    for _ in range(12):
        assert client.get("/games", params={"limit": 2}).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_reads_are_in_utc_whatever_the_servers_time_zone(db_url, engine) -> None:  # noqa: F811
    """Pages write times as read, with `Z`: the read connections ask for UTC even where the
    database's default time zone is another."""
    import psycopg

    from arena.api.reads import connect_kwargs

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        name = conn.scalar(text("SELECT current_database()"))
        conn.execute(text(f'ALTER DATABASE "{name}" SET TimeZone = \'Asia/Tokyo\''))
    try:
        plain = {k: v for k, v in connect_kwargs(db_url).items() if k != "options"}
        with psycopg.connect(**plain) as conn:
            assert conn.execute("SHOW TimeZone").fetchone()[0] == "Asia/Tokyo"  # the setting took

        async def read():
            reads = ReadPool(db_url)
            statement, params = game_queries.games_statement(game_queries.GameFilter(), limit=1)
            try:
                return await reads.fetch(statement, params)
            finally:
                await reads.close()

        (row,) = asyncio.run(read())
        assert row[-1].utcoffset() == timedelta(0) and encode(row[-1]).endswith(b'Z"')
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RESET TimeZone'))


def test_an_unreachable_database_is_database_unavailable() -> None:
    reads = ReadPool(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing", timeout_s=2)  # nobody there
    with pytest.raises(DatabaseUnavailable, match="did not answer"):
        asyncio.run(reads.fetch(leaderboard_key_statement(tournament=False), {}))


def test_load_client_frames_answers(client, loaded) -> None:
    """The benchmark's HTTP client against a real server: status, body, keep-alive."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        async def talk():
            while not server.started:
                await asyncio.sleep(0.05)
            async with HttpLoadClient("127.0.0.1", port) as conn:
                first = await conn.get("/games", {"limit": 3})
                second = await conn.get("/games/0")
                return first, second
        (status, body), (missing, _) = asyncio.run(talk())
        assert status == 200 and len(json.loads(body)["games"]) == 3 and missing == 422
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_served_app_tunes_the_garbage_collector(db_url, monkeypatch) -> None:  # noqa: F811
    """`arena api`'s factory freezes what start-up made and collects young objects rarely."""
    import gc

    from arena.api.app import GC_YOUNG_THRESHOLD, serving_app
    from arena.settings import get_settings

    monkeypatch.setenv("ARENA_DATABASE_URL", db_url)
    get_settings.cache_clear()
    before = gc.get_threshold()
    try:
        app = serving_app()
        assert app.state.settings.database_url == db_url
        assert gc.get_freeze_count() > 10_000 and gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
        get_settings.cache_clear()


def test_a_leaderboard_key_past_half_its_age_is_refreshed_in_the_background() -> None:
    """Requests go on with a key younger than the max age; past half of it one background read
    (not one per request) replaces it; past the max age the caller reads it itself."""
    import time

    from arena.api.routers.ratings import _RecentKeys

    async def scenario():
        recent = _RecentKeys(max_age_s=1.0)
        reads = []

        async def refresh():
            reads.append(time.monotonic())
            await asyncio.sleep(0.01)
            recent.put(("t", None), ("new",), time.monotonic())

        recent.put(("t", None), ("fresh",), time.monotonic())
        assert recent.get(("t", None), refresh) == ("fresh",) and not reads
        recent.put(("t", None), ("old",), time.monotonic() - 0.6)
        assert [recent.get(("t", None), refresh) for _ in range(5)] == [("old",)] * 5  # answered at once
        await asyncio.sleep(0.05)
        assert len(reads) == 1 and recent.get(("t", None), refresh) == ("new",)
        recent.put(("t", None), ("stale",), time.monotonic() - 1.5)
        assert recent.get(("t", None), refresh) is None and len(reads) == 1

    asyncio.run(scenario())


def test_the_name_book_reads_each_name_once_and_stays_bounded(db_url, loaded) -> None:  # noqa: F811
    """Game pages are named from the API's book (arena.api.names): a page of unseen players and
    tournaments costs one read, a page of known ones none; past its bound the book keeps only
    the page's names; an id the database does not hold is an error, not a wrong name."""
    from arena.api.names import NameBook

    class CountingReads(ReadPool):
        reads = 0

        async def fetch(self, statement, params):
            if statement is not ids:
                CountingReads.reads += 1
            return await super().fetch(statement, params)

    ids, params = game_queries.game_ids_statement(game_queries.GameFilter(), limit=40)
    named, _ = game_queries.games_statement(game_queries.GameFilter(), limit=40)

    async def run():
        reads = CountingReads(db_url, max_size=2)
        book = NameBook(reads, max_names=6)
        try:
            rows = await reads.fetch(ids, params)
            expected = await reads.fetch(named, params)
            first = await book.name_games(rows)
            after_first = CountingReads.reads
            again = await book.name_games(rows)
            after_again = CountingReads.reads
            # A page with one player the book lacks: past its bound, the book keeps only what
            # that page needed, and still names the page whole.
            # A page with one player the book lacks against one it knows: past its bound, the
            # book keeps only the name it read, and still names the page whole.
            seen = set(book.players)
            unseen = next(name for name in loaded.players if name not in set(book.players.values()))
            candidates = await reads.fetch(*game_queries.game_ids_statement(
                game_queries.GameFilter(player=unseen), limit=100))
            lone = next(row for row in candidates if row[2] in seen or row[3] in seen)
            lone_named = await book.name_games([lone])
            kept = set(book.players)
            with pytest.raises(LookupError, match="does not hold"):
                await book.name_games([(1, rows[0][1], 10**9, rows[0][3], "B+R", 0, 0.0, rows[0][-1])])
            return expected, first, after_first, again, after_again, seen, unseen, lone, lone_named, kept
        finally:
            await reads.close()

    expected, first, after_first, again, after_again, seen, unseen, lone, lone_named, kept = asyncio.run(run())
    assert [tuple(game.values()) for game in first] == [tuple(row) for row in expected] and again == first
    assert after_first == 2 and after_again == 2  # one read for the first page (and the named one), none again
    assert len(seen) > 6  # so the next read passes the bound of 6
    assert kept == {lone[2], lone[3]} - seen and len(kept) == 1
    assert lone_named[0]["id"] == lone[0] and unseen in (lone_named[0]["black"], lone_named[0]["white"])
    assert CountingReads.reads == 5  # + the lone page, its names, the unknown id's
