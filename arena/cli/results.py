"""`arena leaderboard`, `arena games`, `arena sgf`: what the stored games say.

    arena leaderboard --tournament ladder-1 --anchor gnugo-l10
    arena leaderboard --json | jq '.players[0]'
    arena games --player s002000@64v --limit 20
    arena sgf 42 --output game42.sgf
    arena export --tournament ladder-1 --output ladder-1.jsonl --move-stats
    arena export --tournament ladder-1 --output ladder-1.sgf.tar.gz

The queries live in `arena.db.game_queries`, `arena.db.tournament_queries` and `arena.leaderboards`
(the HTTP API shares them); this module only formats.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .console import NAME_COLUMN, cli_console
from .session import CliError, cli_session

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from arena.leaderboards import Leaderboard

TournamentRef = Annotated[str | None, typer.Option("--tournament", help="Tournament id or name; default: all games.")]


def _tournament_id(session: Session, ref: str | None) -> int | None:
    from arena.db import lookup, tournament_queries

    if ref is None:
        return None
    try:
        return tournament_queries.find_tournament(session, ref).id
    except lookup.LookupFailedError as err:
        raise typer.BadParameter(str(err), param_hint="--tournament") from None


def _elo(value: float | None) -> str:
    return "" if value is None else f"{value:+.0f}"


def _interval(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f"[{lo:+.0f}, {hi:+.0f}]"


def leaderboard(
    tournament: TournamentRef = None,
    condition: Annotated[str | None, typer.Option(help="The rating pool, e.g. '9x9 chinese komi 7.5'; default: the "
                                                  "condition with the most games (pools are never mixed).")] = None,
    anchor: Annotated[str | None, typer.Option(help="Player held at --anchor-elo; default: the pool mean "
                                               "is 0.")] = None,
    anchor_elo: Annotated[float, typer.Option(help="The anchor's Elo.")] = 0.0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap refits for percentile intervals (0: none).",
                                           min=0, max=10_000)] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resampling.", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    save: Annotated[bool, typer.Option(help="Store the ratings as a rating snapshot.")] = False,
) -> None:
    """Elo ratings with 95% intervals, head-to-head records and Elo-vs-visits curves, of one
    rating pool (board size, rules, komi)."""
    from arena.db import condition_queries, lookup, repository
    from arena.leaderboards import RatingPolicy
    from arena.leaderboards import leaderboard as fit_leaderboard
    from arena.ratings import RatingInputError

    with cli_session() as session:
        tournament_id = _tournament_id(session, tournament)
        try:
            # The command's own policy: no cache to share, and the options change the fit.
            policy = RatingPolicy(anchor=anchor, anchor_elo=anchor_elo, bootstrap=bootstrap, seed=seed)
            checked = None if condition is None else condition_queries.check_condition(condition)
            board = fit_leaderboard(session, policy, tournament_id=tournament_id, condition=checked)
        except RatingInputError as err:
            raise typer.BadParameter(str(err), param_hint="--anchor") from None
        except (lookup.LookupFailedError, ValueError) as err:  # check_condition's, choose_condition's
            raise typer.BadParameter(str(err), param_hint="--condition") from None
        snapshot_id = None
        if save and board.ratings is not None:
            parameters = dict(board.parameters, tournament_id=tournament_id, condition=board.condition)
            snapshot_id = repository.save_rating_snapshot(session, game_set=board.game_set, ratings=board.ratings,
                                                          method="bradley-terry", parameters=parameters).id
    if as_json:
        out = board.as_dict()
        out["tournament_id"] = tournament_id
        out["snapshot_id"] = snapshot_id
        typer.echo(json.dumps(out, indent=2))
        return
    console = cli_console()
    if board.ratings is None:
        console.print("no finished games to rate" + (f" in tournament {tournament}" if tournament else ""))
        return
    print_leaderboard(console, board)
    if snapshot_id is not None:
        console.print(f"saved rating snapshot {snapshot_id} (game set {board.game_set.sha256[:12]})")
    elif save:
        console.print("nothing to save: no rated games")


def print_leaderboard(console: Console, board: Leaderboard) -> None:
    from rich.table import Table

    from arena.ratings.estimability import flag_legend, flagged_interval

    ratings = board.ratings
    anchor = board.parameters.get("anchor")
    relative = f"{anchor} = {board.parameters['anchor_elo']:g}" if anchor else "pool mean = 0"
    table = Table(title=f"Elo over {board.game_set.games} games under {board.condition} ({relative}; "
                        f"game set {board.game_set.sha256[:12]})")
    flagged = any(s.flag for s in board.standings)
    headers = ["#", "player", *(["flag"] if flagged else []), "Elo", "95% CI", "± se"]
    boot = ratings.bootstrap_ci is not None
    if boot:
        headers.append("bootstrap 95%")
    headers += ["games", "W-L-D", "score"]
    for header in headers:
        if header == "player":
            table.add_column(header, **NAME_COLUMN)
        else:
            table.add_column(header, justify="left" if header in ("W-L-D", "flag") else "right")
    for rank, s in enumerate(board.standings, 1):
        # One-sided where the prior alone sets the other end, and then no ± either.
        one_sided = s.flag in ("unbeaten", "winless") and s.lo < s.hi
        row = [str(rank), s.name, *([s.flag or ""] if flagged else []), _elo(s.elo),
               flagged_interval(s.flag, s.lo, s.hi), "" if one_sided else f"{s.stderr:.0f}"]
        if boot:
            row.append(_interval(s.bootstrap_lo, s.bootstrap_hi))
        row += [str(s.games), f"{s.wins}-{s.losses}-{s.draws}", "" if s.score is None else f"{100 * s.score:.1f}%"]
        table.add_row(*row)
    console.print(table)
    for flag, text in flag_legend(s.flag for s in board.standings).items():
        console.print(f"{flag}: {text}", highlight=False)
    anchor_flag = ratings.flags.get(anchor) if anchor else None
    if anchor_flag:  # every rating above is relative to a place the prior sets
        console.print(f"warning: the anchor {anchor} is {anchor_flag}, so every Elo and interval relative to it "
                      f"rests on the fit's prior; anchor on a player the games rate (or the pool mean)",
                      highlight=False)
    others = [f"{c.condition} ({c.games} games)" for c in board.conditions if c.condition != board.condition]
    if others:
        console.print(f"other conditions (--condition): {'; '.join(others)}")
    lo, hi = ratings.colour_ci95()
    console.print(f"first-move (black) advantage: {ratings.colour_advantage_elo:+.0f} Elo, 95% CI {_interval(lo, hi)}")

    pairs = board.pairs()
    if pairs:
        h2h = Table(title="Head to head (first player's record; Elo difference from the score)")
        for header in ("player", "opponent", "W-L-D", "score", "Elo diff", "95% CI", "model diff"):
            if header in ("player", "opponent"):
                h2h.add_column(header, **NAME_COLUMN)
            else:
                h2h.add_column(header, justify="left" if header == "W-L-D" else "right")
        for a, b in pairs:
            r = board.head_to_head.record(a, b)
            model = "" if r.model_elo_diff is None else f"{r.model_elo_diff:+.0f} ± {1.96 * r.model_elo_stderr:.0f}"
            h2h.add_row(a, b, f"{r.wins}-{r.losses}-{r.draws}", f"{100 * r.score:.1f}%",
                        _elo(r.elo_diff) + ("*" if r.adjusted else ""), _interval(r.elo_lo, r.elo_hi), model)
        console.print(h2h)
        if any(board.head_to_head.record(a, b).adjusted for a, b in pairs):
            console.print("* one virtual win and loss added: the score was 0%, 100% or without variance")

    for checkpoint, points in board.visits_curves.items():
        curve = Table(title=f"Elo vs visits: {checkpoint}")
        for header in ("visits", "player", "Elo", "95% CI", "gain"):
            if header == "player":
                curve.add_column(header, **NAME_COLUMN)
            else:
                curve.add_column(header, justify="right")
        previous = None
        for player, point in points:
            gain = ""
            if previous is not None and not ratings.comparable(player, previous):
                gain = "not comparable"  # no games link the two: the prior alone would give a difference
            elif previous is not None:
                diff, se = ratings.difference(player, previous)
                gain = f"{diff:+.0f} ± {1.96 * se:.0f}"
            curve.add_row(str(point.visits), player, _elo(point.elo),
                          flagged_interval(ratings.flags.get(player), point.lo, point.hi), gain)
            previous = player
        console.print(curve)


def games(
    player: Annotated[str | None, typer.Option(help="Only games this player played (either colour).")] = None,
    tournament: TournamentRef = None,
    limit: Annotated[int, typer.Option(help="Newest N games.", min=1, max=100_000)] = 50,
) -> None:
    """Finished games, newest first."""
    from rich.table import Table

    from arena.db import game_queries

    with cli_session() as session:
        rows = game_queries.list_games(session, player=player, tournament_id=_tournament_id(session, tournament),
                                       limit=limit)
    if not rows:
        typer.echo("no finished games" + (f" of {player}" if player else ""))
        return
    table = Table(title=f"{len(rows)} finished game{'s' if len(rows) != 1 else ''}, newest first")
    for header in ("id", "tournament", "black", "white", "result", "moves", "duration", "finished at"):
        if header in ("tournament", "black", "white"):
            table.add_column(header, **NAME_COLUMN)
        else:
            table.add_column(header, justify="right" if header in ("id", "moves", "duration") else "left")
    for g in rows:
        table.add_row(str(g.id), g.tournament, g.black, g.white, g.result, str(g.move_count), f"{g.duration_s:.1f} s",
                      g.finished_at.strftime("%Y-%m-%d %H:%M:%S"))
    cli_console().print(table)


def sgf(
    game_id: Annotated[int, typer.Argument(help="The game's id (as `arena games` lists it).", min=1)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the SGF to this file.")] = None,
) -> None:
    """Print (or write) the stored SGF of a finished game."""
    from arena.db import game_queries, lookup

    with cli_session() as session:
        try:
            text = game_queries.game_sgf(session, game_id)
        except lookup.LookupFailedError as err:
            raise CliError(str(err)) from None
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


# What `arena export` writes, by the output's name (the API's export routes write the same bytes).
EXPORT_SUFFIXES = (".jsonl", ".sgf.tar.gz")


def export(
    tournament: Annotated[str, typer.Option("--tournament", help="Tournament id or name.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write: NAME.jsonl (one JSON object "
                                         "per game) or NAME.sgf.tar.gz (one <id>.sgf per game).")],
    move_stats: Annotated[bool, typer.Option("--move-stats", help="JSON lines: add per-move statistics.")] = False,
) -> None:
    """Write every finished game of a tournament to a file, a batch at a time (any size)."""
    from arena.game_export import jsonl_chunks, sgf_tar_chunks

    if not output.name.endswith(EXPORT_SUFFIXES):
        raise typer.BadParameter(f"must end in {' or '.join(EXPORT_SUFFIXES)}", param_hint="--output")
    if move_stats and not output.name.endswith(".jsonl"):
        raise typer.BadParameter("only a .jsonl export holds per-move statistics", param_hint="--move-stats")
    with cli_session() as session:
        tournament_id = _tournament_id(session, tournament)
        sessions = lambda: nullcontext(session)  # noqa: E731 -- every batch on the command's one session
        chunks = (jsonl_chunks(sessions, tournament_id, move_stats=move_stats) if output.name.endswith(".jsonl")
                  else sgf_tar_chunks(sessions, tournament_id))
        written = 0
        with output.open("wb") as file:
            for chunk in chunks:
                written += file.write(chunk)
    typer.echo(f"wrote {output} ({written:,} bytes)", err=True)
