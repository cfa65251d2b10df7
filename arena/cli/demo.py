"""`arena demo`: show what the arena can do today, honestly.

Until tournaments exist this plays a game between two uniform-random players under the default
rules, prints it as a board and as SGF, and runs the rules benchmark on 9x9 and 19x19.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from search_workers.go import Color, GameRecord, benchmark_rules, random_game, to_ascii, write_sgf


def demo(
    board_size: Annotated[int, typer.Option("--board-size", help="Board size of the demo game.")] = 9,
    seed: Annotated[int, typer.Option(help="Seed of the demo game.")] = 2026,
    bench_seconds: Annotated[float, typer.Option(help="Seconds per rules benchmark.", min=0.1)] = 2.0,
) -> None:
    """Play a random-vs-random game, print it as SGF, and run the rules benchmark."""
    state = random_game(board_size, seed=seed)
    typer.echo(f"A game between two uniform-random players ({state.rules.describe()}, komi {state.rules.komi}):")
    typer.echo(to_ascii(state.stones()))
    typer.echo(f"{state.move_number} moves, captures B {state.captures[Color.BLACK]} "
               f"W {state.captures[Color.WHITE]}, Tromp-Taylor score {state.score():+g}, result {state.result}")
    typer.echo("\nAs SGF:")
    typer.echo(write_sgf(GameRecord.from_state(state, black="random", white="random", game_name="arena demo")))
    typer.echo("\nRules benchmark (random legal games, one core):")
    for n in (9, 19):
        typer.echo(json.dumps(benchmark_rules(n, seconds=bench_seconds).as_json()))
