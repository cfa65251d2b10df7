"""Bulk export of a tournament's games (GET /tournaments/{ref}/games.jsonl and .../games.sgf.tar.gz,
`arena export`) on a real PostgreSQL, over games stored through `record_finished_game`: every
finished game once, lines and archive members that parse, the response streamed a batch at a
time, the API's read policy, 404 and 422."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import datetime

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from arena.api import create_app
from arena.db.export_queries import BATCH_SIZE
from arena.game_export import EXPORT_FIELDS, sgf_member_name
from search_workers.go.sgf import read_sgf
from tests.support.arena_cli import arena_settings, invoke_arena
from tests.support.stored_games import STATS, game_result, game_sgf, store_tournament

BIG = 2 * BATCH_SIZE + 100  # three batches


@pytest.fixture(scope="module")
def stored(engine):  # noqa: F811 -- the API conftest's fresh database
    small = store_tournament(engine, "export-small", finished=7, unfinished=2)
    other = store_tournament(engine, "export-other", finished=3)
    empty = store_tournament(engine, "export-empty", finished=0, unfinished=1)
    return {"small": small, "other": other, "empty": empty}


@pytest.fixture(scope="module")
def big(engine):  # noqa: F811
    return store_tournament(engine, "export-big", finished=BIG)


def _lines(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text == "" or response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


def test_json_lines_hold_every_finished_game_of_the_tournament_once(client, stored) -> None:
    small = stored["small"]
    for ref in (small.name, str(small.id)):
        games = _lines(client.get(f"/tournaments/{ref}/games.jsonl"))
        assert [g["id"] for g in games] == small.finished  # ascending, no unfinished, no other tournament's
        assert all(tuple(g) == EXPORT_FIELDS for g in games)
    for i, game in enumerate(games):
        result, score = game_result(i)
        black, white = (f"{small.name}-a@8v", f"{small.name}-b@8v")[:: 1 if i % 2 == 0 else -1]
        assert game == {**game, "black": black, "white": white, "result": result, "score": score, "move_count": 2,
                        "seed": 1000 + i, "opening": "B[ee]" if i % 2 == 0 else None, "sgf": game_sgf(i)}
        assert game["duration_s"] == pytest.approx(1.0 + i / 1000)
        assert datetime.fromisoformat(game["finished_at"]).tzinfo is not None
    assert 'filename="tournament-' in client.get(f"/tournaments/{small.name}/games.jsonl").headers[
        "content-disposition"]


def test_move_stats_are_added_on_request(client, stored) -> None:
    games = _lines(client.get(f"/tournaments/{stored['small'].name}/games.jsonl", params={"move_stats": "true"}))
    assert len(games) == 7
    assert all(list(g) == [*EXPORT_FIELDS, "move_stats"] and g["move_stats"] == [STATS, STATS] for g in games)


def test_sgf_archive_has_one_parsable_sgf_per_finished_game(client, stored) -> None:
    small = stored["small"]
    response = client.get(f"/tournaments/{small.name}/games.sgf.tar.gz")
    assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == [sgf_member_name(i) for i in small.finished]
        for i, member in enumerate(members):
            record = read_sgf(archive.extractfile(member).read())
            assert record.result == game_result(i)[0] and record.board_size == 9 and len(record.moves) == 2
            assert member.mtime > 0 and member.isfile()


def test_a_tournament_without_finished_games_exports_nothing(client, stored) -> None:
    empty = stored["empty"].name
    assert _lines(client.get(f"/tournaments/{empty}/games.jsonl")) == []
    response = client.get(f"/tournaments/{empty}/games.sgf.tar.gz")
    assert response.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as archive:
        assert archive.getmembers() == []


def test_unknown_tournament_is_a_404_naming_it_and_bad_parameters_are_422(client, stored) -> None:
    for suffix in ("games.jsonl", "games.sgf.tar.gz"):
        response = client.get(f"/tournaments/no-such-cup/{suffix}")
        assert response.status_code == 404 and "'no-such-cup'" in response.json()["detail"], response.text
    near = client.get("/tournaments/export-smal/games.jsonl")
    assert near.status_code == 404 and "export-small" in near.json()["detail"]
    bad = client.get(f"/tournaments/{stored['small'].name}/games.jsonl", params={"move_stats": "perhaps"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "move_stats"]
    long = client.get(f"/tournaments/{'x' * 201}/games.sgf.tar.gz")
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["path", "ref"]


def test_exports_follow_the_read_policy(settings, stored, auth) -> None:
    private = settings.model_copy(update={"api_public_reads": False})
    with TestClient(create_app(private)) as client:
        for suffix in ("games.jsonl", "games.sgf.tar.gz"):
            url = f"/tournaments/{stored['small'].name}/{suffix}"
            assert client.get(url).status_code == 401
            assert client.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
            assert client.get(url, headers=auth).status_code == 200


def test_every_game_of_a_large_tournament_is_exported_once(client, big) -> None:
    games = _lines(client.get(f"/tournaments/{big.name}/games.jsonl"))
    assert [g["id"] for g in games] == big.finished
    with tarfile.open(fileobj=io.BytesIO(client.get(f"/tournaments/{big.id}/games.sgf.tar.gz").content),
                      mode="r:gz") as archive:
        assert archive.getnames() == [sgf_member_name(i) for i in big.finished]


@pytest.mark.parametrize("suffix", ["games.jsonl", "games.sgf.tar.gz"])
def test_the_response_starts_before_the_last_batch_is_read(client, big, suffix) -> None:
    """The app driven directly over ASGI (TestClient gathers a whole body before it answers): the
    first body bytes go out after the first batch's query and before the next batch's."""
    events: list[str] = []

    def on_query(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM finished_games" in statement and "finished_games.scheduled_game_id >" in statement:
            events.append("batch")

    async def drive() -> None:
        requested = False

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await anyio.sleep_forever()  # no disconnect: the server cancels this when it is done

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                events.append(f"status {message['status']}")
            elif message["type"] == "http.response.body" and message.get("body"):
                events.append("body")

        path = f"/tournaments/{big.name}/{suffix}"
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
                 "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000),
                 "server": ("testserver", 80)}
        await client.app(scope, receive, send)

    bind = client.app.state.sessions.kw["bind"]
    event.listen(bind, "before_cursor_execute", on_query)
    try:
        client.portal.call(drive)
    finally:
        event.remove(bind, "before_cursor_execute", on_query)
    assert events[:4] == ["status 200", "batch", "body", "batch"], events
    assert events.count("batch") == 3 and events[-1] == "body"


def test_arena_export_writes_the_same_files(monkeypatch, db_url, tmp_path, stored, client) -> None:  # noqa: F811
    small = stored["small"].name
    with arena_settings(monkeypatch, database_url=db_url, data_dir=tmp_path / "data"):
        lines = invoke_arena("export", "--tournament", small, "--output", str(tmp_path / "g.jsonl"), "--move-stats")
        assert lines.exit_code == 0, lines.output
        archive = invoke_arena("export", "--tournament", small, "--output", str(tmp_path / "g.sgf.tar.gz"))
        assert archive.exit_code == 0, archive.output
        unknown = invoke_arena("export", "--tournament", "no-such-cup", "--output", str(tmp_path / "x.jsonl"))
        assert unknown.exit_code != 0 and "no-such-cup" in unknown.output
        suffix = invoke_arena("export", "--tournament", small, "--output", str(tmp_path / "x.zip"))
        assert suffix.exit_code != 0 and ".jsonl" in suffix.output
    api = client.get(f"/tournaments/{small}/games.jsonl", params={"move_stats": "true"}).content
    assert (tmp_path / "g.jsonl").read_bytes() == api
    with tarfile.open(tmp_path / "g.sgf.tar.gz", mode="r:gz") as written:
        assert written.getnames() == [sgf_member_name(i) for i in stored["small"].finished]
