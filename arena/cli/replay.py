"""`arena replay GAME_ID`: play a stored game again from its record and compare the moves."""

from __future__ import annotations

from typing import Annotated

import typer

from .session import CliError, cli_session


def replay(
    game_id: Annotated[int, typer.Argument(help="The game's id (as `arena games` lists it).", min=1)],
    device: Annotated[str, typer.Option(help="torch device of the networks.")] = "cpu",
) -> None:
    """Replay a finished game from its record alone; report the first move that differs, if any.

    Exit status 0 when the replay plays the stored game move for move, 1 when it differs.
    """
    from arena.replay import ReplayError, replay_game
    from arena.settings import get_settings
    from search_workers.go import coords

    with cli_session() as session:
        try:
            report = replay_game(session, game_id, checkpoint_root=get_settings().checkpoint_root(), device=device)
        except (ReplayError, FileNotFoundError) as err:
            raise CliError(str(err)) from None
    index = report.first_difference
    if index is None:
        typer.echo(f"game {game_id}: identical, {len(report.stored)} moves, {report.stored_result}")
        return

    def vertex(moves: tuple[int, ...]) -> str:
        return coords.to_gtp(moves[index], report.board_size) if index < len(moves) else "(game over)"

    typer.echo(f"game {game_id}: differs at move {index + 1}: stored {vertex(report.stored)}, replayed "
               f"{vertex(report.replayed)} (results {report.stored_result} / {report.replayed_result})")
    raise typer.Exit(1)
