"""schemathesis against the API's own OpenAPI schema (issue 6 item 8): no operation answers 5xx,
whatever the generated path, query, header or body. A fresh database with a loaded game set (so
reads hit real rows), a bearer token on every call (so writes get past authentication), and a
stub in place of the Celery producer. Bounded: a few examples per operation."""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from arena.api import create_app
from arena.benchmarks.api import load_games

MAX_EXAMPLES = int(os.environ.get("ARENA_SCHEMATHESIS_EXAMPLES", "25"))  # per operation


@pytest.fixture(scope="module")
def app(settings, db_url):  # noqa: F811 -- the API conftest's fresh database
    load_games(db_url, 500, seed=5)
    sent: list[dict] = []
    app = create_app(settings, send=sent.append)
    with TestClient(app):  # runs the lifespan
        yield app


def test_no_operation_answers_5xx(app, auth) -> None:
    """Every operation, MAX_EXAMPLES generated cases each; the failures of all operations at once."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, operations, calls = [], 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call_and_validate(headers=auth, checks=[not_a_server_error])
            calls.append(response.status_code)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 -- collected, reported together
            failures.append(f"{operation.label}: {exc}"[:2000])
    print(f"\nschemathesis: {operations} operations, {len(calls)} calls, statuses {sorted(set(calls))}")
    assert operations >= 15 and len(calls) >= 5 * operations
    assert not failures, "\n\n".join(failures)


def test_out_of_range_ids_are_4xx(app, auth) -> None:
    """What schemathesis found: ids past the database's integer range were 500s."""
    import base64

    with TestClient(app) as client:
        for path in ("/games/2147483648", "/games/2147483648.sgf"):
            assert client.get(path).status_code == 422, path
        assert client.get("/tournaments/99999999999").status_code == 404
        assert client.get("/tournaments/²").status_code == 404
        cursor = base64.urlsafe_b64encode(b"g1:2147483648").decode().rstrip("=")
        response = client.get("/games", params={"cursor": cursor})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "cursor"]
        assert client.get("/checkpoints/²").status_code == 404
