"""Hostile case: NUL bytes in a path or filter (`/tournaments/%00`, `/checkpoints/%00`,
`/games?player=%00`) gave a 500 or a reset connection (PostgreSQL's text cannot hold NUL). Now
NUL, bytes that are not UTF-8 and lone surrogates, in the path, the query string or a JSON body,
are a 422 naming the field, and nothing is stored; a JSON body over the limit is a 413."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from arena.db.connection import session_scope
from arena.db.models import Tournament
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, app_with, client, db_url, engine, headers, settings, tokens, tournament_config)

NUL, NOT_UTF8, SURROGATE = "%00", "%FF", "%ED%A0%80"  # percent-encoded, as a client sends them
BAD = [NUL, NOT_UTF8, SURROGATE, f"a{NUL}b"]


def _tournaments(engine) -> int:  # noqa: F811
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Tournament))


def _refused(response, loc: list) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == loc, response.text
    assert any(word in error["msg"] for word in ("NUL", "UTF-8", "surrogate")), response.text


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("path, loc", [("/tournaments/{}", ["path", "ref"]),
                                       ("/checkpoints/{}", ["path", "ref"]),
                                       ("/ratings/runs/{}/elo-vs-step", ["path", "run"]),
                                       ("/web/{}", ["path", "page"])])
def test_bad_string_in_a_path_is_422_naming_it(client, path, loc, bad) -> None:  # noqa: F811
    _refused(client.get(path.format(bad)), loc)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("path, name", [("/games", "player"), ("/games", "opponent"), ("/games", "tournament"),
                                        ("/games", "result"), ("/games", "cursor"),
                                        ("/ratings/leaderboard", "tournament"), ("/ratings/head-to-head", "tournament"),
                                        ("/tournaments", "anything")])
def test_bad_string_in_a_filter_is_422_naming_it(client, path, name, bad) -> None:  # noqa: F811
    _refused(client.get(f"{path}?{name}={bad}"), ["query", name])


def test_bad_parameter_name_is_422(client) -> None:  # noqa: F811
    _refused(client.get(f"/games?pl{NUL}ayer=x"), ["query"])


def test_cancel_with_nul_changes_nothing(client, headers, engine) -> None:  # noqa: F811
    assert client.post("/tournaments", json=tournament_config("kept"), headers=headers["admin"]).status_code == 201
    _refused(client.post(f"/tournaments/kept{NUL}/cancel", headers=headers["admin"]), ["path", "ref"])
    with session_scope(engine) as session:
        assert session.scalar(select(Tournament.status).where(Tournament.name == "kept")) == "running"


@pytest.mark.parametrize("field, value, loc", [
    ("name", "a\x00b", ["body", "name"]),
    ("name", "\ud800", ["body", "name"]),
    ("participants", [{"name": "e1", "kind": "engine", "ref": "e\x001"}, {"name": "e2", "kind": "engine", "ref": "e2"}],
     ["body", "participants", 0, "ref"]),
    ("padding", {"k\x00": 1}, ["body", "padding"]),  # a key: named by where its object is
])
def test_bad_string_in_a_json_body_is_422_and_stores_nothing(client, headers, engine, field, value, loc) -> None:  # noqa: F811
    before = _tournaments(engine)
    body = json.dumps({**tournament_config("bad-body"), field: value})  # \u0000, \ud800: escaped, as JSON allows
    response = client.post("/tournaments", content=body, headers={**headers["submit"],
                                                                     "Content-Type": "application/json"})
    _refused(response, loc)
    assert _tournaments(engine) == before


def test_json_body_that_is_not_utf8_is_422(client, headers, engine) -> None:  # noqa: F811
    before = _tournaments(engine)
    body = json.dumps(tournament_config("latin")).encode().replace(b'"latin"', b'"lat\xefn"')
    response = client.post("/tournaments", content=body, headers={**headers["submit"],
                                                                     "Content-Type": "application/json"})
    _refused(response, ["body"])
    assert _tournaments(engine) == before


def test_oversized_json_body_is_413_and_stores_nothing(settings, headers, engine) -> None:  # noqa: F811
    before = _tournaments(engine)
    body = json.dumps({**tournament_config("huge"), "padding": "x" * 5000}).encode()
    with app_with(settings, api_max_json_bytes=4096) as small:
        declared = small.post("/tournaments", content=body, headers={**headers["submit"],
                                                                      "Content-Type": "application/json"})
        chunked = small.post("/tournaments", content=iter([body[:2000], body[2000:]]),  # no Content-Length
                             headers={**headers["submit"], "Content-Type": "application/json"})
        fits = small.post("/tournaments", json=tournament_config("fits"), headers=headers["submit"])
    for response in (declared, chunked):
        assert response.status_code == 413 and "ARENA_API_MAX_JSON_BYTES" in response.json()["detail"], response.text
    assert fits.status_code == 201, fits.text
    assert _tournaments(engine) == before + 1


def test_no_bad_string_anywhere_is_a_5xx(client, headers) -> None:  # noqa: F811
    """Every GET route of the schema, each path parameter and each query parameter, each bad string."""
    schema = client.get("/openapi.json").json()
    calls = 0
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method != "get":
                continue
            params = operation.get("parameters", [])
            for bad in BAD:
                path = template
                for param in params:
                    if param["in"] == "path":
                        path = path.replace("{" + param["name"] + "}", bad)
                queries = [f"{p['name']}={bad}" for p in params if p["in"] == "query"] or [f"x={bad}"]
                for query in queries:
                    response = client.get(f"{path}?{query}", headers=headers["read"])
                    calls += 1
                    assert response.status_code < 500, (path, query, response.text)
                    assert response.status_code == 422, (path, query, response.text)
    assert calls > 40


def test_a_multipart_body_to_a_route_without_uploads_is_bounded(settings, headers, engine) -> None:  # noqa: F811
    """A multipart Content-Type used to let any body past the guard's limit, and FastAPI buffered
    it whole before the route checked the token: unbounded memory for a client with no token."""
    before = _tournaments(engine)
    body = b"--zz\r\n" + b"x" * 8000 + b"\r\n--zz--\r\n"
    multipart = {"Content-Type": "multipart/form-data; boundary=zz"}
    with app_with(settings, api_max_json_bytes=4096) as small:
        routes = [("/tournaments", {}), ("/tournaments/kept/cancel", headers["admin"]),
                  ("/tournaments", headers["submit"])]
        answers = [small.post(path, content=body, headers={**auth, **multipart}) for path, auth in routes]
        chunked = small.post("/tournaments", content=iter([body[:3000], body[3000:]]), headers=multipart)
        small_form = small.post("/tournaments", content=b"--zz\r\n\r\n--zz--\r\n",
                                headers={**headers["submit"], **multipart})
    for response in (*answers, chunked):
        assert response.status_code == 413 and "ARENA_API_MAX_JSON_BYTES" in response.json()["detail"], response.text
    assert 400 <= small_form.status_code < 500, small_form.text  # within the limit: the route's own refusal
    assert _tournaments(engine) == before


@pytest.mark.parametrize("depth", [65, 50_000])
def test_json_nested_too_deep_is_422_and_stores_nothing(client, headers, engine, depth) -> None:  # noqa: F811
    """50,000 levels with a \\u escape raised RecursionError in the guard's parse: a 500."""
    before = _tournaments(engine)
    nested = "[" * depth + '"\\u0041"' + "]" * depth
    body = json.dumps(tournament_config("deep"))[:-1] + f', "padding": {nested}}}'
    response = client.post("/tournaments", content=body, headers={**headers["submit"],
                                                                     "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert "nested deeper than 64" in response.json()["detail"][0]["msg"]
    assert _tournaments(engine) == before
