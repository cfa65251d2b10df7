"""Typed game records and their aggregate form.

Rating works on aggregated counts per ordered (black, white) pair, so a pool of 100,000 games
costs no more to fit than its (at most n * (n - 1)) distinct pairings.

Everything here validates its input and raises `RatingInputError` (a `ValueError`) naming the
problem: a result naming a third player as winner, a player playing itself, negative or
non-integer counts, a game claiming both sides won, a player outside a declared roster.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "GameResult",
    "PairCounts",
    "RatingInputError",
    "aggregate",
]


class RatingInputError(ValueError):
    """Input that cannot be rated: inconsistent results, unknown players, bad counts, no games."""


def _check_name(name: object, role: str) -> None:
    if not isinstance(name, str) or not name:
        raise RatingInputError(f"{role} must be a non-empty player name, got {name!r}")


@dataclass(frozen=True, slots=True)
class GameResult:
    """One game: `black` moved first; `winner` is `black`, `white`, or None for a draw."""

    black: str
    white: str
    winner: str | None

    def __post_init__(self) -> None:
        _check_name(self.black, "black")
        _check_name(self.white, "white")
        if self.black == self.white:
            raise RatingInputError(f"player {self.black!r} cannot play itself")
        if self.winner is not None and self.winner != self.black and self.winner != self.white:
            raise RatingInputError(
                f"winner {self.winner!r} is a third player: the game was {self.black!r} (black) "
                f"vs {self.white!r} (white)"
            )

    @classmethod
    def from_flags(cls, black: str, white: str, *, black_won: bool, white_won: bool) -> GameResult:
        """Build from two "won" flags as some stores record them; both set is rejected."""
        if black_won and white_won:
            raise RatingInputError(
                f"inconsistent result: game {black!r} (black) vs {white!r} (white) claims both sides won"
            )
        return cls(black, white, black if black_won else white if white_won else None)


def _check_count(value: object, what: str, black: str, white: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise RatingInputError(f"{what} for {black!r} vs {white!r} must be an integer, got {value!r}")
    if value < 0:
        raise RatingInputError(f"negative count: {what} = {value} for {black!r} vs {white!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class PairCounts:
    """All games with `black` moving first against `white`: wins of each side and draws."""

    black: str
    white: str
    wins_black: int = 0
    wins_white: int = 0
    draws: int = 0

    def __post_init__(self) -> None:
        _check_name(self.black, "black")
        _check_name(self.white, "white")
        if self.black == self.white:
            raise RatingInputError(f"player {self.black!r} cannot play itself")
        for field in ("wins_black", "wins_white", "draws"):
            object.__setattr__(self, field, _check_count(getattr(self, field), field, self.black, self.white))

    @property
    def games(self) -> int:
        return self.wins_black + self.wins_white + self.draws


def aggregate(
    results: Iterable[GameResult | PairCounts], *, players: Iterable[str] | None = None
) -> dict[tuple[str, str], PairCounts]:
    """Sum games (or partial counts) into one `PairCounts` per ordered (black, white) pair.

    With `players` given, a result naming anyone outside that roster is rejected.
    """
    roster = None if players is None else set(players)
    totals: dict[tuple[str, str], list[int]] = {}
    for item in results:
        if isinstance(item, GameResult):
            key = (item.black, item.white)
            cell = totals.setdefault(key, [0, 0, 0])
            if item.winner is None:
                cell[2] += 1
            elif item.winner == item.black:
                cell[0] += 1
            else:
                cell[1] += 1
        elif isinstance(item, PairCounts):
            key = (item.black, item.white)
            cell = totals.setdefault(key, [0, 0, 0])
            cell[0] += item.wins_black
            cell[1] += item.wins_white
            cell[2] += item.draws
        else:
            raise RatingInputError(f"expected GameResult or PairCounts, got {type(item).__name__}")
        if roster is not None:
            for name in key:
                if name not in roster:
                    raise RatingInputError(f"unknown player {name!r}: not in the declared roster")
    return {key: PairCounts(key[0], key[1], *cell) for key, cell in totals.items()}


def as_pair_counts(
    data: Iterable[GameResult | PairCounts] | Mapping[tuple[str, str], PairCounts],
    *,
    players: Iterable[str] | None = None,
) -> dict[tuple[str, str], PairCounts]:
    """Normalise results, counts, or an `aggregate` mapping into the aggregate mapping."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(value, PairCounts) or (value.black, value.white) != tuple(key):
                raise RatingInputError(f"mapping entry {key!r} must be PairCounts for that (black, white)")
        data = data.values()
    if isinstance(data, (str, bytes)):
        raise RatingInputError("expected game results or pair counts, got a string")
    return aggregate(data, players=players)
