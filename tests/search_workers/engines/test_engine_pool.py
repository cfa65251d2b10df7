"""EnginePool bounds (ARENA_ENGINE_IDLE_S, ARENA_MAX_ENGINE_PROCESSES) with the real fake-engine process."""

from __future__ import annotations

import threading
import time

import pytest

from search_workers.engines import EnginePool, EnginePoolExhausted
from search_workers.go import GameState, Rules
from tests.support.fake_engines import fake_spec

RULES = Rules.preset("tromp-taylor", komi=7.5)


def started(pool: EnginePool, name: str):
    player = pool.acquire(name)
    player.new_game(GameState.new(9, RULES))
    assert player.running
    return player


def test_idle_engines_are_stopped_after_idle_s_and_busy_ones_kept() -> None:
    with EnginePool({"fake": fake_spec()}, idle_s=0.5) as pool:
        idle, busy = started(pool, "fake"), started(pool, "fake")
        pool.release(idle)
        deadline = time.monotonic() + 10
        while idle.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not idle.running and busy.running
        assert pool.size == 1  # the stopped one left the pool; a later acquire starts a fresh one
        pool.release(busy)
        assert pool.acquire("fake") is busy  # released just now: reused, still running
        assert busy.running


def test_the_pool_never_runs_more_than_max_processes() -> None:
    with EnginePool({"a": fake_spec(name="a"), "b": fake_spec(name="b")}, max_processes=2,
                    acquire_timeout_s=0.5) as pool:
        a1, a2 = started(pool, "a"), started(pool, "a")
        with pytest.raises(EnginePoolExhausted, match="ARENA_MAX_ENGINE_PROCESSES"):
            pool.acquire("b")  # both busy: waits, then gives up instead of starting a third

        pool.release(a1)
        b = started(pool, "b")  # at the cap: the idle "a" is stopped to make room
        assert not a1.running and pool.size == 2 and pool.running() == 2

        got = []
        waiter = threading.Thread(target=lambda: got.append(pool.acquire("b")))
        pool.acquire_timeout_s = 10
        waiter.start()
        time.sleep(0.2)
        assert not got  # waiting for a release, not starting a third process
        pool.release(b)
        waiter.join(5)
        assert got == [b]
        pool.release(a2)
        pool.release(b)
