"""What a rating fit reads, kept up to date as games are stored: per-pair counts and a fingerprint.

A leaderboard needs, per ordered (black, white) pair, the wins of each colour and the draws of
its rated games (not Void), and a hash that names those exact games. Counting and hashing them
from `finished_games` costs a scan of every game (4 s at a million games); instead
`count_rated_game` adds each game to its pair's `rating_pairs` row in the transaction that stores
the game, so a fit reads one row per pair and tournament, whatever the number of games.

The fingerprint: each game contributes sha256("<id>\\t<black id>\\t<white id>\\t<result>"), XORed
into its pair's `digest`; a game set's `RatedGameSet.sha256` is the sha256 of one line per pair,
"<black>\\t<white>\\t<black wins>\\t<white wins>\\t<draws>\\t<digest hex>\\n" in (black, white) order,
the digest XORed over the pool's tournaments. Finished games are never rewritten or deleted
(nothing in the arena does; a hand-run UPDATE or DELETE of `finished_games` must be followed by
`rebuild_rating_pairs`), so equal hashes mean the same games, and the hash does not depend on the
order the games were stored in. Hashes of rating snapshots stored before migration 0009 used
another definition (one line per game) and do not compare with these.

`rebuild_rating_pairs` recounts every pair from the games (migration 0009's backfill, and writers
that bypass `record_finished_game`, such as the API benchmark's bulk loader).

An SPRT reads complete colour-swapped pairs instead (`arena.scheduling.finished`): the
`pair_pentanomials` row of a tournament's pairing counts them by the total score of the pair's
first player (Black in its even game), and `count_pentanomial` adds a pair when the game that
completes it is stored; `rebuild_pentanomials` recounts them from the games.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, String, cast, func, select, text
from sqlalchemy.dialects.postgresql import BIT, insert
from sqlalchemy.orm import Session, aliased

from arena.db.models import PENTANOMIAL_COLUMNS, FinishedGame, PairPentanomial, Player, RatingPair, ScheduledGame, Tournament
from arena.ratings import PairCounts
from search_workers.go.color import Color
from search_workers.go.results import VOID, WINNER_PREFIX, parse_result

__all__ = ["RatedGameSet", "count_pentanomial", "count_rated_game", "game_digest", "pentanomials", "rated_game_set",
           "rebuild_pentanomials", "rebuild_rating_pairs"]

DIGEST_BITS = 256
_ZERO = "0" * DIGEST_BITS


@dataclass(frozen=True)
class RatedGameSet:
    """The exact games a rating fit uses, as counts per ordered (black, white) pair, and a hash
    that names them (see the module docstring). Counts rather than one object per game: the fit
    only needs the counts, and cached leaderboards keep their game sets alive."""

    counts: dict[tuple[str, str], PairCounts]  # ordered by (black, white)
    games: int
    sha256: str


def game_digest(game_id: int, black_id: int, white_id: int, result: str) -> str:
    """One game's contribution to its pair's digest, as the 256-character bit string PostgreSQL's
    bit(256) takes."""
    digest = hashlib.sha256(f"{game_id}\t{black_id}\t{white_id}\t{result}".encode()).digest()
    return format(int.from_bytes(digest, "big"), f"0{DIGEST_BITS}b")


def count_rated_game(session: Session, *, game_id: int, tournament_id: int, black_id: int, white_id: int,
                     result: str) -> None:
    """Add a newly stored game to its pair's counts (nothing for a Void game). Call it in the
    transaction that stores the game, once per game: the upsert takes the pair row's lock, so
    concurrent writers of one pair queue instead of losing a count."""
    parsed = parse_result(result)
    if parsed.kind == "void":
        return
    row = {"tournament_id": tournament_id, "black_player_id": black_id, "white_player_id": white_id,
           "wins_black": int(parsed.winner is Color.BLACK), "wins_white": int(parsed.winner is Color.WHITE),
           "draws": int(parsed.winner is None), "digest": cast(game_digest(game_id, black_id, white_id, result),
                                                              BIT(DIGEST_BITS))}
    statement = insert(RatingPair).values(row)
    new = statement.excluded
    session.execute(statement.on_conflict_do_update(
        index_elements=[RatingPair.tournament_id, RatingPair.black_player_id, RatingPair.white_player_id],
        set_={"wins_black": RatingPair.wins_black + new.wins_black,
              "wins_white": RatingPair.wins_white + new.wins_white,
              "draws": RatingPair.draws + new.draws,
              "digest": RatingPair.digest.op("#")(new.digest)}))


def rated_game_set(session: Session, tournament_id: int | None = None, *,
                   condition: str | None = None) -> RatedGameSet:
    """The rated games of one tournament and/or of the tournaments under `condition` (a rating
    pool, `arena.scheduling.conditions.condition_key`), from their pairs' counts: a row per pair
    and tournament is read, never the games."""
    black, white = aliased(Player), aliased(Player)
    query = (select(black.name, white.name, func.sum(RatingPair.wins_black), func.sum(RatingPair.wins_white),
                    func.sum(RatingPair.draws), cast(func.bit_xor(RatingPair.digest), String))
             .join(black, black.id == RatingPair.black_player_id)
             .join(white, white.id == RatingPair.white_player_id)
             .group_by(black.name, white.name))
    if tournament_id is not None:
        query = query.where(RatingPair.tournament_id == tournament_id)
    if condition is not None:
        query = query.join(Tournament, Tournament.id == RatingPair.tournament_id).where(
            Tournament.condition == condition)
    counts: dict[tuple[str, str], PairCounts] = {}
    lines = []
    for black_name, white_name, wins_black, wins_white, draws, digest in session.execute(query):
        wins_black, wins_white, draws = int(wins_black), int(wins_white), int(draws)
        if wins_black + wins_white + draws == 0:
            continue
        counts[black_name, white_name] = PairCounts(black_name, white_name, wins_black, wins_white, draws)
        digest_hex = format(int(digest or _ZERO, 2), f"0{DIGEST_BITS // 4}x")
        lines.append((black_name, white_name, f"{black_name}\t{white_name}\t{wins_black}\t{wins_white}\t{draws}"
                                              f"\t{digest_hex}\n"))
    lines.sort()
    sha = hashlib.sha256("".join(line for _, _, line in lines).encode()).hexdigest()
    ordered = dict(sorted(counts.items()))
    return RatedGameSet(counts=ordered, games=sum(c.games for c in ordered.values()), sha256=sha)


# Every pair's counts and digest recomputed from the stored games, by the rule of
# `count_rated_game` (search_workers.go.results): a Void game does not count; a result names its
# winner by its WINNER_PREFIX ("B+"/"W+"), anything else rated is a draw.
_REBUILD = text("""
    INSERT INTO rating_pairs (tournament_id, black_player_id, white_player_id, wins_black, wins_white, draws, digest)
    SELECT tournament_id, black_player_id, white_player_id,
           count(*) FILTER (WHERE left(result, 2) = :black_wins),
           count(*) FILTER (WHERE left(result, 2) = :white_wins),
           count(*) FILTER (WHERE left(result, 2) NOT IN (:black_wins, :white_wins)),
           bit_xor(('x' || encode(sha256(convert_to(scheduled_game_id::text || E'\\t' || black_player_id::text
                   || E'\\t' || white_player_id::text || E'\\t' || result, 'UTF8')), 'hex'))::bit(256))
    FROM finished_games WHERE result <> :void
    GROUP BY tournament_id, black_player_id, white_player_id
