"""Hostile case: the gRPC wrappers caught only their own aborts, so any other exception reached the
client as grpcio's UNKNOWN "Exception calling application: <str(exc)>": GetLeaderboard(tournament_id=2**62)
answered `(psycopg.errors.NumericValueOutOfRange) integer out of range [SQL: ...] [parameters: ...]`,
as did a NUL in a player name or a tournament name, and `config_json="[" * 100000` a RecursionError.
Now ids out of the tables' range and unstorable strings are INVALID_ARGUMENT naming the field, a
database outage is UNAVAILABLE, and anything else INTERNAL with an id; the details go to the log only."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import grpc
import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import allow_all, serve
from arena.settings import Settings
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

TIMEOUT = 10.0
SECRET = "secret /srv/arena/internal.py"
LEAKS = ("SQL", "psycopg", "parameters", "Traceback", "Exception calling application", SECRET, "db.internal")


@pytest.fixture(scope="module")
def server(db_url, engine, tmp_path_factory) -> Iterator[grpc.Server]:  # noqa: F811
    root = tmp_path_factory.mktemp("grpc-errors")
    settings = Settings(database_url=db_url, data_dir=root, broker_url=None, checkpoint_dir=None, engines_file=None,
                        import_dirs=[root])
    server = serve(settings, 0, db_engine=engine, authorize=allow_all, poll_s=0.05, engines={},
                   send=lambda payload: None)
    try:
        yield server
    finally:
        server.stop(grace=None).wait()


@pytest.fixture(scope="module")
def stub(server) -> Iterator[arena_pb2_grpc.ArenaStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield arena_pb2_grpc.ArenaStub(channel)
    finally:
        channel.close()


def _refusal(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    code, details = info.value.code(), info.value.details()
    assert not any(leak in details for leak in LEAKS), details
    return code, details


def _first(stream) -> Callable[[], object]:
    return lambda: next(iter(stream))


def _schedule(stub, config_json: str) -> Callable[[], object]:
    return lambda: stub.ScheduleTournament(arena_pb2.ScheduleTournamentRequest(config_json=config_json),
                                           timeout=TIMEOUT)


def _config(**changes) -> dict:
    return {"name": "t", "format": "round-robin", "board_size": 9, "openings": {"source": "none", "plies": 0},
            "participants": [{"name": n, "kind": "engine", "ref": n} for n in ("a", "b")], **changes}


@pytest.mark.parametrize(("call", "field"), [
    (lambda s: s.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=2**62), timeout=TIMEOUT),
     "tournament_id"),
    (lambda s: s.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=-1), timeout=TIMEOUT), "tournament_id"),
    (lambda s: s.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=2**31), timeout=TIMEOUT),
     "tournament_id"),
    (lambda s: _first(s.WatchGames(arena_pb2.WatchGamesRequest(after_game_id=2**62), timeout=TIMEOUT))(),
     "after_game_id"),
    (lambda s: _first(s.WatchGames(arena_pb2.WatchGamesRequest(after_game_id=-5), timeout=TIMEOUT))(),
     "after_game_id"),
    (lambda s: _first(s.WatchGames(arena_pb2.WatchGamesRequest(tournament_id=2**62), timeout=TIMEOUT))(),
     "tournament_id"),
    (lambda s: _first(s.WatchRatings(arena_pb2.WatchRatingsRequest(tournament_id=2**62), timeout=TIMEOUT))(),
     "tournament_id"),
    (lambda s: _first(s.WatchRatings(arena_pb2.WatchRatingsRequest(tournament_id=-2**63), timeout=TIMEOUT))(),
     "tournament_id"),
])
def test_an_id_out_of_range_is_invalid_argument_naming_it(stub, call, field) -> None:
    code, details = _refusal(lambda: call(stub))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(f"{field}: "), (code, details)
    assert "2147483647" in details


@pytest.mark.parametrize(("call", "field"), [
    (lambda s: _first(s.WatchGames(arena_pb2.WatchGamesRequest(player="a\x00b"), timeout=TIMEOUT))(), "player"),
    (lambda s: _first(s.WatchRatings(arena_pb2.WatchRatingsRequest(tournament_id=1, player="a\x00b"),
                                     timeout=TIMEOUT))(), "player"),
    (lambda s: s.GetLeaderboard(arena_pb2.GetLeaderboardRequest(condition="9x9\x00"), timeout=TIMEOUT), "condition"),
    (lambda s: s.RegisterCheckpoint(arena_pb2.RegisterCheckpointRequest(path="/tmp/a\x00b.json"), timeout=TIMEOUT),
     "path"),
    (lambda s: s.RegisterCheckpoint(arena_pb2.RegisterCheckpointRequest(path="/tmp/a.json", name="n\x00"),
                                    timeout=TIMEOUT), "name"),
    (lambda s: _schedule(s, json.dumps(_config(name="t\x00")))(), "config_json.name"),
    (lambda s: _schedule(s, json.dumps(_config(participants=[{"name": "a", "kind": "engine", "ref": "x\x00"}])))(),
     "config_json.participants.0.ref"),
    (lambda s: _schedule(s, json.dumps(_config(**{"k\x00": 1})))(), "config_json"),  # a key: named by its object
    (lambda s: _schedule(s, json.dumps(_config(name="\ud800")))(), "config_json.name"),  # JSON's lone surrogate
])
def test_an_unstorable_string_is_invalid_argument_naming_it(stub, call, field) -> None:
    code, details = _refusal(lambda: call(stub))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(f"{field}: "), (code, details)
    assert "NUL" in details or "surrogate" in details


@pytest.mark.parametrize(("config_json", "message"), [
    ("[" * 100_000, "nested too deeply"),
    ('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"seed": ' + "1" * 5000 + "}", "too many digits"),
])
def test_config_json_beyond_what_the_parser_takes_is_invalid_argument(stub, config_json, message) -> None:
    code, details = _refusal(_schedule(stub, config_json))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("config_json: "), (code, details)
    assert message in details


def _boom(*args, **kwargs):
    raise RuntimeError(SECRET)


def test_an_unexpected_error_in_a_unary_call_is_internal_with_an_id(stub, server, monkeypatch, caplog) -> None:
    monkeypatch.setattr(server.servicer.context.leaderboards, "get", _boom)
    with caplog.at_level(logging.ERROR, logger="arena.grpc.server"):
        code, details = _refusal(lambda: stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), timeout=TIMEOUT))
    assert code == grpc.StatusCode.INTERNAL and "the server's log has the details" in details
    error_id = details.split()[2]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info and SECRET in str(logged[0].exc_info[1])  # the traceback stays here


def test_an_unexpected_error_in_a_stream_is_internal_and_frees_its_slot(stub, server, monkeypatch) -> None:
    monkeypatch.setattr(server.servicer, "_games_query", _boom)
    code, details = _refusal(_first(stub.WatchGames(arena_pb2.WatchGamesRequest(), timeout=TIMEOUT)))
    assert code == grpc.StatusCode.INTERNAL and details.startswith("internal error ")
    assert server.servicer.streams._open == {}  # its slot was freed


def test_a_database_outage_is_unavailable_without_its_address(stub, server, monkeypatch) -> None:
    def down(*args, **kwargs):
        raise OperationalError("SELECT secret", {}, psycopg.OperationalError("connection to db.internal:5432 refused"))

    monkeypatch.setattr(server.servicer.context.leaderboards, "get", down)
    code, details = _refusal(lambda: stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), timeout=TIMEOUT))
    assert (code, details) == (grpc.StatusCode.UNAVAILABLE, "the database did not answer; try again shortly")
    monkeypatch.setattr(server.servicer, "_games_query", down)
    code, details = _refusal(_first(stub.WatchGames(arena_pb2.WatchGamesRequest(), timeout=TIMEOUT)))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_ids_in_range_still_reach_the_lookup(stub) -> None:
    code, details = _refusal(lambda: stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(tournament_id=2**31 - 1),
                                                         timeout=TIMEOUT))
    assert code == grpc.StatusCode.NOT_FOUND and details.startswith("tournament_id: ")
