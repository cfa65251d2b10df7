"""Opening books: random, SGF directory, network policy filtered by value; stored text form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arena.scheduling import (
    OpeningsSpec,
    SchedulingError,
    format_opening,
    from_policy,
    from_sgf_directory,
    opening_book,
    parse_opening,
    random_openings,
    replay_opening,
)
from search_workers.go import Color, GameRecord, GameState, Rules, random_game, write_sgf

RULES = Rules.preset("tromp-taylor")
N = 9


def test_none_is_one_empty_opening() -> None:
    assert opening_book(OpeningsSpec(), board_size=N, rules=RULES) == [()]


def test_random_openings_are_legal_and_seeded() -> None:
    book = random_openings(6, 5, board_size=N, rules=RULES, seed=3)
    assert len(book) == 6 and all(len(o) == 5 for o in book)
    for opening in book:
        replay_opening(opening, N, RULES)
    spec = OpeningsSpec(source="random", plies=5, count=6, seed=3)
    assert opening_book(spec, board_size=N, rules=RULES) == book
    assert random_openings(6, 5, board_size=N, rules=RULES, seed=4) != book


# ----------------------------------------------------------------------------------------- sgf


def write_game(folder: Path, name: str, state: GameState) -> None:
    (folder / name).write_text(write_sgf(GameRecord.from_state(state)))


def test_sgf_directory_keeps_the_first_moves_of_games_of_this_size(tmp_path: Path) -> None:
    games = [random_game(N, RULES, seed=s) for s in range(3)]
    for i, game in enumerate(games):
        write_game(tmp_path, f"g{i}.sgf", game)
    write_game(tmp_path, "big.sgf", random_game(13, RULES, seed=9))  # another size: skipped
    write_game(tmp_path, "short.sgf", GameState.new(N, RULES).play("E5"))  # too short: skipped
    (tmp_path / "notes.txt").write_text("not an sgf")
    book = from_sgf_directory(tmp_path, 6, N, rules=RULES)
    assert book == [tuple(p for _, p in g.moves[:6]) for g in games]
    spec = OpeningsSpec(source="sgf", plies=6, directory=str(tmp_path))
    assert opening_book(spec, board_size=N, rules=RULES) == book


def test_sgf_directory_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SchedulingError, match="not a directory"):
        from_sgf_directory(tmp_path / "missing", 4, N)
    write_game(tmp_path, "big.sgf", random_game(13, RULES, seed=1))
    with pytest.raises(SchedulingError, match="none of the 1 .sgf files"):
        from_sgf_directory(tmp_path, 4, N)
    illegal = GameRecord(board_size=N, rules=RULES, moves=((Color.BLACK, 40), (Color.WHITE, 40), (Color.BLACK, 0)))
    (tmp_path / "bad.sgf").write_text(write_sgf(illegal))
    with pytest.raises(SchedulingError, match=r"bad\.sgf: opening move 2"):
        from_sgf_directory(tmp_path, 3, N)


def test_sgf_out_of_turn_moves_are_refused(tmp_path: Path) -> None:
    record = GameRecord(board_size=N, rules=RULES, moves=((Color.BLACK, 40), (Color.BLACK, 41)))
    (tmp_path / "twice.sgf").write_text(write_sgf(record))
    with pytest.raises(SchedulingError, match="out of turn"):
        from_sgf_directory(tmp_path, 2, N)


# -------------------------------------------------------------------------------------- policy


class TopHalfLosesEvaluator:
    """Uniform policy over legal moves; value 0.9 if the last move is in the top half, else 0.

    The value is a known function of the move, so which openings survive a filter is known.
    """

    board_size = N

    def __init__(self) -> None:
        self.batches: list[int] = []

    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.batches.append(len(features))
        policy = legal / legal.sum(axis=1, keepdims=True)
        last_move = features[:, 10]  # plane 10: the point of the most recent move
        value = np.where(last_move[:, : N // 2].any(axis=(1, 2)), 0.9, 0.0)
        return policy.astype(np.float32), value.astype(np.float32)

    def close(self) -> None:
        pass


def test_policy_openings_keep_only_near_even_positions() -> None:
    evaluator = TopHalfLosesEvaluator()
    book = from_policy(evaluator, 2, N, RULES, count=10, max_abs_value=0.5, seed=1, max_tries=400)
    assert len(book) == len(set(book)) == 10
    for opening in book:
        replay_opening(opening, N, RULES)
        assert opening[-1] // N >= N // 2  # the last move is never in the top half
    assert max(evaluator.batches) > 1  # candidates were evaluated together
    spec = OpeningsSpec(source="policy", plies=2, count=10, max_abs_value=0.5, checkpoint="net", seed=1)
    assert opening_book(spec, board_size=N, rules=RULES, evaluator=TopHalfLosesEvaluator()) == book


class OneSidedEvaluator(TopHalfLosesEvaluator):
    """Every position is judged lost for the side to move."""

    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        policy, value = super().evaluate(features, legal)
        return policy, np.full_like(value, -0.9)


def test_policy_openings_fail_clearly_when_too_few_pass() -> None:
    evaluator = OneSidedEvaluator()
    with pytest.raises(SchedulingError, match="only 0 of 4 .* after 8 tries"):
        from_policy(evaluator, 1, N, RULES, count=4, max_abs_value=0.5, seed=0, max_tries=8, batch=4)
    assert evaluator.batches == [4, 4, 4, 4]  # two rounds of (one ply, then the final position)
    with pytest.raises(SchedulingError, match="plays 9x9"):
        from_policy(TopHalfLosesEvaluator(), 1, 13, RULES, count=1, max_abs_value=1.0, seed=0, max_tries=10)
    with pytest.raises(SchedulingError, match="evaluator"):
        opening_book(OpeningsSpec(source="policy", plies=2, checkpoint="net"), board_size=N, rules=RULES)


# -------------------------------------------------------------------------------------- text


def test_openings_round_trip_through_stored_text() -> None:
    opening = (40, 0, N * N, 80)
    text = format_opening(opening, N)
    assert text == "E5 A9 pass J1"
    assert parse_opening(text, N) == opening
    assert parse_opening(None, N) == parse_opening("", N) == ()


@pytest.mark.parametrize(("text", "message"), [("E5 E5", "opening move 2"), ("Z9", "not a GTP vertex|off"),
                                                 ("pass pass", "game is over")])
def test_stored_openings_must_replay_legally(text: str, message: str) -> None:
    with pytest.raises(SchedulingError, match=message):
        parse_opening(text, N)