""").bindparams(black_wins=WINNER_PREFIX[Color.BLACK], white_wins=WINNER_PREFIX[Color.WHITE], void=VOID)


def rebuild_rating_pairs(connection: Connection | Session) -> None:
    """Recount every pair from the stored games, in the caller's transaction. Games being stored
    meanwhile wait for its commit (SHARE lock), so none is counted twice or missed."""
    connection.execute(text("LOCK TABLE finished_games IN SHARE MODE"))
    connection.execute(text("DELETE FROM rating_pairs"))
    connection.execute(_REBUILD)


def _half_points_of_even_black(game_index: int, result: str) -> int:
    """The half points one game gives the Black of its pair's even game (by the rating rule)."""
    winner = parse_result(result).winner
    if winner is None:
        return 1
    even_black_won = (winner is Color.BLACK) == (game_index % 2 == 0)
    return 2 if even_black_won else 0


def count_pentanomial(session: Session, game: ScheduledGame, result: str) -> None:
    """Count `game`'s pair into its pairing's `pair_pentanomials` row if storing `game` (with
    `result`) completes it: its partner (game_index ^ 1) is stored and neither is Void.

    Call it in the transaction that stores the game, after the tournament's row is updated
    (`repository.record_finished_game`): that row lock orders the writers of one tournament, so
    of a pair's two games stored at once the second sees the first (READ COMMITTED reads what
    committed before each statement) and exactly one of them counts the pair."""
    if parse_result(result).kind == "void":
        return
    partner = session.execute(
        select(ScheduledGame.game_index, FinishedGame.result)
        .join(FinishedGame, FinishedGame.scheduled_game_id == ScheduledGame.id)
        .where(ScheduledGame.tournament_id == game.tournament_id, ScheduledGame.pairing == game.pairing,
               ScheduledGame.game_index == game.game_index ^ 1)).first()
    if partner is None or parse_result(partner.result).kind == "void":
        return
    total = (_half_points_of_even_black(game.game_index, result)
             + _half_points_of_even_black(partner.game_index, partner.result))
    first = game.black_player_id if game.game_index % 2 == 0 else game.white_player_id
    row = {"tournament_id": game.tournament_id, "pairing": game.pairing, "first_player_id": first,
           **{column: int(index == total) for index, column in enumerate(PENTANOMIAL_COLUMNS)}}
    statement = insert(PairPentanomial).values(row)
    session.execute(statement.on_conflict_do_update(
        index_elements=[PairPentanomial.tournament_id, PairPentanomial.pairing],
        set_={column: getattr(PairPentanomial, column) + getattr(statement.excluded, column)
              for column in PENTANOMIAL_COLUMNS}))


