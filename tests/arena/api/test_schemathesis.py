"""schemathesis against the API's own OpenAPI schema (issue 6 item 8): no operation answers 5xx,
whatever the generated path, query, header or body; and a hypothesis run that sends NUL and
bytes that are not UTF-8 to every path and query parameter (issue 12), which must be 422s. A fresh database with a loaded game set (so
reads hit real rows), a bearer token on every call (so writes get past authentication), and a
stub in place of the Celery producer. Bounded: a few examples per operation."""

from __future__ import annotations

import os
import re
from urllib.parse import quote_from_bytes

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


# Bytes PostgreSQL's text cannot take, or that are not UTF-8, mixed into otherwise plain strings:
# what schemathesis's own strings (valid Unicode without NUL) never send (issue 12 item 6).
_HOSTILE = st.lists(st.sampled_from([b"\x00", b"\xff", b"\xed\xa0\x80", b"\xc3", b"a", b"7", b"/", b"%"])
                    | st.binary(max_size=4), min_size=1, max_size=6).map(b"".join)


def test_nul_and_non_utf8_strings_in_every_parameter_are_never_5xx(app, auth) -> None:
    """Every path and query parameter of every operation, hostile bytes percent-encoded; a
    request that carries NUL or bytes that are not UTF-8 is a 422."""
    schema = TestClient(app).get("/openapi.json").json()
    targets = [(method, template, param["in"], param["name"])
               for template, operations in schema["paths"].items() for method, operation in operations.items()
               for param in operation.get("parameters", []) if param["in"] in ("path", "query")]
    assert len(targets) >= 15
    statuses: list[int] = []

    with TestClient(app, raise_server_exceptions=False) as client:
        @given(target=st.sampled_from(targets), value=_HOSTILE)
        @settings(max_examples=MAX_EXAMPLES * 8, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(target, value: bytes) -> None:
            method, template, where, name = target
            encoded = quote_from_bytes(value, safe="")
            path = re.sub(r"\{[^}]+\}", "1", template.replace("{" + name + "}", encoded) if where == "path" else template)
            query = f"?{name}={encoded}" if where == "query" else ""
            response = client.request(method.upper(), path + query, headers=auth)
            statuses.append(response.status_code)
            assert response.status_code < 500, (method, path + query, response.text)
            try:
                value.decode("utf-8")
                storable = b"\x00" not in value
            except UnicodeDecodeError:
                storable = False
            if not storable:
                assert response.status_code == 422, (method, path + query, response.text)

        check()
    print(f"\nhostile strings: {len(statuses)} calls, statuses {sorted(set(statuses))}")
