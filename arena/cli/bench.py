"""`arena bench ...`: the project's speed benchmarks. Each prints one JSON object as its last line.

These commands are how the project's speed is judged over time: keep their names, options and
JSON keys stable.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from search_workers.go import RulesError, benchmark_rules

app = typer.Typer(help="Speed benchmarks; the last line of each is a JSON object.", no_args_is_help=True)


def emit(result: dict) -> None:
    """Print the benchmark's result as the final line of output."""
    typer.echo(json.dumps(result), nl=True)


@app.command("rules")
def rules(
    board_size: Annotated[int, typer.Option("--board-size", help="Board size, 2-25.")] = 9,
    seconds: Annotated[float, typer.Option(help="Approximate total timed duration.", min=0.1, max=600)] = 5.0,
    rounds: Annotated[int, typer.Option(help="Timed rounds; the median rate is reported.", min=1, max=100)] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the random games.")] = 1,
) -> None:
    """Random legal games on one core (no own-eye filling; full legality incl. the ko rule)."""
    try:
        result = benchmark_rules(board_size, seconds=seconds, repeats=rounds, seed=seed)
    except RulesError as err:
        raise typer.BadParameter(str(err), param_hint="--board-size") from None
    typer.echo(f"{result.games} random games, {result.moves} moves in {result.seconds:.2f} s "
               f"({result.board_size}x{result.board_size}, {result.rules}); median of {rounds} rounds:", err=True)
    emit(result.as_json())
