"""`arena reference play`: create the server's reference ladder tournaments (ARENA_REFERENCE_LADDER),
once per condition; existing ones and their games are kept (arena.reference_ladder)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="The reference ladder: engines at fixed strengths that calibrate the Elo scale.",
                  no_args_is_help=True)


@app.command("play")
def play(
    wait: Annotated[bool, typer.Option(help="Follow the ladder's games here until they finish.")] = False,
    local_workers: Annotated[int, typer.Option(help="With --wait: start this many local workers.", min=0)] = 0,
) -> None:
    """Schedule the reference ladder's round robin for each of its conditions that has none yet."""
    from arena.cli.session import cli_context, cli_session
    from arena.cli.tournament import follow_tournament
    from arena.reference_ladder import ReferenceLadderError, configured_ladder, play_reference_ladder

    context = cli_context()
    try:
        ladder = configured_ladder(context.settings)
        if ladder is None:
            raise typer.BadParameter("no reference ladder is configured: set ARENA_REFERENCE_LADDER to a ladder "
                                     "file (README, Reference scale)", param_hint="ARENA_REFERENCE_LADDER")
        with cli_session() as session:
            made = play_reference_ladder(session, ladder, engines=context.engines)
    except ReferenceLadderError as exc:
        raise typer.BadParameter(str(exc), param_hint="ARENA_REFERENCE_LADDER") from None
    for t in made:
        state = "scheduled" if t.created else "kept (played once; its games stay)"
        typer.echo(f"tournament {t.tournament_id} {t.name!r}: {state}")
    created = [t.tournament_id for t in made if t.created]
    if wait and created:
        follow_tournament(created, local_workers=local_workers)
