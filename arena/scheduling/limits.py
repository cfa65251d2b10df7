"""A server's resource limits on tournaments, checked before anything is planned or stored.

`TournamentConfig` bounds what any server could play (search_workers.schemas.GameSettings);
these are what this server is willing to run: games and players per tournament, visits per
move, and the search memory of one game within a worker's budget. Each refusal is a
`SchedulingError` naming the setting that refused it (`ARENA_MAX_GAMES_PER_TOURNAMENT`, ...),
so the caller answers 422 and the operator knows which setting to raise.

The count of games is arithmetic on the configuration (`planned_games`), never a plan: a
hostile 50-player tournament of 100 games a pairing is refused in microseconds.

Blocks (`split_blocks`) are sized so that the trees their games search, allocated up front
(search_workers.search.search_bytes_per_game), fit a worker's memory budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Protocol, TypeVar

from search_workers.schemas import MAX_BLOCK_GAMES, MAX_BLOCK_PLAYERS

from .config import AdaptiveConfig, GauntletConfig, RoundRobinConfig, SprtConfig, TournamentConfig
from .errors import SchedulingError
from .formats import static_pairings

__all__ = ["TournamentLimits", "check_limits", "planned_games", "split_blocks", "with_game_cap"]

MIB = 1024 * 1024


class LimitSettings(Protocol):
    """The fields of arena.settings.Settings the limits come from."""

    max_games_per_tournament: int
    max_players_per_tournament: int
    max_visits: int
    worker_memory_mb: int


@dataclass(frozen=True)
class TournamentLimits:
    """What one server runs; the defaults are arena.settings.Settings' defaults."""

    max_games: int = 100_000  # ARENA_MAX_GAMES_PER_TOURNAMENT: games a tournament may ever schedule
    max_players: int = 64  # ARENA_MAX_PLAYERS_PER_TOURNAMENT: players of one tournament (ladder rungs included)
    max_visits: int = 16_384  # ARENA_MAX_VISITS: playouts per move of a searching player
    worker_memory_bytes: int = 4096 * MIB  # ARENA_WORKER_MEMORY_MB: search trees of one block

    @classmethod
    def from_settings(cls, settings: LimitSettings) -> TournamentLimits:
        return cls(max_games=settings.max_games_per_tournament, max_players=settings.max_players_per_tournament,
                   max_visits=settings.max_visits, worker_memory_bytes=settings.worker_memory_mb * MIB)


def planned_games(config: TournamentConfig) -> int | None:
    """The most games `config` can ever schedule, from its parameters alone; None when only the
    results bound it (adaptive with a target_ci and no game_budget, see `with_game_cap`)."""
    players = len(config.players())
    if isinstance(config, AdaptiveConfig):
        return config.game_budget
    if isinstance(config, SprtConfig):
        return config.max_games
    if isinstance(config, RoundRobinConfig):
        pairings = comb(players, 2)
    elif isinstance(config, GauntletConfig):
        candidates = len(config.candidates)
        pairings = candidates * (players - candidates)
    else:  # visits-ladder: rungs meet the rungs one and two steps away; extras meet everyone
        rungs = len(config.visits)
        extras = players - rungs
        pairings = max(rungs - 1, 0) + max(rungs - 2, 0) + extras * rungs + comb(extras, 2)
    return pairings * config.games_per_pairing


def with_game_cap(config: TournamentConfig, limits: TournamentLimits) -> TournamentConfig:
    """`config`, an adaptive tournament without a game_budget given the largest this server
    allows (an even count), so that no tournament outgrows ARENA_MAX_GAMES_PER_TOURNAMENT."""
    if not isinstance(config, AdaptiveConfig) or config.game_budget is not None:
        return config
    return AdaptiveConfig.model_validate({**config.model_dump(), "game_budget": limits.max_games // 2 * 2})


def _meetings(config: TournamentConfig) -> list[tuple[str, str]]:
    """Every pair of players that may play a game: the fixed pairings, or (dynamic formats) any two."""
    if config.format in ("round-robin", "gauntlet", "visits-ladder"):
        return static_pairings(config)
    return list(combinations([p.name for p in config.players()], 2))


def check_limits(config: TournamentConfig, limits: TournamentLimits) -> None:
    """Raise SchedulingError naming the setting when `config` exceeds one of this server's limits.

    Cheap checks first: the player count bounds the rest's work (pairs of players).
    """
    players = config.players()
    if len(players) > limits.max_players:
        raise SchedulingError(f"participants: {len(players)} players exceed this server's limit of "
                              f"{limits.max_players} (ARENA_MAX_PLAYERS_PER_TOURNAMENT)")
    for player in players:
        if player.visits is not None and player.visits > limits.max_visits:
            raise SchedulingError(f"player {player.name!r}: {player.visits} visits exceed this server's limit of "
                                  f"{limits.max_visits} (ARENA_MAX_VISITS)")
    games = planned_games(config)
    if games is not None and games > limits.max_games:
        raise SchedulingError(f"this tournament would schedule up to {games} games, more than this server's "
                              f"limit of {limits.max_games} (ARENA_MAX_GAMES_PER_TOURNAMENT)")
    cost = {p.name: config.search_bytes([p.visits], 1) if p.visits is not None else 0 for p in players}
    a, b = max(_meetings(config), key=lambda pair: cost[pair[0]] + cost[pair[1]])
    need = cost[a] + cost[b]
    if need > limits.worker_memory_bytes:
        raise SchedulingError(
            f"a game of {a!r} against {b!r} needs {-(-need // MIB)} MiB of search memory on a "
            f"{config.board_size}x{config.board_size} board, more than a worker's budget of "
            f"{limits.worker_memory_bytes // MIB} MiB (ARENA_WORKER_MEMORY_MB): use fewer visits")


G = TypeVar("G")


def split_blocks(games: Sequence[G], *, players_of: Callable[[G], tuple[str, str]],
                 search_bytes: Mapping[str, int], block_size: int, memory_bytes: int) -> list[list[G]]:
    """`games`, in order, cut into blocks of at most `block_size` games whose search memory fits.

    A block of k games with searching players P keeps k trees for each player of P:
    k * sum(search_bytes[p] for p in P) must stay within `memory_bytes` (one game alone is
    allowed whatever it needs: creation refused the games that cannot fit, see check_limits).
    A block also stays within the payload's bounds on players and games.
    """
    blocks: list[list[G]] = []
    block: list[G] = []
    names: set[str] = set()
    per_game = 0  # bytes per game of the block's players
    limit = min(block_size, MAX_BLOCK_GAMES)
    for game in games:
        new = set(players_of(game)) - names
        cost = per_game + sum(search_bytes.get(p, 0) for p in new)
        if block and (len(block) >= limit or len(names) + len(new) > MAX_BLOCK_PLAYERS
                      or (len(block) + 1) * cost > memory_bytes):
            blocks.append(block)
            block, names, per_game = [], set(), 0
            new = set(players_of(game))
            cost = sum(search_bytes.get(p, 0) for p in new)
        block.append(game)
        names |= new
        per_game = cost
    if block:
        blocks.append(block)
    return blocks
