"""What the dynamic formats (adaptive, sprt) read of a tournament's finished games: counts, not games.

A format decides its next batch from the results so far. Read as one object per game, that cost
the scheduler a pass over every game of the tournament per batch: 1.8-2.7 s at 200,000 games,
batch after batch (quadratic over a tournament). The formats need only

* `pair_counts`: per ordered (black, white) pair, black's wins, white's wins and draws (what a
  rating fit reads; the database keeps them as games are stored, `arena.db.rating_inputs`);
* `pentanomials`: per pairing, the complete colour-swapped pairs counted by the pairing's first
  player's total score (0, 1/2, 1, 3/2, 2), as the SPRT counts them (a pair with a void game or
  a game still to play is left out).

`FinishedGames.of(games)` makes them from `PlayedGame`s (tests, small pools); the tournament
service reads them from the database (`arena.tournaments`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from arena.ratings import PairCounts

from .plan import PlayedGame, pairing_name

__all__ = ["FinishedGames", "Pentanomial", "as_finished"]

Pentanomial = tuple[int, int, int, int, int]  # pairs whose total score is 0, 1/2, 1, 3/2, 2


@dataclass(frozen=True)
class FinishedGames:
    """A tournament's finished games (void left out) as the formats read them (module doc)."""

    games: int = 0
    pair_counts: Mapping[tuple[str, str], PairCounts] = field(default_factory=dict)
    pentanomials: Mapping[str, Pentanomial] = field(default_factory=dict)  # first player's view

    @classmethod
    def of(cls, games: Sequence[PlayedGame]) -> FinishedGames:
        """The counts of `games` (each validated: its winner must be one of its players)."""
        counts: dict[tuple[str, str], list[int]] = {}
        halves: dict[tuple[str, int], dict[int, int]] = {}  # (pairing, pair) -> game -> first player's score x2
        for game in games:
            game.result()  # validates the winner
            tally = counts.setdefault((game.black, game.white), [0, 0, 0])
            tally[2 if game.winner is None else 0 if game.winner == game.black else 1] += 1
            first = min(game.black, game.white)  # the pairing's first name (pairing_name sorts them)
            score = 1 if game.winner is None else 2 * (game.winner == first)
            halves.setdefault((game.pairing, game.game_index // 2), {})[game.game_index % 2] = score
        pentanomials: dict[str, list[int]] = {}
        for (pairing, _), scores in halves.items():
            if len(scores) == 2:
                pentanomials.setdefault(pairing, [0, 0, 0, 0, 0])[scores[0] + scores[1]] += 1
        return cls(games=len(games),
                   pair_counts={pair: PairCounts(*pair, *tally) for pair, tally in sorted(counts.items())},
                   pentanomials={p: tuple(t) for p, t in sorted(pentanomials.items())})  # type: ignore[misc]

    def players(self) -> set[str]:
        return {name for pair in self.pair_counts for name in pair}

    def pentanomial(self, player: str, opponent: str) -> Pentanomial:
        """The complete pairs of `player` against `opponent`, counted by `player`'s total score."""
        pairing = pairing_name(player, opponent)
        tally = self.pentanomials.get(pairing, (0, 0, 0, 0, 0))
        return tally if min(player, opponent) == player else tally[::-1]  # type: ignore[return-value]


def as_finished(finished: FinishedGames | Sequence[PlayedGame]) -> FinishedGames:
    return finished if isinstance(finished, FinishedGames) else FinishedGames.of(finished)
