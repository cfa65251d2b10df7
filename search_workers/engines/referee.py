"""Settling a game that ended by two passes while dead stones were still on the board.

Strict Tromp-Taylor counts every stone on the board as alive, which punishes a player (or an
engine such as Leela Zero) that passes without capturing dead stones. With a referee engine
the game is settled in one of two ways, by the engine's preset (`EngineSpec.referee_command`):

* dead-stone removal (GNU Go, the usual referee): the stones it lists with
  `final_status_list dead` are removed and the board is then scored by area with komi;
* the engine's own final score (KataGo: `final_score` under the rules `kata-set-rules` gave it,
  i.e. the game's rules), parsed strictly: `B+3.5`, `W+0.5` or `0`.

Without a referee, or when its answer cannot be used, the game is scored by strict Tromp-Taylor.
`Settlement.method` records which, so a stored result can always be explained. Strict
Tromp-Taylor's score is kept beside the settled one (`score_tromp_taylor`), and
`disagrees` says whether the two name different winners: the arena reports how often its
referee overturns the strict count, since a referee that settles dead stones wrongly decides
games silently otherwise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from search_workers.go import Color, GameState, coords, format_score

from .gtp import GtpError
from .gtp_player import EngineFailure, GtpPlayer

TROMP_TAYLOR = "tromp-taylor"
# A final-score reply: a winner and a positive margin, or "0" for a jigo; nothing else.
_SCORE_REPLY = re.compile(r"(?P<winner>[BW])\+(?P<margin>[0-9]{1,4}(?:\.[0-9]{1,4})?)|0")


class RefereeError(ValueError):
    """A referee's answer (dead-stone list or final score) that does not fit the position."""


@dataclass(frozen=True)
class Settlement:
    result: str  # SGF RE value: "B+3.5", "W+0.5", "0"
    score: float  # Black's area minus White's area minus komi, after removing `dead`
    method: str  # "tromp-taylor", "referee:<engine> <version>", or a fallback saying why
    dead: list[int] = field(default_factory=list)  # flat points of the stones removed
    # Strict Tromp-Taylor's score of the same position (every stone alive); equal to `score`
    # when no referee settled the game.
    score_tromp_taylor: float | None = None
    refereed: bool = False  # a referee's answer was used: there is a second opinion to compare

    @property
    def disagrees(self) -> bool | None:
        """Whether the referee and strict Tromp-Taylor name different winners; None without a referee.

        Winners, not margins: a jigo against a win counts as a disagreement.
        """
        if not self.refereed or self.score_tromp_taylor is None:
            return None
        return winner_sign(self.score) != winner_sign(self.score_tromp_taylor)


def winner_sign(score: float) -> int:
    """1 if Black wins by `score`, -1 if White does, 0 for a jigo."""
    return (score > 0) - (score < 0)


def settle(state: GameState, referee: GtpPlayer | None = None) -> Settlement:
    """Score `state`, a game ended by two passes, as `referee` settles it (see the module docstring).

    Falls back to strict Tromp-Taylor (`method` then says why) if the referee fails, lists a
    point that holds no stone, or gives a final score that cannot be parsed. Raises ValueError
    for a game that did not end by passes.
    """
    if state.resigned is not None or state.consecutive_passes < 2:
        raise ValueError(f"only a game ended by two passes is settled by counting (result: {state.result})")
    if referee is None:
        return tromp_taylor(state, TROMP_TAYLOR)
    command = referee.spec.referee_score_command()
    try:
        if command is None:
            dead = sorted(set(referee.final_status_dead(state)))
            score = remove_stones(state, dead).score()
        else:
            dead = []
            score = parse_final_score(referee.ask(state, command), state, command)
    except (EngineFailure, GtpError, RefereeError) as exc:
        return tromp_taylor(state, f"{TROMP_TAYLOR} (referee {referee.name} not used: {exc})")
    version = f" {referee.version}" if referee.version else ""  # known once it has answered
    method = f"referee:{referee.name}{version}" + (f" ({command})" if command else "")
    return Settlement(result=format_score(score), score=score, method=method, dead=dead,
                      score_tromp_taylor=state.score(), refereed=True)


def parse_final_score(text: str, state: GameState, command: str = "final_score") -> float:
    """Black's margin from a final-score reply (`B+3.5`, `W+0.5`, `0`); RefereeError otherwise.

    Strict on purpose: a reply that is not exactly a score, a margin of zero written as a win,
    or a margin larger than the board could give is an engine misreading the position, and
    the game is then better scored by the strict rule.
    """
    reply = text.strip()
    match = _SCORE_REPLY.fullmatch(reply)
    if match is None:
        raise RefereeError(f"{command} answered {reply!r}, not a score such as B+3.5, W+0.5 or 0")
    if match.group("winner") is None:
        return 0.0
    margin = float(match.group("margin"))
    most = state.board_size ** 2 + abs(state.rules.komi)
    if margin == 0 or margin > most or not math.isclose(margin * 2, round(margin * 2)):
        raise RefereeError(f"{command} answered {reply!r}: a margin of {margin:g} cannot be on this board")
    return margin if match.group("winner") == "B" else -margin


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
    return Settlement(result=format_score(score), score=score, method=method, dead=[], score_tromp_taylor=score)
