"""A planned game's identity, fixed before it is played, and how pairs of them are laid out.

Games come in colour-swapped pairs: games 2k and 2k+1 of a pairing play the same opening, the
first with the alphabetically first player as Black, the second with colours swapped, so an
opening's bias cancels within the pair (and SPRT can count pairs, see formats). Pair k of every
pairing plays opening k of the book (cycling), so differences between pairings are not opening
noise. Seeds are a pure function of (tournament seed, pairing, game index), so the same
configuration always gives the same plan, and a game rescheduled after a crash gets its seed back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from arena.ratings import GameResult

from .errors import SchedulingError

__all__ = ["PlannedGame", "PlayedGame", "game_seed", "pair_games", "pairing_name", "pairing_players"]

_SEPARATOR = " vs "


@dataclass(frozen=True)
class PlannedGame:
    """One game to schedule (the fields of a ScheduledGame row, players by name)."""

    pairing: str  # "A vs B", names sorted: the same for both colours
    game_index: int  # unique within the pairing; 2k and 2k+1 are a colour-swapped pair
    black: str  # player name of Black
    white: str  # player name of White
    seed: int  # in [0, 2**63): seeds the players' search (temperature, resignation draw)
    opening: tuple[int, ...]  # flat moves played before the players take over (pass = N*N)

    def played(self, winner: str | None) -> PlayedGame:
        """This game finished: `winner` is black's or white's name, None for a draw."""
        return PlayedGame(self.pairing, self.game_index, self.black, self.white, winner)


@dataclass(frozen=True)
class PlayedGame:
    """A finished game as the dynamic formats read it: identity and winner (None: a draw).

    Void games (stopped by the move limit) have no result and are left out by the caller.
    """

    pairing: str
    game_index: int
    black: str
    white: str
    winner: str | None

    def result(self) -> GameResult:
        """The game as arena.ratings rates it (validates the winner)."""
        return GameResult(self.black, self.white, self.winner)


def pairing_name(a: str, b: str) -> str:
    """The canonical name of the pairing of two players: "A vs B" with the names sorted."""
    if a == b:
        raise SchedulingError(f"player {a!r} cannot be paired with itself")
    first, second = sorted((a, b))
    return f"{first}{_SEPARATOR}{second}"


def pairing_players(pairing: str) -> tuple[str, str]:
    """The two names of a pairing, first (sorted) first: `pairing_name` undone. Player names have
    no spaces (search_workers.schemas.PLAYER_NAME_PATTERN), so the separator is unambiguous."""
    first, separator, second = pairing.partition(_SEPARATOR)
    if not separator or not first or not second:
        raise SchedulingError(f"{pairing!r} is not a pairing name (\"A{_SEPARATOR}B\")")
    return first, second


def game_seed(tournament_seed: int, pairing: str, game_index: int) -> int:
    """The seed of one game, in [0, 2**63): SeedSequence over (seed, sha256(pairing), index)."""
    digest = hashlib.sha256(pairing.encode()).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    state = np.random.SeedSequence([tournament_seed, *words, game_index]).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))


def pair_games(
    a: str, b: str, *, first_index: int, pairs: int, tournament_seed: int, openings: Sequence[Sequence[int]]
) -> list[PlannedGame]:
    """`pairs` colour-swapped pairs of a against b, game indices from `first_index` (even) on.

    openings: the opening book; pair k (game indices 2k, 2k+1) plays openings[k % len(openings)].
    """
    if first_index < 0 or first_index % 2:
        raise SchedulingError(f"pairing {pairing_name(a, b)!r}: games continue from an even index "
                              f"(whole pairs), got {first_index}")
    if not openings:
        raise SchedulingError("the opening book is empty (use [()] for games from the empty board)")
    pairing = pairing_name(a, b)
    first, second = sorted((a, b))
    games = []
    for index in range(first_index, first_index + 2 * pairs):
        black, white = (first, second) if index % 2 == 0 else (second, first)
        opening = tuple(int(m) for m in openings[(index // 2) % len(openings)])
        games.append(PlannedGame(pairing, index, black, white, game_seed(tournament_seed, pairing, index), opening))
    return games
