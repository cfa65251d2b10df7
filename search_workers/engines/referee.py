"""Settling a game that ended by two passes while dead stones were still on the board.

Strict Tromp-Taylor counts every stone on the board as alive, which punishes a player (or an
engine such as Leela Zero) that passes without capturing dead stones. With a referee engine
(GNU Go is the usual one) the stones it lists as dead are removed first and the board is then
scored by area with komi; without one, or when the referee's answer cannot be used, the game
is scored by strict Tromp-Taylor. `Settlement.method` records which, so a stored result can
always be explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from search_workers.go import Color, GameState, coords, format_score

from .gtp import GtpError
from .gtp_player import EngineFailure, GtpPlayer

TROMP_TAYLOR = "tromp-taylor"


class RefereeError(ValueError):
    """A referee's dead-stone list that does not fit the position."""


@dataclass(frozen=True)
class Settlement:
    result: str  # SGF RE value: "B+3.5", "W+0.5", "0"
    score: float  # Black's area minus White's area minus komi, after removing `dead`
    method: str  # "tromp-taylor", "referee:<engine> <version>", or a fallback saying why
    dead: list[int] = field(default_factory=list)  # flat points of the stones removed


def settle(state: GameState, referee: GtpPlayer | None = None) -> Settlement:
    """Score `state`, a game ended by two passes, removing the stones `referee` says are dead.

    Falls back to strict Tromp-Taylor (`method` then says why) if the referee fails or lists a
    point that holds no stone. Raises ValueError for a game that did not end by passes.
    """
    if state.resigned is not None or state.consecutive_passes < 2:
        raise ValueError(f"only a game ended by two passes is settled by counting (result: {state.result})")
    if referee is None:
        return tromp_taylor(state, TROMP_TAYLOR)
    try:
        dead = sorted(set(referee.final_status_dead(state)))
        cleaned = remove_stones(state, dead)
    except (EngineFailure, GtpError, RefereeError) as exc:
        return tromp_taylor(state, f"{TROMP_TAYLOR} (referee {referee.name} not used: {exc})")
    score = cleaned.score()
    version = f" {referee.version}" if referee.version else ""
    return Settlement(result=format_score(score), score=score, method=f"referee:{referee.name}{version}", dead=dead)


def remove_stones(state: GameState, points: list[int]) -> GameState:
    """`state`'s final position without the stones on `points`, as a fresh position to score.

    Raises RefereeError naming the first point that holds no stone.
    """
    n = state.board_size
    stones = state.stones().reshape(-1)
    for p in points:
        if not 0 <= p < n * n or stones[p] == 0:
            raise RefereeError(f"{coords.to_gtp(p, n) if 0 <= p < n * n else p} is listed dead but holds no stone")
    removed = set(points)
    black = [p for p in range(n * n) if stones[p] == Color.BLACK and p not in removed]
    white = [p for p in range(n * n) if stones[p] == Color.WHITE and p not in removed]
    # Removing stones only adds liberties, so this setup is always valid.
    return GameState.new(n, state.rules).with_setup(black=black, white=white)


def tromp_taylor(state: GameState, method: str = TROMP_TAYLOR) -> Settlement:
    """Strict Tromp-Taylor: every stone on the board counts as alive; `method` says why this rule."""
    score = state.score()
    return Settlement(result=format_score(score), score=score, method=method, dead=[])
