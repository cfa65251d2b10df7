"""Tournament formats: which games to schedule, first and after each batch of results.

One entry point, `next_games(config, finished, scheduled, openings)`: the games still to
schedule given what is already scheduled (games per pairing) and finished (`FinishedGames`:
counts, not games, see finished.py; or the `PlayedGame`s themselves); `[]` when nothing
more is wanted (the tournament ends when the scheduled games have finished). `initial_games` is
its first call. Every game comes in a colour-swapped pair on one opening (see plan.py).

* round-robin: every pair of players, `games_per_pairing` games each.
* gauntlet: every candidate against every non-candidate (candidates do not meet each other).
* visits-ladder: one checkpoint at several visit counts, for Elo vs visits. Rungs play the rungs
  one and two steps away, not every rung: doubling visits is worth roughly 100-200 Elo, so
  far rungs (64 against 4096 visits) are near-certain wins that carry almost no information
  (a game's Fisher information is p(1 - p)); neighbours are where the games say the most.
  A chain of neighbours alone would let errors pile up along it (the variance of the top
  rung against the bottom grows with the chain's length); the second neighbours give every
  rung two independent paths and roughly halve that. Extra participants (reference engines,
  the anchors of the scale) play every rung and each other.
* adaptive: batches of `batch_pairs` pairs chosen by `arena.ratings.next_pairs` (the pairs
  expected to shrink the intervals still wider than the target), refitted on every call, until
  every 95% half-width (relative to the pool mean) is <= `target_ci` or `game_budget` games
  are scheduled. The first batch comes from the prior alone, a spread-out start.
* sprt: batches of `batch_pairs` pairs of candidate against baseline until the pentanomial
  GSPRT (`arena.ratings.sprt_pentanomial`, on complete colour-swapped pairs) decides, or
  `max_games` games are scheduled. `decision` reports the test.

Static formats return the part of their fixed plan not yet scheduled, so calling `next_games`
again after a partial write completes the plan instead of repeating it. Lists are ordered pair
by pair across pairings (every pairing's first pair, then every second pair...), so a
tournament stopped early is still balanced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from arena.ratings import SprtResult, compute_ratings, next_pairs, sprt_pentanomial
from arena.ratings.adaptive import half_width

from .config import AdaptiveConfig, GauntletConfig, SprtConfig, TournamentConfig, VisitsLadderConfig
from .errors import SchedulingError
from .finished import FinishedGames, as_finished
from .plan import PlannedGame, PlayedGame, pair_games, pairing_name

__all__ = ["GateDecision", "decision", "initial_games", "next_games", "static_pairings"]

Openings = Sequence[Sequence[int]]


def initial_games(config: TournamentConfig, openings: Openings) -> list[PlannedGame]:
    """The games to schedule when the tournament starts (a static format's whole plan)."""
    return next_games(config, [], {}, openings)


def next_games(
    config: TournamentConfig, finished: FinishedGames | Sequence[PlayedGame], scheduled: Mapping[str, int],
    openings: Openings
) -> list[PlannedGame]:
    """The games to schedule now; `[]` when the format wants no more.

    finished: the games with a result (void games left out), or their counts.
    scheduled: games already scheduled per pairing name (finished or not); indices continue
        after them, and budgets (`game_budget`, `max_games`) count them.
    openings: the opening book, e.g. from `arena.scheduling.openings.opening_book`.
    """
    names = [p.name for p in config.players()]
    _check_scheduled(names, scheduled)
    if isinstance(config, AdaptiveConfig):
        return _adaptive(config, names, as_finished(finished), scheduled, openings)
    if isinstance(config, SprtConfig):
        return _sprt(config, as_finished(finished), scheduled, openings)
    batches = []
    for a, b in static_pairings(config):
        have = scheduled.get(pairing_name(a, b), 0)
        pairs = max(config.games_per_pairing - have, 0) // 2
        batches.append(pair_games(a, b, first_index=have, pairs=pairs, tournament_seed=config.seed,
                                  openings=openings))
    return _interleave(batches)


def static_pairings(config: TournamentConfig) -> list[tuple[str, str]]:
    """The pairings of a static format, in schedule order (see the module docstring)."""
    players = [p.name for p in config.players()]
    if config.format == "round-robin":
        return list(combinations(players, 2))
    if isinstance(config, GauntletConfig):
        others = [p for p in players if p not in config.candidates]
        return [(c, o) for c in config.candidates for o in others]
    if isinstance(config, VisitsLadderConfig):
        rungs, extras = players[:len(config.visits)], players[len(config.visits):]
        chain = [(rungs[i], rungs[j]) for i, j in combinations(range(len(rungs)), 2) if j - i <= 2]
        return chain + [(e, r) for e in extras for r in rungs] + list(combinations(extras, 2))
    raise SchedulingError(f"format {config.format!r} has no fixed pairings")


def _check_scheduled(names: list[str], scheduled: Mapping[str, int]) -> None:
    known = {pairing_name(a, b) for a, b in combinations(names, 2)}
    for pairing, count in scheduled.items():
        if pairing not in known:
            raise SchedulingError(f"scheduled: {pairing!r} is not a pairing of this tournament's players")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0 or count % 2:
            raise SchedulingError(f"scheduled[{pairing!r}]: expected an even count of games (whole pairs), "
                                  f"got {count!r}")


def _interleave(batches: list[list[PlannedGame]]) -> list[PlannedGame]:
    """Pair 0 of every pairing, then pair 1 of every pairing, ... (each pair kept together)."""
    out = []
    for k in range(max((len(b) for b in batches), default=0) // 2):
        for batch in batches:
            out += batch[2 * k:2 * k + 2]
    return out


# ------------------------------------------------------------------------------------ adaptive


def _adaptive(config: AdaptiveConfig, names: list[str], finished: FinishedGames,
              scheduled: Mapping[str, int], openings: Openings) -> list[PlannedGame]:
    room = config.batch_pairs
    if config.game_budget is not None:
        room = min(room, (config.game_budget - sum(scheduled.values())) // 2)
    if room <= 0:
        return []
    target_se = None if config.target_ci is None else config.target_ci / half_width(1.0)
    if finished.games:
        ratings = compute_ratings(finished.pair_counts, players=names)
        if config.target_ci is not None and max(half_width(s) for s in ratings.stderr.values()) <= config.target_ci:
            return []
        picks = next_pairs(ratings, names, count=room, worst=len(names), target_se=target_se)
    else:
        picks = next_pairs([], names, count=room, worst=len(names), target_se=target_se)
    added: dict[str, int] = {}
    games = []
    for a, b in picks:
        pairing = pairing_name(a, b)
        first = scheduled.get(pairing, 0) + added.get(pairing, 0)
        games += pair_games(a, b, first_index=first, pairs=1, tournament_seed=config.seed, openings=openings)
        added[pairing] = added.get(pairing, 0) + 2
    return games


# ---------------------------------------------------------------------------------------- sprt


@dataclass(frozen=True)
class GateDecision:
    """Where an SPRT gate stands.

    verdict: "accept" (H1: the candidate is at least elo1 better), "reject" (H0: not better
    than elo0), "inconclusive" (the game budget is spent without a decision), or None (keep
    playing). The test counts complete colour-swapped pairs only.
    """

    verdict: Literal["accept", "reject", "inconclusive"] | None
    llr: float  # log-likelihood ratio of H1 over H0
    lower: float  # reject at or below
    upper: float  # accept at or above
    pairs: int  # complete pairs counted
    sprt: SprtResult  # the full test result (pentanomial counts, bounds, parameters)


def decision(config: TournamentConfig, finished: FinishedGames | Sequence[PlayedGame], *,
             scheduled: int | None = None) -> GateDecision:
    """The SPRT on the finished pairs of candidate against baseline.

    scheduled: games scheduled in all (default: the finished games); with no decision and
    that many >= max_games the verdict is "inconclusive".
    """
    if not isinstance(config, SprtConfig):
        raise SchedulingError(f"decision: only an sprt tournament has one, not {config.format!r}")
    if not isinstance(finished, FinishedGames):
        pairing = pairing_name(config.candidates[0], config.baseline)
        for game in finished:
            if game.pairing != pairing:
                raise SchedulingError(f"finished: game {game.pairing!r} #{game.game_index} is not of pairing "
                                      f"{pairing!r}")
    finished = as_finished(finished)
    if others := finished.players() - {config.candidates[0], config.baseline}:
        raise SchedulingError(f"finished: games of {sorted(others)!r}, who are neither candidate nor baseline")
    pentanomial = finished.pentanomial(config.candidates[0], config.baseline)
    result = sprt_pentanomial(pentanomial, elo0=config.elo0, elo1=config.elo1, alpha=config.alpha, beta=config.beta)
    verdict = {"H1": "accept", "H0": "reject", None: None}[result.decision]
    spent = finished.games if scheduled is None else scheduled
    if verdict is None and spent >= config.max_games:
        verdict = "inconclusive"
    return GateDecision(verdict, result.llr, result.lower, result.upper, sum(pentanomial), result)  # type: ignore[arg-type]


def _sprt(config: SprtConfig, finished: FinishedGames, scheduled: Mapping[str, int],
          openings: Openings) -> list[PlannedGame]:
    if decision(config, finished).verdict in ("accept", "reject"):
        return []
    candidate, baseline = config.candidates[0], config.baseline
    have = scheduled.get(pairing_name(candidate, baseline), 0)
    room = min(config.batch_pairs, (config.max_games - have) // 2)
    if room <= 0:
        return []
    return pair_games(candidate, baseline, first_index=have, pairs=room, tournament_seed=config.seed,
                      openings=openings)