def pentanomials(session: Session, tournament_id: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Per pairing of the tournament: (the name of the player the counts are by, counts of complete
    pairs by that player's total score 0, 1/2, 1, 3/2, 2)."""
    rows = session.execute(
        select(PairPentanomial.pairing, Player.name, *(getattr(PairPentanomial, c) for c in PENTANOMIAL_COLUMNS))
        .join(Player, Player.id == PairPentanomial.first_player_id)
        .where(PairPentanomial.tournament_id == tournament_id)).all()
    return {pairing: (name, tuple(int(c) for c in counts)) for pairing, name, *counts in rows}


# Every pairing's pentanomial recomputed from the stored games, by the rule of `count_pentanomial`.
_REBUILD_PENTANOMIALS = text("""
    INSERT INTO pair_pentanomials (tournament_id, pairing, first_player_id, scored_0, scored_half, scored_1,
                                   scored_1_half, scored_2)
    SELECT tournament_id, pairing, min(first), count(*) FILTER (WHERE total = 0), count(*) FILTER (WHERE total = 1),
           count(*) FILTER (WHERE total = 2), count(*) FILTER (WHERE total = 3), count(*) FILTER (WHERE total = 4)
    FROM (SELECT s.tournament_id, s.pairing,
                 max(CASE WHEN s.game_index % 2 = 0 THEN f.black_player_id ELSE f.white_player_id END) AS first,
                 sum(CASE WHEN left(f.result, 2) = :black_wins THEN CASE WHEN s.game_index % 2 = 0 THEN 2 ELSE 0 END
                          WHEN left(f.result, 2) = :white_wins THEN CASE WHEN s.game_index % 2 = 0 THEN 0 ELSE 2 END
                          ELSE 1 END) AS total
          FROM scheduled_games s JOIN finished_games f ON f.scheduled_game_id = s.id
          WHERE f.result <> :void
          GROUP BY s.tournament_id, s.pairing, s.game_index / 2
          HAVING count(*) = 2) pairs
    GROUP BY tournament_id, pairing
""").bindparams(black_wins=WINNER_PREFIX[Color.BLACK], white_wins=WINNER_PREFIX[Color.WHITE], void=VOID)


def rebuild_pentanomials(connection: Connection | Session) -> None:
    """Recount every pairing's complete pairs from the stored games (writers that bypass
    `record_finished_game`)."""
    connection.execute(text("LOCK TABLE finished_games IN SHARE MODE"))
    connection.execute(text("DELETE FROM pair_pentanomials"))
    connection.execute(_REBUILD_PENTANOMIALS)
