"""Play a block of games between two MCTS players, every game advancing in lock-step.

Each player searches all the games where it is to move in one `BatchedMcts.search` call, so
its evaluator sees one batch per step across the whole block. This is the arena's way of
playing (many games in one process); the Celery task that plays a scheduled block and the
GTP engines come on top of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from search_workers.go import Color, GameState, Rules, coords, random_move
from search_workers.search import BatchedMcts, Evaluator, SearchConfig


@dataclass(frozen=True)
class MctsPlayer:
    """A network (through its evaluator) with the search settings it plays with."""

    name: str
    evaluator: Evaluator
    config: SearchConfig
    pipeline_groups: int = 1  # 2 for remote evaluators (Triton): see BatchedMcts


@dataclass(frozen=True)
class MoveStats:
    """Per-move statistics stored with every game."""

    move: int  # flat index, pass = N*N; -1 for a resignation
    visits: int
    root_value: float  # for the player who moved
    policy_entropy: float
    seconds: float  # wall time of the search step that produced it (shared by the block)


@dataclass
class GameOutcome:
    black: str
    white: str
    final: GameState
    stats: list[MoveStats] = field(default_factory=list)

    @property
    def result(self) -> str:
        return self.final.result or "Void"

    @property
    def winner_name(self) -> str | None:
        winner = self.final.winner
        if winner is None:
            return None
        return self.black if winner is Color.BLACK else self.white


def play_block(black: Sequence[MctsPlayer], white: Sequence[MctsPlayer], *, board_size: int, rules: Rules,
               openings: Sequence[Sequence[int]] | None = None, move_limit: int | None = None) -> list[GameOutcome]:
    """Play len(black) games at once: game i is black[i] (Black) against white[i] (White).

    openings[i], if given, is a list of flat moves played before the players take over (the
    same opening for both colours of a pair keeps the comparison fair).
    """
    if len(black) != len(white):
        raise ValueError(f"{len(black)} black players for {len(white)} white players")
    games = len(black)
    states = [GameState.new(board_size, rules, move_limit=move_limit) for _ in range(games)]
    if openings is not None:
        if len(openings) != games:
            raise ValueError(f"{len(openings)} openings for {games} games")
        for i, opening in enumerate(openings):
            for move in opening:
                states[i] = states[i].play(move)
    outcomes = [GameOutcome(black=black[i].name, white=white[i].name, final=states[i]) for i in range(games)]
    players = {id(p): p for p in [*black, *white]}
    searches = {pid: BatchedMcts(p.evaluator, p.config, board_size=board_size, num_games=games,
                                 move_limit=states[0].move_limit, pipeline_groups=min(p.pipeline_groups, games))
                for pid, p in players.items()}
    while True:
        live = [i for i in range(games) if not states[i].is_over]
        if not live:
            break
        for pid, search in searches.items():
            turn = [None] * games
            for i in live:
                to_move = black[i] if states[i].to_move is Color.BLACK else white[i]
                if id(to_move) == pid and not states[i].is_over:
                    turn[i] = states[i]
            if not any(s is not None for s in turn):
                continue
            started = time.perf_counter()
            results = search.search(turn)
            elapsed = time.perf_counter() - started
            for i, result in enumerate(results):
                if result is None:
                    continue
                if result.resign:
                    states[i] = states[i].resign()
                    outcomes[i].stats.append(MoveStats(-1, result.visits, result.root_value,
                                                       result.policy_entropy, elapsed))
                else:
                    states[i] = states[i].play(result.move)
                    outcomes[i].stats.append(MoveStats(result.move, result.visits, result.root_value,
                                                       result.policy_entropy, elapsed))
                if states[i].is_over:
                    for other in searches.values():
                        other.forget(i)
    for search in searches.values():
        search.close()
    for i in range(games):
        outcomes[i].final = states[i]
    return outcomes


def paired_openings(pairs: int, plies: int, *, board_size: int, rules: Rules, seed: int) -> list[list[int]]:
    """`pairs` random openings of `plies` moves, each listed twice in a row: game 2k and 2k+1 of a
    block play the same opening with colours swapped, which cancels the opening's bias."""
    rng = np.random.default_rng(seed)
    openings = []
    for _ in range(pairs):
        state, moves = GameState.new(board_size, rules), []
        for _ in range(plies):
            moves.append(random_move(state, rng))
            state = state.play(moves[-1])
        openings += [moves, moves]
    return openings


def describe_move(move: int, board_size: int) -> str:
    return "resign" if move < 0 else coords.to_gtp(move, board_size)
