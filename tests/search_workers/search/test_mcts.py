"""Batched PUCT search against fake evaluators whose best move is known."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from search_workers.evaluators import UniformEvaluator
from search_workers.go import Color, GameState, Rules, coords
from search_workers.search import BatchedMcts, EvaluationError, SearchConfig, search_bytes_per_game

OWN, OPPONENT = 1, 2  # feature planes (features.py)


class PreferPointEvaluator:
    """Uniform policy; the value says whoever owns `point` wins. The prior gives no hint."""

    def __init__(self, board_size: int, point: int):
        self.board_size = board_size
        self.row, self.col = divmod(point, board_size)
        self.calls = 0

    def evaluate(self, features, legal):
        self.calls += 1
        policy = legal / legal.sum(axis=1, keepdims=True)
        value = features[:, OWN, self.row, self.col] - features[:, OPPONENT, self.row, self.col]
        return policy.astype(np.float32), value.astype(np.float32)

    def close(self):
        pass


class NanEvaluator(UniformEvaluator):
    def evaluate(self, features, legal):
        policy, value = super().evaluate(features, legal)
        value[:] = np.nan
        return policy, value


def search_one(evaluator, state: GameState, **config) -> tuple:
    mcts = BatchedMcts(evaluator, SearchConfig(**config), board_size=state.board_size, num_games=1)
    return mcts, mcts.search([state])[0]


def test_finds_the_move_only_the_value_knows() -> None:
    target = coords.from_gtp("E5", 9)
    _, result = search_one(PreferPointEvaluator(9, target), GameState.new(9), visits=200)
    assert result.move == target
    assert result.visits == 200
    assert result.move_visits.max() == result.move_visits[result.moves == target][0]


def test_every_game_of_a_batch_is_searched_in_one_call_per_step() -> None:
    evaluator = PreferPointEvaluator(9, coords.from_gtp("C3", 9))
    mcts = BatchedMcts(evaluator, SearchConfig(visits=400), board_size=9, num_games=16)
    results = mcts.search([GameState.new(9)] * 16)
    assert all(r.move == coords.from_gtp("C3", 9) for r in results)
    # 400 visits per game, 16 games: 400 steps with a batch of 16 each (no terminal leaves here).
    assert evaluator.calls == 400 and mcts.evaluations == 16 * 400


def test_idle_slots_are_not_searched() -> None:
    mcts = BatchedMcts(UniformEvaluator(5), SearchConfig(visits=20), board_size=5, num_games=3)
    results = mcts.search([None, GameState.new(5), None])
    assert results[0] is None and results[2] is None and results[1].visits == 20
    assert mcts.evaluations == 20


WHITE_PASSED_BLACK_AHEAD = """
    . X O . .
    X X O . .
    . X O . .
    X X O O O
    . X O . .
