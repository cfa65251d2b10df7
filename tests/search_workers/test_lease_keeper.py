"""The worker's lease keeper: its heartbeat thread must not hold the games of a stuck block for ever."""

from __future__ import annotations

import logging
import threading

from search_workers.engines import BlockGame, MctsPlayer, play_games
from search_workers.go import Rules
from search_workers.leases import LeaseKeeper
from search_workers.search import SearchConfig
from tests.search_workers.engines.test_match import HashEvaluator


class LeasingSink:
    """Grants every claim and extension, and notes which ids each extension asked for."""

    def __init__(self) -> None:
        self.extended: list[list[int]] = []
        self.lock = threading.Lock()

    def claim(self, game_ids, worker, lease_s):
        return list(game_ids)

    def extend(self, game_ids, worker, lease_s):
        with self.lock:
            self.extended.append(sorted(game_ids))
        return set(game_ids)

    def give_back(self, game_ids, worker):
        pass


def test_a_block_that_plays_no_move_for_the_stall_limit_lets_its_leases_expire(caplog) -> None:
    sink = LeasingSink()
    # A lease of an hour: the keeper's own thread beats once at the start, then not during the test.
    keeper = LeaseKeeper(sink, "host:1", lease_s=3600.0, stall_s=60.0)
    try:
        stuck, moving = keeper.claim([1, 2, 3]), keeper.claim([7])
        stuck.last_move -= 30.0  # quiet, within the limit: still extended
        keeper.beat()
        assert sink.extended[-1] == [1, 2, 3, 7]

        stuck.last_move -= 31.0  # 61 s without a move
        moving.progressed()
        with caplog.at_level(logging.ERROR, logger="search_workers.leases"):
            keeper.beat()
        assert sink.extended[-1] == [7]  # the stuck block's leases are no longer extended
        assert stuck.all_lost() and stuck.lost == {1, 2, 3}  # its play loop stops if it ever wakes
        assert not moving.all_lost()
        assert "has played no move for 61 s" in caplog.text and "[1, 2, 3]" in caplog.text
        assert keeper.state().games_in_hand == 1
    finally:
        keeper.close()


def test_play_games_reports_every_move_it_plays() -> None:
    evaluator = HashEvaluator(5)
    a = MctsPlayer("a", evaluator, SearchConfig(visits=4, seed=1))
    b = MctsPlayer("b", evaluator, SearchConfig(visits=4, seed=2))
    games = [BlockGame(black=a, white=b, key=i, seed=i) for i in range(3)]
    moves = []
    outcomes = play_games(games, board_size=5, rules=Rules.preset("chinese", komi=7.5), concurrency=2,
                          move_limit=40, on_move=lambda: moves.append(1))
    played = sum(len(o.final.moves) for o in outcomes)
    resigned = sum(o.final.resigned is not None for o in outcomes)
    assert played > 0 and len(moves) == played + resigned
