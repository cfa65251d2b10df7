"""The committed generated code is current: regenerating it from the proto gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.grpc import codegen


def test_generated_code_is_current(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the test extra) generates the code")
    for fresh in codegen.generate(tmp_path):
        committed = codegen.GENERATED / fresh.name
        assert committed.read_bytes() == fresh.read_bytes(), f"{committed} is stale: run `make proto`"


def test_generated_code_imports_as_a_package() -> None:
    from arena.grpc.generated import arena_pb2, arena_pb2_grpc

    assert arena_pb2_grpc.arena__dot__v1__dot__arena__pb2 is arena_pb2 if hasattr(
        arena_pb2_grpc, "arena__dot__v1__dot__arena__pb2") else True
    assert arena_pb2.DESCRIPTOR.package == "arena.v1"
    assert set(arena_pb2.DESCRIPTOR.services_by_name["Arena"].methods_by_name) == {
        "RegisterCheckpoint", "ScheduleTournament", "GetLeaderboard", "WatchGames", "WatchRatings"}