"""


@pytest.mark.parametrize("komi,expect_pass", [(0.5, True), (9.5, False)])
def test_terminal_outcomes_are_exact(komi: float, expect_pass: bool) -> None:
    # White has just passed. Black's area is 10 of 25 points, White's 15: with komi 0.5 White
    # wins by 5.5 ... so passing (which ends the game) is wrong for Black unless it is ahead.
    # Flip the picture so that Black owns the larger side when it should pass.
    picture = WHITE_PASSED_BLACK_AHEAD
    if expect_pass:
        picture = picture.replace("X", "b").replace("O", "X").replace("b", "O")
    rules = Rules(komi=komi, ko="simple", suicide_allowed=False)
    state = GameState.from_ascii(picture, rules=rules, to_move=Color.WHITE).pass_turn()
    assert state.to_move is Color.BLACK and state.consecutive_passes == 1
    ends_now = state.pass_turn()
    black_wins_now = ends_now.winner is Color.BLACK
    assert black_wins_now == expect_pass
    _, result = search_one(UniformEvaluator(5), state, visits=400)
    passed = result.move == 25
    assert passed == expect_pass
    if expect_pass:
        assert result.move_value == pytest.approx(1.0)


def test_identical_seeds_give_identical_games() -> None:
    def play(seed: int) -> list[int]:
        evaluator = PreferPointEvaluator(7, coords.from_gtp("D4", 7))
        mcts = BatchedMcts(evaluator, SearchConfig(visits=24, temperature_moves=6, seed=seed), board_size=7,
                           num_games=4)
        states = [GameState.new(7) for _ in range(4)]
        moves = []
        for _ in range(8):
            results = mcts.search(states)
            moves += [r.move for r in results]
            states = [s.play(r.move) for s, r in zip(states, results)]
        return moves

    assert play(11) == play(11)
    assert play(11) != play(12)


def test_a_slot_seeded_with_its_game_plays_the_same_wherever_it_runs() -> None:
    """forget(slot, seed=...) gives the game its own generator: the same seed in another slot of
    a block of another size plays the same moves, whatever the other slots draw."""
    def play(num_games: int, slot: int, seed: int) -> list[int]:
        evaluator = PreferPointEvaluator(7, coords.from_gtp("D4", 7))
        mcts = BatchedMcts(evaluator, SearchConfig(visits=24, temperature_moves=8, seed=num_games), board_size=7,
                           num_games=num_games)
        mcts.forget(slot, seed=seed)
        states = [GameState.new(7) for _ in range(num_games)]
        moves = []
        for _ in range(8):
            results = mcts.search(states)
            moves.append(results[slot].move)
            states = [s.play(r.move) for s, r in zip(states, results)]
        return moves

    assert play(4, 2, seed=7) == play(1, 0, seed=7) == play(3, 0, seed=7)
    assert play(4, 2, seed=7) != play(4, 2, seed=8)


class BatchNoiseEvaluator:
    """Priors and value from a hash of each position, changed in their last bits by the batch
    size the way a network's kernels change them."""

    def __init__(self, board_size: int):
        self.board_size = board_size

    def evaluate(self, features, legal):
        noise = np.float32(1e-6 * len(legal))
        policy = np.zeros(legal.shape, dtype=np.float32)
        value = np.zeros(len(legal), dtype=np.float32)
        for row in range(len(legal)):
            rng = np.random.default_rng(zlib.crc32(features[row].tobytes()))
            policy[row] = (rng.random(legal.shape[1]) + 0.1) * legal[row]
            value[row] = rng.uniform(-0.9, 0.9) + noise
        return policy / policy.sum(axis=1, keepdims=True) * (1 - noise), value

    def close(self):
        pass


def test_a_position_searches_the_same_in_any_batch() -> None:
    """Search rounds the network's outputs (OUTPUT_STEP) so that batch noise never reaches the tree."""
    state = GameState.new(7).play("D4").play("C3")
    evaluator = BatchNoiseEvaluator(7)
    alone = BatchedMcts(evaluator, SearchConfig(visits=50), board_size=7, num_games=1).search([state])[0]
    crowd = BatchedMcts(evaluator, SearchConfig(visits=50), board_size=7, num_games=8)
    among = crowd.search([GameState.new(7).play("A1")] * 7 + [state])[7]
    assert alone.root_value == among.root_value
    assert alone.move == among.move and (alone.move_visits == among.move_visits).all()


def test_tree_is_reused_after_the_moves_played() -> None:
    evaluator = UniformEvaluator(7)
    mcts = BatchedMcts(evaluator, SearchConfig(visits=100), board_size=7, num_games=1)
    state = GameState.new(7)
    first = mcts.search([state])[0]
    # The same position again: the tree already holds 100 visits, nothing new is evaluated.
    before = mcts.evaluations
    assert mcts.search([state])[0].visits == 100 and mcts.evaluations == before
    reply = next(int(m) for m in first.moves if m != first.move)
    after = state.play(first.move).play(reply)
    mcts.search([after])
    assert mcts.evaluations - before < 100  # the subtree below (move, reply) was kept
    # A position that does not continue the game starts afresh.
    before = mcts.evaluations
    mcts.search([GameState.new(7).play("A1")])
    assert mcts.evaluations - before == 100


