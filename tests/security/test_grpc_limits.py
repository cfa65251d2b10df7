"""Hostile case: gRPC listened on every interface in clear text, 40 open WatchGames streams used
up its threads and starved GetLeaderboard, and GetLeaderboard answered without a token while
ARENA_API_PUBLIC_READS=false. Now it binds loopback by default, streams are bounded on the
server and per client address (RESOURCE_EXHAUSTED beyond) with threads left for unary calls,
reads and writes follow the HTTP API's rules, and TLS works with ARENA_GRPC_TLS_CERT/KEY."""

from __future__ import annotations

import inspect
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select

from arena.db.connection import session_scope
from arena.db.models import ApiToken, Tournament
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import serve
from arena.settings import Settings
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, db_url, engine, headers, settings, tokens, tournament_config)

TIMEOUT = 10.0


@contextmanager
def arena_grpc(settings: Settings, engine, **changes) -> Iterator[tuple[grpc.Server, arena_pb2_grpc.ArenaStub]]:  # noqa: F811
    """A real server on a free loopback port with `settings` changed by `changes`, and a stub."""
    server = serve(settings.model_copy(update=changes), 0, db_engine=engine, poll_s=0.05,
                   send=lambda payload: None)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield server, arena_pb2_grpc.ArenaStub(channel)
    finally:
        channel.close()
        server.stop(grace=None).wait()


def _metadata(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def _open_streams(stub, count: int) -> list:
    """`count` WatchGames streams (no games are stored: each stays open, polling)."""
    return [stub.WatchGames(arena_pb2.WatchGamesRequest(), timeout=30) for _ in range(count)]


def test_default_bind_is_loopback() -> None:
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    from arena.cli.grpc_server import grpc_server

    assert inspect.signature(grpc_server).parameters["host"].default == "127.0.0.1"


def test_stream_exhaustion_is_resource_exhausted_and_unary_calls_still_answer(settings, engine) -> None:  # noqa: F811
    with arena_grpc(settings, engine, grpc_max_streams=4, grpc_max_streams_per_peer=100) as (server, stub):
        held = _open_streams(stub, 4)
        time.sleep(0.5)  # the four hold their slots (each polls every 50 ms)
        extra = stub.WatchGames(arena_pb2.WatchGamesRequest(), timeout=5)
        with pytest.raises(grpc.RpcError) as refused:
            next(iter(extra))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "ARENA_GRPC_MAX_STREAMS" in refused.value.details()
        started = time.perf_counter()
        for _ in range(20):  # more unary calls than streams: threads are kept for them
            stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), timeout=2)
        assert time.perf_counter() - started < 5.0
        for stream in held:
            stream.cancel()
        time.sleep(0.3)  # the slots are freed when the streams end
        again = stub.WatchGames(arena_pb2.WatchGamesRequest(), timeout=0.5)
        with pytest.raises(grpc.RpcError) as ended:
            list(again)
        assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # admitted, then ran to its deadline


def test_per_peer_bound(settings, engine) -> None:  # noqa: F811
    with arena_grpc(settings, engine, grpc_max_streams=16, grpc_max_streams_per_peer=2) as (server, stub):
        held = _open_streams(stub, 2)
        time.sleep(0.5)
        extra = stub.WatchGames(arena_pb2.WatchGamesRequest(), timeout=5)
        with pytest.raises(grpc.RpcError) as refused:
            next(iter(extra))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "ARENA_GRPC_MAX_STREAMS_PER_PEER" in refused.value.details()
        for stream in held:
            stream.cancel()


def test_reads_need_a_token_when_public_reads_are_off(settings, engine, tokens) -> None:  # noqa: F811
    with arena_grpc(settings, engine, api_public_reads=False) as (server, stub):
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), timeout=TIMEOUT)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as stream_refused:
            next(iter(stub.WatchGames(arena_pb2.WatchGamesRequest(), timeout=TIMEOUT)))
        assert stream_refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        board = stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), metadata=_metadata(tokens["read"]),
                                    timeout=TIMEOUT)
        assert board.game_set_sha256
    with arena_grpc(settings, engine) as (server, stub):  # public reads (the default)
        assert stub.GetLeaderboard(arena_pb2.GetLeaderboardRequest(), timeout=TIMEOUT).game_set_sha256


def _tournaments(engine) -> int:  # noqa: F811
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Tournament))


def test_writes_need_a_submit_token(settings, engine, tokens) -> None:  # noqa: F811
    request = arena_pb2.ScheduleTournamentRequest(config_json=json.dumps(tournament_config("over-grpc")),
                                                  no_dispatch=True)
    before = _tournaments(engine)
    with arena_grpc(settings, engine) as (server, stub):
        for metadata, code in ((None, grpc.StatusCode.UNAUTHENTICATED),
                               (_metadata("arena_forged"), grpc.StatusCode.UNAUTHENTICATED),
                               (_metadata(tokens["read"]), grpc.StatusCode.PERMISSION_DENIED)):
            with pytest.raises(grpc.RpcError) as refused:
                stub.ScheduleTournament(request, metadata=metadata, timeout=TIMEOUT)
            assert refused.value.code() == code
        assert "scope 'submit'" in refused.value.details()
        assert _tournaments(engine) == before
        created = stub.ScheduleTournament(request, metadata=_metadata(tokens["submit"]), timeout=TIMEOUT)
    assert created.tournament_id and _tournaments(engine) == before + 1
    with session_scope(engine) as session:  # owned by the token that made it, as over HTTP
        owner = session.scalar(select(ApiToken.name).join(Tournament, Tournament.created_by_token_id == ApiToken.id)
                               .where(Tournament.id == created.tournament_id))
    assert owner == "security-submit"


def test_open_writes_must_be_asked_for(settings, engine) -> None:  # noqa: F811
    request = arena_pb2.ScheduleTournamentRequest(config_json=json.dumps(tournament_config("open")), no_dispatch=True)
    server = serve(settings, 0, db_engine=engine, open_writes=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            assert arena_pb2_grpc.ArenaStub(channel).ScheduleTournament(request, timeout=TIMEOUT).tournament_id
    finally:
        server.stop(grace=None).wait()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_tls(settings, engine, tmp_path) -> None:  # noqa: F811
    cert, key = _self_signed(tmp_path)
    server = serve(settings.model_copy(update={"grpc_tls_cert": cert, "grpc_tls_key": key}), 0, db_engine=engine,
                   engines={})
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{server.port}", credentials,
                                 options=[("grpc.ssl_target_name_override", "localhost")]) as channel:
            assert arena_pb2_grpc.ArenaStub(channel).GetLeaderboard(arena_pb2.GetLeaderboardRequest(),
                                                                   timeout=TIMEOUT).game_set_sha256
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as plain, pytest.raises(grpc.RpcError):
            arena_pb2_grpc.ArenaStub(plain).GetLeaderboard(arena_pb2.GetLeaderboardRequest(), timeout=2)
    finally:
        server.stop(grace=None).wait()
    with pytest.raises(ValueError, match="ARENA_GRPC_TLS_KEY"):
        serve(settings.model_copy(update={"grpc_tls_cert": cert}), 0, db_engine=engine, engines={})
