"""GtpPlayer keeps a real engine process in step with our board, through crashes, hangs and bad replies.

The engine is the scripted fake (tests/support/fake_gtp.py) run as a subprocess; it dumps its
own board after every command, so each test can check that the engine's view after a restart
and replay is exactly our game.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from search_workers.engines import (BlockGame, EngineFailure, EnginePool, EngineSeat, GtpPlayer, UnknownEngine,
                                    UnsupportedGame, play_games)
from search_workers.go import Color, GameState, IllegalMoveError, IllegalReason, Rules, coords
from tests.support.fake_engines import engine_spec, fake_spec

RULES = Rules.preset("tromp-taylor", komi=7.5)
# A ko on 9x9: after these nine moves Black has just taken at E5 and White may not retake D5.
KO_OPENING = ["C5", "E6", "D6", "E4", "D4", "F5", "A1", "D5", "E5"]


def opening(moves: list[str], board_size: int = 9) -> GameState:
    state = GameState.new(board_size, RULES)
    for move in moves:
        state = state.play(move)
    return state


def engine_view(dump: Path) -> dict:
    return json.loads(dump.read_text())


def assert_engine_sees(dump: Path, state: GameState) -> None:
    """The engine's moves and stones are exactly our game's."""
    view = engine_view(dump)
    n = state.board_size
    assert view["size"] == n and view["komi"] == state.rules.komi
    assert view["moves"] == [[c.name[0].lower(), coords.to_gtp(p, n)] for c, p in state.moves]
    stones = state.stones().reshape(-1)
    for color, key in ((Color.BLACK, "black"), (Color.WHITE, "white")):
        assert view[key] == sorted(coords.to_gtp(p, n) for p in range(n * n) if stones[p] == color)


def play_moves(player: GtpPlayer, state: GameState, count: int) -> GameState:
    """`count` moves of the engine against itself, through genmove."""
    for _ in range(count):
        state = state.play(player.genmove(state))
    return state


def test_plays_a_game_in_step_with_our_board(tmp_path: Path) -> None:
    dump = tmp_path / "board.json"
    with GtpPlayer(fake_spec("--dump", str(dump), "--version", "2.5")) as player:
        state = opening(["E5", "D4"])
        player.new_game(state)
        assert (player.name, player.version) == ("fake", "2.5")
        assert_engine_sees(dump, state)
        state = play_moves(player, state, 6)
        # Moves the engine did not make (another player's) are sent before its next genmove.
        state = state.play("J1")
        state = play_moves(player, state, 1)
        assert_engine_sees(dump, state)


def test_setup_stones_reach_the_engine(tmp_path: Path) -> None:
    dump = tmp_path / "board.json"
    state = GameState.from_ascii("""
        . X O . .
        X X O . .
        . X O O .
        . X . O .
        . X O . .
    """, rules=RULES, to_move=Color.WHITE)
    with GtpPlayer(fake_spec("--dump", str(dump))) as player:
        player.new_game(state)
        view = engine_view(dump)
        assert view["black"] == ["A4", "B1", "B2", "B3", "B4", "B5"]
        assert view["white"] == ["C1", "C3", "C4", "C5", "D2", "D3"]
        assert player.genmove(state) is not None


@pytest.mark.parametrize("fault", ["--crash-at", "--hang-at", "--garbage-at"])
def test_restarts_and_replays_after_a_failure(tmp_path: Path, fault: str) -> None:
    dump = tmp_path / "board.json"
    spec = fake_spec(fault, "7", "--once", str(tmp_path / "fired"), "--dump", str(dump))
    with GtpPlayer(spec) as player:
        state = opening(["E5", "D4", "C3"])
        player.new_game(state)
        started = time.monotonic()
        state = play_moves(player, state, 5)  # move 7 fails once, in the first process only
        assert time.monotonic() - started < 10
        assert player.failures == 1
        assert_engine_sees(dump, state)  # the new process was given the whole game
        log = player.stderr_log()
        assert "[arena] failure 1/3, genmove at move 7" in log
        assert log.count("started") == 2  # both processes' stderr are kept
        if fault == "--crash-at":
            assert "crashing at move 7" in log and "exit code 3" in log


def test_gives_up_after_max_failures_with_the_reason(tmp_path: Path) -> None:
    with GtpPlayer(fake_spec("--crash-at", "3"), max_failures=2) as player:
        state = opening(["E5"])
        player.new_game(state)
        state = play_moves(player, state, 1)
        with pytest.raises(EngineFailure) as failure:
            player.genmove(state)
        assert failure.value.engine == "fake"
        assert "2 failure(s) in this game" in failure.value.reason
        assert "genmove at move 3" in failure.value.reason and "exit code 3" in failure.value.reason
        assert player.stderr_log().count("crashing at move 3") == 2
        # A new game starts with a clean slate (and a fresh process).
        player.new_game(opening([]))
        assert player.failures == 0 and "crashing" not in player.stderr_log()


def test_a_hang_is_cut_by_the_move_timeout(tmp_path: Path) -> None:
    with GtpPlayer(fake_spec("--hang-at", "1"), max_failures=1) as player:
        player.new_game(opening([]))
        started = time.monotonic()
        with pytest.raises(EngineFailure, match="within 0.5 s"):
            player.genmove(opening([]))
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("kind, moves, expected", [
    ("occupied", ["E5", "D4"], IllegalReason.OCCUPIED),
    ("ko", KO_OPENING, IllegalReason.KO),
])
def test_an_illegal_move_is_returned_for_the_caller_to_judge(tmp_path: Path, kind: str, moves: list[str],
                                                             expected: IllegalReason) -> None:
    dump = tmp_path / "board.json"
    spec = fake_spec("--illegal-at", str(len(moves) + 1), "--illegal-kind", kind, "--once", str(tmp_path / "fired"),
                     "--dump", str(dump))
    with GtpPlayer(spec) as player:
        state = opening(moves)
        player.new_game(state)
        move = player.genmove(state)
        with pytest.raises(IllegalMoveError) as illegal:
            state.play(move)
        assert illegal.value.reason is expected
        assert player.failures == 0  # a move, not a crash
        # Asked again, the engine is set up afresh: its board is ours again, not ours plus its illegal move.
        state = state.play(player.genmove(state))
        assert_engine_sees(dump, state)


def test_a_refused_command_fails_at_once() -> None:
    with GtpPlayer(fake_spec(setup_commands=["no-such-command"])) as player:
        with pytest.raises(EngineFailure, match="refused 'no-such-command': unknown command"):
            player.new_game(opening([]))


def test_an_engine_that_cannot_start_fails_with_the_reason() -> None:
    spec = engine_spec(name="missing", command=["/nonexistent/engine"], max_failures=2)
    with GtpPlayer(spec) as player:
        with pytest.raises(EngineFailure, match="cannot start /nonexistent/engine"):
            player.new_game(opening([]))


def test_refuses_board_sizes_the_engine_does_not_play() -> None:
    spec = engine_spec(name="lz", preset="leela-zero", weights="w.gz", binary="/nonexistent/leelaz")
    with pytest.raises(UnsupportedGame, match="'lz' plays 19x19 only; asked for 9x9"):
        GtpPlayer(spec).new_game(opening([]))


def test_players_run_in_parallel_threads(tmp_path: Path) -> None:
    dumps = [tmp_path / f"board{i}.json" for i in range(3)]
    players = [GtpPlayer(fake_spec("--dump", str(dump))) for dump in dumps]
    openings = [["E5"], ["C3", "G7"], ["A1"]]

    def play(i: int) -> GameState:
        players[i].new_game(opening(openings[i]))
        return play_moves(players[i], opening(openings[i]), 8)

    try:
        with ThreadPoolExecutor(3) as pool:
            finals = list(pool.map(play, range(3)))
        for dump, final in zip(dumps, finals):
            assert_engine_sees(dump, final)
    finally:
        for player in players:
            player.close()


def test_pool_reuses_started_engines_and_closes_them() -> None:
    with EnginePool({"fake": fake_spec()}) as pool:
        with pytest.raises(UnknownEngine, match="no engine named 'katago' is configured"):
            pool.acquire("katago")
        with pool.lease("fake") as player:
            player.new_game(opening([]))
            assert player.running
        again = pool.acquire("fake")
        other = pool.acquire("fake")  # the first is lent out: a second process
        assert again is player and other is not player
        pool.release(again)
        pool.release(other)
    assert not player.running and not other.running


def test_block_runner_plays_engines_and_forfeits_an_illegal_move(tmp_path: Path) -> None:
    pool = EnginePool({"fake": fake_spec(), "cheat": fake_spec("--illegal-at", "4", name="cheat")})

    def seat(name: str) -> EngineSeat:
        return EngineSeat(name, checkout=lambda: pool.acquire(name), checkin=pool.release)

    with pool:
        fair, cheat = play_games([BlockGame(black=seat("fake"), white=seat("fake")),
                                  BlockGame(black=seat("fake"), white=seat("cheat"))],
                                 board_size=5, rules=RULES)
    assert fair.scoring == "tromp-taylor" and fair.final.consecutive_passes == 2
    assert fair.engine_versions == {"fake": "1.0"} and "fake-gtp" in fair.engine_logs["fake"]
    assert (cheat.result, cheat.scoring) == ("B+F", "forfeit")
    assert "cheat played an illegal move" in cheat.reason
