"""`arena demo` (`make demo`): the whole arena on one machine, the way a researcher uses it.

With nothing configured it runs embedded: PostgreSQL from the pip package, the filesystem
Celery broker, local worker processes, in-process Torch. It registers the demo checkpoints
(one training run), a visits ladder of the newest one and GNU Go when installed, plays a
round-robin between them with a live progress bar, then prints the leaderboard with 95%
intervals, the head-to-head table and the Elo-vs-visits curve, and writes every game as SGF.

Every step is the public one (`arena checkpoint register`, `arena tournament create`,
`arena worker`, `arena leaderboard`, `arena sgf`), so the demo is also the end-to-end test
(`make test` runs it in a reduced size).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def _visits_list(text: str) -> list[int]:
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise typer.BadParameter(f"{text!r}: comma-separated visit counts", param_hint="--ladder") from None
    if len(values) < 2 or values[0] < 1:
        raise typer.BadParameter("at least two positive visit counts", param_hint="--ladder")
    return values


def demo(
    visits: Annotated[int, typer.Option(help="Visits of every checkpoint in the round-robin.", min=1,
                                        max=100_000)] = 32,
    ladder: Annotated[str, typer.Option(help="Visit counts of the newest checkpoint's ladder rungs.")] = "8,128",
    games_per_pairing: Annotated[int, typer.Option("--games-per-pairing", help="Games per pairing (even).",
                                                   min=2)] = 10,
    workers: Annotated[int, typer.Option(help="Local worker processes (one torch thread each).", min=1)] = 2,
    gnugo: Annotated[bool, typer.Option(help="Include GNU Go (level 1) when it is installed.")] = True,
    sgf_dir: Annotated[Path | None, typer.Option("--sgf-dir", help="Where to write the games as SGF; "
                                                 "default: <data dir>/demo-sgf/<tournament>.")] = None,
    seed: Annotated[int, typer.Option(help="Tournament seed (openings, game seeds).", min=0)] = 2026,
) -> None:
    """Register the demo checkpoints, play a round-robin with a live progress bar, print the ratings."""
    from arena.cli import checkpoint
    from arena.cli.console import cli_console
    from arena.cli.results import print_leaderboard
    from arena.cli.session import cli_context, cli_session
    from arena.cli.tournament import follow_tournament
    from arena.db import game_queries, migrate
    from arena.db.connection import database_url
    from arena.leaderboards import leaderboard
    from arena.scheduling import RoundRobinConfig
    from arena.tournament_creation import create_and_dispatch
    from arena.tournaments import TournamentError
    from models.demo import demo_manifests

    console = cli_console()  # unbounded off a terminal: player names are never cut in a log
    context = cli_context()
    settings = context.settings
    started = time.perf_counter()
    where = settings.database_url or f"embedded PostgreSQL in {settings.data_dir}"
    console.print(f"[bold]Go Arena demo[/bold]: database {where}; broker "
                  f"{settings.broker_url or 'filesystem (' + str(settings.broker_dir()) + ')'}")
    if games_per_pairing % 2:
        raise typer.BadParameter("must be even (colour-swapped pairs)", param_hint="--games-per-pairing")
    rungs = [v for v in _visits_list(ladder) if v != visits]
    migrate.upgrade(database_url(settings))
    manifests = demo_manifests()
    if len(manifests) < 2:
        raise typer.BadParameter("the demo checkpoints (models/demo_checkpoints) are missing")
    for path in manifests:
        checkpoint.register(path, name=None)  # `arena checkpoint register PATH`: verify, store, record
    names = [path.stem for path in manifests]
    newest = names[-1]
    participants = [{"name": f"{name}@{visits}v", "kind": "checkpoint", "ref": name, "visits": visits}
                    for name in names]
    participants += [{"name": f"{newest}@{v}v", "kind": "checkpoint", "ref": newest, "visits": v} for v in rungs]
    engines = context.engines
    if gnugo and "gnugo-l1" in engines:
        participants.append({"name": "gnugo-l1", "kind": "engine", "ref": "gnugo-l1"})
        console.print("GNU Go is installed: gnugo-l1 (level 1) plays too, and GNU Go settles dead stones")
    elif gnugo:
        console.print("GNU Go is not installed (apt-get install gnugo): checkpoints only, Tromp-Taylor scoring")
    name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    config = RoundRobinConfig(name=name, format="round-robin", participants=participants, board_size=9,
                              rules="chinese", komi=7.5, games_per_pairing=games_per_pairing, seed=seed,
                              openings={"source": "random", "plies": 4, "count": 64, "seed": seed})
    try:
        with cli_session() as session:
            created = create_and_dispatch(session, config, context, send_now=False)  # follow_tournament sends
            tid, scheduled = created.tournament_id, created.games_scheduled
    except TournamentError as exc:
        raise typer.BadParameter(str(exc), param_hint="demo tournament") from None
    console.print(f"tournament {tid} {name!r}: round-robin of {len(participants)} players, "
                  f"{scheduled} games (colour-swapped pairs on shared random openings), {workers} local workers")
    follow_tournament([tid], local_workers=workers)
    with cli_session() as session:
        board = leaderboard(session, tournament_id=tid)
        print_leaderboard(console, board)
        games = game_queries.list_games(session, tournament_id=tid, limit=100_000)
        out = sgf_dir or settings.data_dir / "demo-sgf" / name
        out.mkdir(parents=True, exist_ok=True)
        for game in games:
            (out / f"game-{game.id:05d}.sgf").write_text(game_queries.game_sgf(session, game.id), encoding="utf-8")
    console.print(f"{len(games)} games written as SGF to {out}")
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s "
                  f"(arena leaderboard --tournament {tid}; arena games --tournament {tid}; arena sgf ID)")

