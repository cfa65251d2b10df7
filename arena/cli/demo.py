"""`arena demo`: show what the arena can do today, honestly.

Until tournaments exist this plays a game between two uniform-random players and prints it as
SGF, plays a short searched match between the first and the last demo checkpoint, and runs the
rules and search benchmarks.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from search_workers.go import Color, GameRecord, Rules, benchmark_rules, random_game, to_ascii, write_sgf


def demo(
    board_size: Annotated[int, typer.Option("--board-size", help="Board size of the random game.")] = 9,
    seed: Annotated[int, typer.Option(help="Seed of the random game.")] = 2026,
    match_games: Annotated[int, typer.Option(help="Games of the checkpoint match (even).", min=0)] = 8,
    visits: Annotated[int, typer.Option(help="Playouts per move in the match.", min=1)] = 32,
    bench_seconds: Annotated[float, typer.Option(help="Seconds per rules benchmark.", min=0.1)] = 2.0,
) -> None:
    """Play a random game (printed as SGF), a checkpoint match with search, and the benchmarks."""
    state = random_game(board_size, seed=seed)
    typer.echo(f"A game between two uniform-random players ({state.rules.describe()}, komi {state.rules.komi}):")
    typer.echo(to_ascii(state.stones()))
    typer.echo(f"{state.move_number} moves, captures B {state.captures[Color.BLACK]} "
               f"W {state.captures[Color.WHITE]}, Tromp-Taylor score {state.score():+g}, result {state.result}")
    typer.echo("\nAs SGF:")
    typer.echo(write_sgf(GameRecord.from_state(state, black="random", white="random", game_name="arena demo")))
    if match_games:
        checkpoint_match(match_games - match_games % 2 or 2, visits)
    typer.echo("\nRules benchmark (random legal games, one core):")
    for n in (9, 19):
        typer.echo(json.dumps(benchmark_rules(n, seconds=bench_seconds).as_json()))
    from search_workers.evaluators import UniformEvaluator
    from search_workers.search.benchmark import benchmark_search

    typer.echo("Search benchmark (tree + rules per playout, no network):")
    typer.echo(json.dumps(benchmark_search(UniformEvaluator(9), visits=200, games=64, moves=4, repeats=1).as_json()))


def checkpoint_match(games: int, visits: int) -> None:
    """The oldest against the newest demo checkpoint, colours swapped on shared random openings."""
    from models.checkpoint import load_checkpoint
    from models.demo import demo_manifests
    from search_workers.engines import MctsPlayer, paired_openings, play_block
    from search_workers.evaluators import TorchEvaluator
    from search_workers.search import SearchConfig

    manifests = demo_manifests()
    if len(manifests) < 2:
        typer.echo("\n(no demo checkpoints found: skipping the checkpoint match)")
        return
    rules = Rules.preset("chinese", komi=7.5)
    players = []
    for path in (manifests[0], manifests[-1]):
        loaded = load_checkpoint(path)
        evaluator = TorchEvaluator(loaded.module, board_size=9, device="cpu", name=loaded.manifest.name)
        players.append(MctsPlayer(loaded.manifest.name, evaluator, SearchConfig(visits=visits)))
    old, new = players
    openings = paired_openings(games // 2, 2, board_size=9, rules=rules, seed=7)
    black = [new if i % 2 == 0 else old for i in range(games)]
    white = [old if i % 2 == 0 else new for i in range(games)]
    typer.echo(f"\nA searched match on 9x9 ({visits} visits a move, {rules.describe()}): "
               f"{new.name} vs {old.name}, {games} games, colours swapped on shared openings")
    outcomes = play_block(black, white, board_size=9, rules=rules, openings=openings)
    for i, outcome in enumerate(outcomes):
        typer.echo(f"  game {i + 1}: {outcome.black} (B) vs {outcome.white} (W): {outcome.result} "
                   f"in {outcome.final.move_number} moves")
    wins = sum(o.winner_name == new.name for o in outcomes)
    typer.echo(f"{new.name} won {wins} of {games}")
