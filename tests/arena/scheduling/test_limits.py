"""A server's limits: the arithmetic game count against real plans, the refusals naming their
settings, the adaptive cap, and blocks cut to the memory budget."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from arena.scheduling import (
    AdaptiveConfig,
    GauntletConfig,
    SchedulingError,
    SprtConfig,
    TournamentLimits,
    check_limits,
    next_games,
    parse_config,
    planned_games,
    split_blocks,
    with_game_cap,
)
from search_workers.search import search_bytes_per_game

MIB = 2**20


def _players(count: int, visits: int = 16) -> list[dict[str, Any]]:
    return [{"name": f"p{i}", "kind": "checkpoint", "ref": "net", "visits": visits} for i in range(count)]


@settings(max_examples=60, deadline=None)
@given(fmt=st.sampled_from(["round-robin", "gauntlet", "visits-ladder"]), players=st.integers(2, 9),
       games=st.integers(1, 4).map(lambda k: 2 * k), split=st.integers(1, 8))
def test_the_count_is_the_plan_of_a_static_format(fmt: str, players: int, games: int, split: int) -> None:
    fields: dict[str, Any] = {"name": "t", "format": fmt, "games_per_pairing": games}
    if fmt == "visits-ladder":
        rungs = min(split + 1, players)  # at least two rungs; the others are extra participants
        fields |= {"checkpoint": "net", "visits": [2**k for k in range(rungs)],
                   "participants": _players(players - rungs)}
    else:
        fields["participants"] = _players(players)
        if fmt == "gauntlet":
            fields["candidates"] = [f"p{i}" for i in range(min(split, players - 1))]
    config = parse_config(fields)
    assert planned_games(config) == len(next_games(config, [], {}, [()]))


def test_dynamic_formats_count_their_budgets() -> None:
    sprt = SprtConfig(name="s", format="sprt", participants=_players(2), candidates=["p0"], max_games=500)
    adaptive = AdaptiveConfig(name="a", format="adaptive", participants=_players(3), target_ci=20.0)
    assert planned_games(sprt) == 500 and planned_games(adaptive) is None
    capped = with_game_cap(adaptive, TournamentLimits(max_games=1001))
    assert capped.game_budget == 1000 and planned_games(capped) == 1000
    assert with_game_cap(capped, TournamentLimits(max_games=10)) == capped  # a budget given stays


@pytest.mark.parametrize("fields, limits, setting", [
    ({"participants": _players(5)}, TournamentLimits(max_players=4), "ARENA_MAX_PLAYERS_PER_TOURNAMENT"),
    ({"participants": _players(4), "games_per_pairing": 20}, TournamentLimits(max_games=100),
     "ARENA_MAX_GAMES_PER_TOURNAMENT"),
    ({"participants": _players(2, visits=513)}, TournamentLimits(max_visits=512), "ARENA_MAX_VISITS"),
    ({"participants": _players(2, visits=4096)}, TournamentLimits(worker_memory_bytes=16 * MIB),
     "ARENA_WORKER_MEMORY_MB"),
])
def test_each_limit_names_its_setting(fields: dict, limits: TournamentLimits, setting: str) -> None:
    config = parse_config({"name": "t", "format": "round-robin", **fields})
    with pytest.raises(SchedulingError, match=setting):
        check_limits(config, limits)
    check_limits(config, TournamentLimits())  # the defaults allow each


def test_memory_is_checked_on_the_pairs_that_meet() -> None:
    """A gauntlet's two big non-candidates never meet: only candidate pairings must fit."""
    big = search_bytes_per_game(9, 4096, pipeline_groups=2)
    small = search_bytes_per_game(9, 16, pipeline_groups=2)
    config = GauntletConfig(name="g", format="gauntlet", candidates=["c"], participants=[
        {"name": "c", "kind": "checkpoint", "ref": "net", "visits": 16},
        *({"name": n, "kind": "checkpoint", "ref": "net", "visits": 4096} for n in ("x", "y"))])
    check_limits(config, TournamentLimits(worker_memory_bytes=big + small))
    with pytest.raises(SchedulingError, match="'c' against 'x'"):
        check_limits(config, TournamentLimits(worker_memory_bytes=big + small - 1))


def test_blocks_fit_the_budget_the_block_size_and_keep_the_order() -> None:
    games = [(f"a{i % 3}", f"b{i % 2}") for i in range(40)]
    cost = {"a0": 10, "a1": 10, "a2": 10, "b0": 5, "b1": 0}
    blocks = split_blocks(games, players_of=lambda g: g, search_bytes=cost, block_size=8, memory_bytes=100)
    assert [g for block in blocks for g in block] == games
    for block in blocks:
        players = {p for g in block for p in g}
        assert len(block) <= 8 and len(block) * sum(cost[p] for p in players) <= 100
    # A game alone is allowed whatever it needs (creation refuses those that cannot fit).
    assert split_blocks(games[:3], players_of=lambda g: g, search_bytes=cost, block_size=8,
                        memory_bytes=1) == [[g] for g in games[:3]]


def test_a_block_stays_within_the_payloads_players() -> None:
    games = [(f"x{i}", f"y{i}") for i in range(40)]
    blocks = split_blocks(games, players_of=lambda g: g, search_bytes={}, block_size=1000, memory_bytes=1)
    assert [len(b) for b in blocks] == [32, 8]  # 64 players per payload