def test_without_tree_reuse_every_search_starts_afresh() -> None:
    mcts = BatchedMcts(UniformEvaluator(7), SearchConfig(visits=30, reuse_tree=False), board_size=7, num_games=1)
    state = GameState.new(7)
    mcts.search([state])
    before = mcts.evaluations
    mcts.search([state])
    assert mcts.evaluations - before == 30


def test_search_respects_superko_along_the_tree() -> None:
    # Every move the search returns must be legal in the real game, including ko recaptures
    # that only the path history forbids: play whole games on a small board and let play() check.
    mcts = BatchedMcts(UniformEvaluator(5), SearchConfig(visits=40, temperature_moves=400, seed=3),
                       board_size=5, num_games=8)
    states = [GameState.new(5, Rules.preset("tromp-taylor")) for _ in range(8)]
    for _ in range(60):
        live = [s if not s.is_over else None for s in states]
        if all(s is None for s in live):
            break
        results = mcts.search(live)
        states = [s if r is None else s.play(r.move) for s, r in zip(states, results)]


def test_a_nan_from_the_network_is_reported_not_searched() -> None:
    mcts = BatchedMcts(NanEvaluator(5), SearchConfig(visits=10), board_size=5, num_games=2)
    with pytest.raises(EvaluationError, match="non-finite value"):
        mcts.search([GameState.new(5), GameState.new(5)])


def test_resignation_after_consecutive_hopeless_searches() -> None:
    class BlackIsLost(UniformEvaluator):
        def evaluate(self, features, legal):
            policy, _ = super().evaluate(features, legal)
            black_to_move = features[:, 15, 0, 0] == 1.0  # feature plane 15 (features.py)
            return policy, np.where(black_to_move, -1.0, 1.0).astype(np.float32)

    config = SearchConfig(visits=8, resign_threshold=-0.9, resign_consecutive=2, resign_disabled_fraction=0.0)
    mcts = BatchedMcts(BlackIsLost(5), config, board_size=5, num_games=1)
    state = GameState.new(5)
    first = mcts.search([state])[0]
    assert first.root_value == pytest.approx(-1.0) and not first.resign  # one hopeless search is not enough
    state = state.play(first.move).play("pass")
    assert mcts.search([state])[0].resign


def test_resignation_can_be_disabled_for_a_share_of_games() -> None:
    config = SearchConfig(visits=2, resign_disabled_fraction=1.0)
    mcts = BatchedMcts(UniformEvaluator(5), config, board_size=5, num_games=4)
    assert not any(slot.may_resign for slot in mcts._slots)


@pytest.mark.parametrize("bad", [dict(visits=0), dict(c_puct=-1), dict(temperature=0), dict(resign_threshold=2),
                                 dict(resign_disabled_fraction=1.5), dict(visits=True)])
def test_bad_search_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        SearchConfig(**bad)


def test_wrong_board_size_and_finished_games_are_refused() -> None:
    with pytest.raises(ValueError, match="evaluator plays 9x9"):
        BatchedMcts(UniformEvaluator(9), SearchConfig(), board_size=7, num_games=1)
    mcts = BatchedMcts(UniformEvaluator(5), SearchConfig(visits=2), board_size=5, num_games=1)
    over = GameState.new(5).pass_turn().pass_turn()
    with pytest.raises(ValueError, match="game is over"):
        mcts.search([over])


