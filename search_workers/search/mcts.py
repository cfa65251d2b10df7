"""Batched PUCT search: many games searched together, one `evaluate` call per step.

Like KataGo's self-play, batching comes from searching many games at once rather than many
leaves of one game (no virtual loss): every step takes one leaf from each game still short
of its visits and sends all of them to the evaluator in one call.

    mcts = BatchedMcts(evaluator, SearchConfig(visits=64), board_size=9, num_games=64)
    results = mcts.search(states)          # states[i]: GameState, or None for an idle slot
    results[i].move                        # the move to play in game i

Trees are kept between calls: when states[i] continues the game last searched in slot i, the
subtree of the moves played since is reused (SearchConfig.reuse_tree).

Randomness (temperature sampling, the draw of games that may never resign) comes from one
generator per slot. `forget(slot, seed=...)` starts a new game in a slot with a generator of its
own, so that game's moves depend only on its seed and positions, never on which other games
share the block or when they start; slots never given a seed share one generator seeded by
SearchConfig.seed.

`search` is lock-step: with tree reuse games start a move with different visit counts, so
each call ends with a tail of small batches. `begin(slot, state)` and `step()` let each game
advance on its own instead (a game whose search is done plays and begins its next search while
the others continue), which keeps batches full: 40% more evaluations per second in the
pipeline benchmark. Both give the same search, leaf for leaf.

With `pipeline_groups=2` the games are split into two groups whose steps alternate: while one
group's leaves are being evaluated (in a worker thread, e.g. a request to Triton), the other
group descends its trees. That keeps a remote evaluator busy; an in-process evaluator on a
small machine gains little and gets half-size batches, so 1 is the default. Grouping changes
only how leaves are batched, never which leaves a game's search visits.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from search_workers.go import GameState, _layout
from search_workers.go._board import history_add
from search_workers.go.features import NUM_FEATURE_PLANES

from . import _tree
from .config import SearchConfig
from .evaluator import Evaluator, check_evaluation, round_outputs


@dataclass(frozen=True)
class SearchResult:
    """The outcome of searching one position."""

    move: int  # flat move chosen (pass = N*N)
    visits: int  # playouts at the root, reused ones included
    root_value: float  # mean value at the root for the player to move, in [-1, 1]
    move_value: float  # value of the chosen move for the player to move (NaN if unvisited)
    policy_entropy: float  # entropy (nats) of the network policy at the root
    moves: np.ndarray  # int32 [K] the root's legal moves
    move_visits: np.ndarray  # int32 [K] visits of each
    resign: bool  # the player should resign instead of playing `move`


@dataclass
class _Slot:
    """What BatchedMcts remembers of the game in one slot between searches."""

    moves: list | None = None  # the moves of the position last searched (None: empty slot)
    setup: tuple = ((), ())
    low_value_streak: int = 0  # consecutive searches with the root value below the resign threshold
    may_resign: bool = True
    rng: np.random.Generator | None = None  # temperature and resign draws of the game in this slot


def tree_capacity(board_size: int, visits: int) -> tuple[int, int]:
    """(nodes, edges) allocated per game: a search adds at most `visits` nodes to a reused
    subtree of at most `visits` nodes, and a node has at most N*N + 1 edges (every point, pass)."""
    nodes = 2 * visits + 2
    return nodes, nodes * (board_size * board_size + 1)


def search_bytes_per_game(board_size: int, visits: int, *, move_limit: int | None = None,
                          pipeline_groups: int = 1) -> int:
    """Bytes a `BatchedMcts` allocates up front for each of its games (all its arrays but the
    one scratch board), so a worker can tell before allocating whether a block fits its memory.

    Dominated by the tree: (2v+2)(N*N+1) edges of 20 bytes, about 6.7 KB per visit on 9x9 and
    29 KB per visit on 19x19. A block holds one such slot per game for each searching player.
    """
    nodes, edges = tree_capacity(board_size, visits)
    n, nn = board_size, board_size * board_size
    limit = _layout.default_move_limit(n) if move_limit is None else move_limit
    depth = limit + 2
    tree = nodes * (4 + 4 + 4 + 8) + edges * (4 + 4 + 4 + 4 + 4) + 2 * 4  # node, edge arrays; tree_sizes
    position = (_layout.board_length(n) + _layout.history_capacity(limit)) * 8  # root board, superko history
    paths = depth * (4 + 4 + 8)  # paths, path_edges, undo_slots
    inputs = pipeline_groups * (NUM_FEATURE_PLANES * nn * 4 + nn + 1 + 1)  # features, legal, group masks
    flags = 4 + 1 + 8 + 8 + 1  # path_lengths, needs_eval, leaf_values, rows, _begun
    return tree + position + paths + inputs + flags


class BatchedMcts:
    """PUCT search over `num_games` games of one board size with one evaluator."""

    def __init__(self, evaluator: Evaluator, config: SearchConfig, *, board_size: int, num_games: int,
                 move_limit: int | None = None, pipeline_groups: int = 1):
        if evaluator.board_size != board_size:
            raise ValueError(f"evaluator plays {evaluator.board_size}x{evaluator.board_size}, "
                             f"search was asked for {board_size}x{board_size}")
        if not 1 <= num_games <= 100_000:
            raise ValueError(f"num_games must be in [1, 100000], got {num_games}")
        if not 1 <= pipeline_groups <= min(num_games, 8):
            raise ValueError(f"pipeline_groups must be in [1, min(num_games, 8)], got {pipeline_groups}")
        self.evaluator = evaluator
        self.config = config
        self.board_size = board_size
        self.num_games = num_games
        n, g = board_size, num_games
        nn = n * n
        self.move_limit = _layout.default_move_limit(n) if move_limit is None else move_limit
        node_capacity, edge_capacity = tree_capacity(board_size, config.visits)
        self.node_first_edge = np.full((g, node_capacity), -1, dtype=np.int32)
        self.node_num_edges = np.zeros((g, node_capacity), dtype=np.int32)
        self.node_visits = np.zeros((g, node_capacity), dtype=np.int32)
        self.node_value_sum = np.zeros((g, node_capacity), dtype=np.float64)
        self.edge_move = np.zeros((g, edge_capacity), dtype=np.int32)
        self.edge_prior = np.zeros((g, edge_capacity), dtype=np.float32)
        self.edge_child = np.full((g, edge_capacity), -1, dtype=np.int32)
        self.edge_visits = np.zeros((g, edge_capacity), dtype=np.int32)
        self.edge_value_sum = np.zeros((g, edge_capacity), dtype=np.float32)  # cache footprint
        self.tree_sizes = np.zeros((g, 2), dtype=np.int32)
        board_length = _layout.board_length(n)
        self.history_capacity = _layout.history_capacity(self.move_limit)
        self.root_boards = np.zeros((g, board_length), dtype=np.int64)
        self.root_histories = np.zeros((g, self.history_capacity), dtype=np.int64)
        self.scratch_board = np.zeros(board_length, dtype=np.int64)
        depth = self.move_limit + 2
        self.paths = np.zeros((g, depth), dtype=np.int32)
        self.path_edges = np.zeros((g, depth), dtype=np.int32)
        self.path_lengths = np.zeros(g, dtype=np.int32)
        self.undo_slots = np.zeros((g, depth), dtype=np.int64)
        self.pipeline_groups = pipeline_groups
        # Group k holds the games with index % pipeline_groups == k, and its own input buffers.
        self._group_masks = [np.arange(g) % pipeline_groups == k for k in range(pipeline_groups)]
        self._features = [np.zeros((g, NUM_FEATURE_PLANES, n, n), dtype=np.float32) for _ in range(pipeline_groups)]
        self._legal = [np.zeros((g, nn + 1), dtype=np.bool_) for _ in range(pipeline_groups)]
        self.features, self.legal = self._features[0], self._legal[0]  # group 0's: the last leaves, for benchmarks
        self._executor = ThreadPoolExecutor(pipeline_groups, thread_name_prefix="evaluate") \
            if pipeline_groups > 1 else None
        self.needs_eval = np.zeros(g, dtype=np.bool_)
        self.leaf_values = np.zeros(g, dtype=np.float64)
        self.rows = np.full(g, -1, dtype=np.int64)
        self._rng = np.random.default_rng(config.seed)  # shared by the slots never given a seed
        self._slots = [_Slot(rng=self._rng) for _ in range(g)]
        self._begun = np.zeros(g, dtype=np.bool_)  # asynchronous searches under way (begin/step)
        self._begun_states: list[GameState | None] = [None] * g
        self.evaluations = 0  # positions sent to the evaluator, for benchmarks and metrics
        self.evaluate_calls = 0
        self.playouts = 0  # leaves reached (evaluated or terminal), for benchmarks
        for i in range(g):
            self._reset_slot(i)

    # ------------------------------------------------------------------ public

    def search(self, states: Sequence[GameState | None]) -> list[SearchResult | None]:
        """Search every non-None state for `config.visits` playouts; one result per slot."""
        if len(states) != self.num_games:
            raise ValueError(f"expected {self.num_games} states (None for idle slots), got {len(states)}")
        if self._begun.any():
            raise RuntimeError("search() while asynchronous searches are under way (see begin/step)")
        active = np.zeros(self.num_games, dtype=np.bool_)
        for i, state in enumerate(states):
            if state is None:
                continue
            self._check_state(i, state)
            self._load_root(i, state)
            active[i] = True
        self._run_playouts(active)
        return [self._result(i, states[i]) if active[i] else None for i in range(self.num_games)]

    def begin(self, slot: int, state: GameState) -> None:
        """Start searching `state` in `slot` without waiting for the other slots (see step).

        Asynchronous use keeps batches full: a game whose search is done plays its move and
        begins its next search while the others are still searching, instead of every game
        waiting for the slowest (with tree reuse, games start a move with different visits).
        """
        self._check_state(slot, state)
        self._load_root(slot, state)
        self._begun[slot] = True
        self._begun_states[slot] = state

    def step(self) -> list[tuple[int, SearchResult]]:
        """One playout in every begun search short of its visits; the searches now complete.

        Returns (slot, result) for each search that reached its visits; those slots are free
        for their next `begin`. Searches are the same as `search` would do, leaf for leaf.
        """
        launched = [self._launch(k, self._begun & mask) for k, mask in enumerate(self._group_masks)]
        for launch in launched:
            if launch is not None:
                self._finish(launch)
        done = np.flatnonzero(self._begun & (self.node_visits[:, 0] >= self.config.visits))
        results = [(int(i), self._result(int(i), self._begun_states[i])) for i in done]
        self._begun[done] = False
        for i in done:
            self._begun_states[i] = None
        return results

    @property
    def searching(self) -> int:
        """Slots with a begun search that has not completed."""
        return int(self._begun.sum())

    def forget(self, slot: int, *, seed: int | Sequence[int] | None = None) -> None:
        """Drop the tree and resignation state of one slot (its game ended or was abandoned).

        `seed` (an int or a sequence of ints, as np.random.default_rng takes) gives the next
        game in the slot its own generator, so its temperature sampling and resign draw are a
        function of the seed alone; None: the generator shared by the unseeded slots.
        """
        self._reset_slot(slot, self._rng if seed is None else np.random.default_rng(seed))

    def _check_state(self, i: int, state: GameState) -> None:
        if state.board_size != self.board_size:
            raise ValueError(f"slot {i}: a {state.board_size}x{state.board_size} game in a "
                             f"{self.board_size}x{self.board_size} search")
        if state.is_over:
            raise ValueError(f"slot {i}: the game is over ({state.result}); there is nothing to search")
        if self._begun[i]:
            raise ValueError(f"slot {i} is still searching; wait for step() to return its result")

    # ------------------------------------------------------------------ steps

    def close(self) -> None:
        """Stop the evaluation threads (the evaluator itself belongs to the caller)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _run_playouts(self, active: np.ndarray) -> None:
        groups = [active & mask for mask in self._group_masks]
        in_flight = [self._launch(k, groups[k]) for k in range(self.pipeline_groups)]
        while any(step is not None for step in in_flight):
            for k, step in enumerate(in_flight):
                if step is not None:
                    self._finish(step)
                    in_flight[k] = self._launch(k, groups[k])

    def _launch(self, k: int, group: np.ndarray):
        """Descend once in every game of group k still short of its visits; submit the leaves."""
        pending = group & (self.node_visits[:, 0] < self.config.visits)
        if not pending.any():
            return None
        neighbours, zobrist = _layout.geometry(self.board_size)
        features, legal = self._features[k], self._legal[k]
        count = _tree.select_leaves(
            pending, self.root_boards, self.root_histories, self.scratch_board, neighbours, zobrist,
            self.node_first_edge, self.node_num_edges, self.node_visits, self.node_value_sum, self.edge_prior,
            self.edge_child, self.edge_move, self.edge_visits, self.edge_value_sum, self.tree_sizes,
            self.config.c_puct, self.config.fpu_reduction, self.paths, self.path_edges, self.path_lengths,
            self.undo_slots, features, legal, self.rows, self.needs_eval, self.leaf_values)
        self.playouts += int(pending.sum())
        future: Future | None = None
        if count:
            # The leaves' rows are the first `count`: views, not copies.
            if self._executor is None:
                future = Future()
                future.set_result(self.evaluator.evaluate(features[:count], legal[:count]))
            else:
                future = self._executor.submit(self.evaluator.evaluate, features[:count], legal[:count])
        return pending, count, future, legal

    def _finish(self, step) -> None:
        """Wait for a launched step's evaluation, then expand its leaves and back up."""
        pending, count, future, legal = step
        nn = self.board_size * self.board_size
        if count:
            policy, value = future.result()
            check_evaluation(policy, value, legal[:count], source=type(self.evaluator).__name__)
            policy, value = round_outputs(policy, value)  # the same in any batch (OUTPUT_STEP)
            self.evaluations += count
            self.evaluate_calls += 1
        else:
            policy = np.zeros((0, nn + 1), dtype=np.float32)
            value = np.zeros(0, dtype=np.float32)
        _tree.expand_and_backup(
            pending, self.needs_eval, self.rows, policy, value, self.leaf_values, legal, self.paths,
            self.path_edges, self.path_lengths, self.node_first_edge, self.node_num_edges, self.node_visits,
            self.node_value_sum, self.edge_prior, self.edge_child, self.edge_move, self.edge_visits,
            self.edge_value_sum, self.tree_sizes, nn)

    # ------------------------------------------------------------------ slots and trees

    def _reset_slot(self, i: int, rng: np.random.Generator | None = None) -> None:
        """Empty slot i's tree and draw its resignation state from `rng` (default: the slot's)."""
        _tree.reset_tree(i, self.node_first_edge, self.node_num_edges, self.node_visits, self.node_value_sum,
                         self.tree_sizes)
        rng = self._slots[i].rng if rng is None else rng
        may_resign = bool(rng.random() >= self.config.resign_disabled_fraction)
        self._slots[i] = _Slot(may_resign=may_resign, rng=rng)

    def _load_root(self, i: int, state: GameState) -> None:
        """Copy state into slot i, re-rooting the kept tree if state continues its game."""
        slot = self._slots[i]
        moves = state.moves
        continues = (slot.moves is not None and slot.setup == state.setup_stones
                     and len(moves) >= len(slot.moves) and moves[:len(slot.moves)] == slot.moves)
        if not continues:
            self._reset_slot(i)
            slot = self._slots[i]
        elif not self.config.reuse_tree:
            _tree.reset_tree(i, self.node_first_edge, self.node_num_edges, self.node_visits, self.node_value_sum,
                             self.tree_sizes)
        else:
            for _, move in moves[len(slot.moves):]:
                if not _tree.reroot(i, move, self.node_first_edge, self.node_num_edges, self.node_visits,
                                    self.node_value_sum, self.edge_prior, self.edge_child, self.edge_move,
                                    self.edge_visits, self.edge_value_sum, self.tree_sizes):
                    break
        slot.moves = moves
        slot.setup = state.setup_stones
        board, history = state._board, state._history
        if board.shape[0] != self.root_boards.shape[1]:
            raise ValueError(f"slot {i}: position buffer of another board size")
        self.root_boards[i] = board
        if history.shape[0] == self.history_capacity:
            self.root_histories[i] = history
        else:  # another move limit: re-insert the keys into this search's table size
            self.root_histories[i] = 0
            self.scratch_board[:] = board
            keys = history[history != 0]
            if keys.size * 2 > self.history_capacity:
                raise ValueError(f"slot {i}: {keys.size} positions in the game's history exceed this search's "
                                 f"move limit {self.move_limit}")
            for key in keys:
                history_add(self.scratch_board, self.root_histories[i], int(key))

    def _result(self, i: int, state: GameState) -> SearchResult:
        nn = self.board_size ** 2
        moves = np.empty(nn + 1, dtype=np.int32)
        visits = np.empty(nn + 1, dtype=np.int32)
        priors = np.empty(nn + 1, dtype=np.float32)
        q = np.empty(nn + 1, dtype=np.float64)
        k = _tree.root_children(i, self.node_first_edge, self.node_num_edges, self.edge_prior, self.edge_move,
                                self.edge_visits, self.edge_value_sum, moves, visits, priors, q)
        moves, visits, priors, q = moves[:k], visits[:k], priors[:k], q[:k]
        root_visits = int(self.node_visits[i, 0])
        root_value = float(self.node_value_sum[i, 0] / max(root_visits, 1))
        slot = self._slots[i]
        if state.move_number < self.config.temperature_moves and visits.sum() > 0:
            weights = visits.astype(np.float64) ** (1.0 / self.config.temperature)
            choice = int(slot.rng.choice(k, p=weights / weights.sum()))
        else:
            # Most visits; ties go to the higher prior (np.lexsort sorts by the last key first).
            choice = int(np.lexsort((-priors, -visits))[0])
        nonzero = priors[priors > 0].astype(np.float64)
        entropy = float(-(nonzero * np.log(nonzero)).sum())
        if root_value < self.config.resign_threshold:
            slot.low_value_streak += 1
        else:
            slot.low_value_streak = 0
        resign = slot.may_resign and slot.low_value_streak >= self.config.resign_consecutive
        return SearchResult(move=int(moves[choice]), visits=root_visits, root_value=root_value,
                            move_value=float(q[choice]), policy_entropy=entropy, moves=moves.copy(),
                            move_visits=visits.copy(), resign=resign)
