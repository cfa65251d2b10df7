"""The compiled tree kernels against a plain reading of PUCT: the edge order they keep is an
optimisation only, never a change in which child is chosen."""

from __future__ import annotations

import math

import numpy as np

from search_workers.go import GameState
from search_workers.search import BatchedMcts, SearchConfig
from search_workers.search import _tree


class CoarsePriorEvaluator:
    """Random priors rounded to a few levels (so that exact ties are common) and random values."""

    def __init__(self, board_size: int, seed: int):
        self.board_size = board_size
        self.rng = np.random.default_rng(seed)

    def evaluate(self, features, legal):
        raw = np.round(self.rng.random(legal.shape) * 4) * legal
        raw[:, -1] = legal[:, -1] * 0.5  # pass is always legal
        policy = (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)
        value = self.rng.uniform(-1, 1, legal.shape[0]).astype(np.float32)
        return policy, value

    def close(self):
        pass


def reference_choice(mcts: BatchedMcts, g: int, node: int) -> int:
    """The move PUCT picks at `node`, by a full scan in move order (ties: the lower move)."""
    c_puct, fpu_reduction = mcts.config.c_puct, mcts.config.fpu_reduction
    first, num = mcts.node_first_edge[g, node], mcts.node_num_edges[g, node]
    edges = sorted(range(first, first + num), key=lambda e: mcts.edge_move[g, e])
    parent_visits = mcts.node_visits[g, node]
    sqrt_parent = math.sqrt(max(parent_visits, 1))
    parent_q = mcts.node_value_sum[g, node] / parent_visits if parent_visits else 0.0
    visited_prior = sum(float(mcts.edge_prior[g, e]) for e in edges if mcts.edge_visits[g, e] > 0)
    fpu = parent_q - fpu_reduction * math.sqrt(visited_prior)
    best, best_score = -1, -math.inf
    for e in edges:
        n, prior = mcts.edge_visits[g, e], float(mcts.edge_prior[g, e])
        q = mcts.edge_value_sum[g, e] / n if n else fpu
        score = q + c_puct * prior * sqrt_parent / (1 + n)
        if score > best_score:
            best, best_score = e, score
    return int(mcts.edge_move[g, best])


def test_selection_matches_a_full_puct_scan_and_children_stay_in_prior_order() -> None:
    games = 4
    mcts = BatchedMcts(CoarsePriorEvaluator(7, seed=1), SearchConfig(visits=40), board_size=7, num_games=games)
    states = [GameState.new(7) for _ in range(games)]
    checked = 0
    for _ in range(6):
        results = mcts.search(states)
        for g in range(games):
            for node in range(mcts.tree_sizes[g, 0]):
                first, num = mcts.node_first_edge[g, node], mcts.node_num_edges[g, node]
                if first < 0:
                    continue
                visits = mcts.edge_visits[g, first:first + num]
                visited = int((visits > 0).sum())
                assert (visits[:visited] > 0).all(), "visited children come first"
                if visited < num:  # next in line: the best unvisited prior, the lower move among equals
                    rest = list(range(first + visited, first + num))
                    top = max(rest, key=lambda e: (mcts.edge_prior[g, e], -mcts.edge_move[g, e]))
                    assert top == first + visited
                expected = reference_choice(mcts, g, node)
                arrays = [a.copy() for a in (mcts.node_first_edge, mcts.node_num_edges, mcts.node_visits,
                                             mcts.node_value_sum, mcts.edge_prior, mcts.edge_child,
                                             mcts.edge_move, mcts.edge_visits, mcts.edge_value_sum)]
                e = _tree.select_edge(g, node, *arrays, mcts.config.c_puct, mcts.config.fpu_reduction)
                assert arrays[6][g, e] == expected
                checked += 1
            moves = results[g].moves
            assert (np.diff(moves) > 0).all(), "root moves are reported in increasing order"
        states = [s.play(r.move) for s, r in zip(states, results)]
    assert checked > 500