@pytest.mark.parametrize("groups", [2, 3])
def test_pipelined_groups_search_exactly_like_one_batch(groups: int) -> None:
    # Grouping changes how leaves are batched, never which leaves a game visits.
    def play(pipeline_groups: int) -> list[tuple[int, tuple]]:
        evaluator = PreferPointEvaluator(7, coords.from_gtp("D4", 7))
        mcts = BatchedMcts(evaluator, SearchConfig(visits=40, temperature_moves=4, seed=5), board_size=7,
                           num_games=7, pipeline_groups=pipeline_groups)
        states = [GameState.new(7).play(p) for p in range(7)]
        trace = []
        for _ in range(6):
            results = mcts.search(states)
            trace += [(r.move, tuple(r.move_visits)) for r in results]
            states = [s.play(r.move) for s, r in zip(states, results)]
        mcts.close()
        return trace

    assert play(groups) == play(1)


def test_pipelined_groups_overlap_a_slow_evaluator() -> None:
    import threading
    import time

    class Slow(UniformEvaluator):
        """Sleeps like a remote call; records how many calls were in flight at once."""

        def __init__(self, board_size):
            super().__init__(board_size)
            self.active = self.most = 0
            self.lock = threading.Lock()

        def evaluate(self, features, legal):
            with self.lock:
                self.active += 1
                self.most = max(self.most, self.active)
            time.sleep(0.002)
            with self.lock:
                self.active -= 1
            return super().evaluate(features, legal)

    evaluator = Slow(5)
    mcts = BatchedMcts(evaluator, SearchConfig(visits=20), board_size=5, num_games=8, pipeline_groups=2)
    mcts.search([GameState.new(5)] * 8)
    mcts.close()
    assert evaluator.most == 2


def test_asynchronous_steps_search_exactly_like_search() -> None:
    # begin/step let games run ahead of each other; each game's search is unchanged.
    evaluator = PreferPointEvaluator(7, coords.from_gtp("D4", 7))
    starts = [GameState.new(7).play(p) for p in range(6)]

    lockstep = BatchedMcts(evaluator, SearchConfig(visits=30), board_size=7, num_games=6)
    expected = {i: [] for i in range(6)}
    states = list(starts)
    for _ in range(4):
        results = lockstep.search(states)
        for i, r in enumerate(results):
            expected[i].append((r.move, tuple(r.move_visits)))
        states = [s.play(r.move) for s, r in zip(states, results)]

    mcts = BatchedMcts(evaluator, SearchConfig(visits=30), board_size=7, num_games=6)
    got = {i: [] for i in range(6)}
    states = list(starts)
    for i, state in enumerate(states):
        mcts.begin(i, state)
    while mcts.searching:
        for i, r in mcts.step():
            got[i].append((r.move, tuple(r.move_visits)))
            states[i] = states[i].play(r.move)
            if len(got[i]) < 4:
                mcts.begin(i, states[i])
    assert got == expected
    with pytest.raises(RuntimeError):
        mcts.begin(0, states[0])
        mcts.search([None] * 6)


@pytest.mark.parametrize("board_size, visits, move_limit, groups", [(9, 1, None, 1), (9, 64, None, 2),
                                                                    (13, 300, 500, 1), (19, 8, 2000, 2)])
def test_search_bytes_per_game_is_what_a_game_allocates(board_size, visits, move_limit, groups) -> None:
    """A worker budgets blocks with it before allocating: it must be the allocation itself."""

    def allocated(games: int) -> int:
        mcts = BatchedMcts(UniformEvaluator(board_size), SearchConfig(visits=visits), board_size=board_size,
                           num_games=games, move_limit=move_limit, pipeline_groups=groups)
        arrays = [v for v in vars(mcts).values() if isinstance(v, np.ndarray)]
        arrays += [*mcts._features[1:], *mcts._legal[1:], *mcts._group_masks]  # group 0's are attributes too
        total = sum(a.nbytes for a in arrays)
        mcts.close()
        return total

    assert allocated(3) - allocated(2) == search_bytes_per_game(board_size, visits, move_limit=move_limit,
                                                                pipeline_groups=groups)
