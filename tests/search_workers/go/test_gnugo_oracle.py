"""GNU Go as the rules oracle: random games played move by move on both sides over GTP.

Our `GameState` under `Rules(ko=SIMPLE, suicide_allowed=False)` and GNU Go (`--simple-ko
--forbid-suicide`, its defaults) must agree, after every move, on

* the whole board (`list_stones black` / `list_stones white`);
* the legality of a sample of points for both colours (`is_legal`): every empty point our
  rules forbid (ko and suicide points) plus a few random empty and occupied points;
* the full set of legal moves of the side to move (`all_legal`, a GNU Go extension);
* deliberately illegal moves (ko retakes, suicides, occupied points), which GNU Go must refuse
  with `? illegal move` just as we raise `IllegalMoveError`; refused moves are not moves.

GNU Go's legality is per colour, whoever's turn it is (its ko point bars only the colour
whose stone was just taken, and any move or pass clears it), which is what our
`is_legal(move, color)` means too, so both colours are compared at every step.

A disagreement fails with the game label and seed, the move number, each side's answer, both
boards and the whole game so far as SGF. Games are pure functions of their seeds.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from typing import NoReturn

import numpy as np
import pytest

from search_workers.go import coords
from search_workers.go.playout import random_move
from search_workers.go.rules import KoRule, Rules
from search_workers.go.state import Color, GameState, IllegalReason, to_ascii
from tests.support.engines import require_gnugo
from tests.support.gtp import GtpClient, GtpEngineError, GtpFailure, GtpResponse

GNUGO_ARGS = ["--mode", "gtp", "--simple-ko", "--forbid-suicide"]
KOMI = 7.5
RULES = Rules(komi=KOMI, ko=KoRule.SIMPLE, suicide_allowed=False)  # GNU Go's rule set

pytestmark = pytest.mark.oracle

GTP_NAME = {Color.BLACK: "black", Color.WHITE: "white"}


@pytest.fixture
def gnugo():
    """A fresh GNU Go per test; every test that needs it is skipped where it is not installed."""
    with GtpClient([require_gnugo(), *GNUGO_ARGS], timeout=20.0) as client:
        yield client


# ---------------------------------------------------------------------------- reporting


def game_sgf(state: GameState, *, label: str = "", comment: str = "") -> str:
    """The game so far as SGF through the project's writer, `comment` on the last node.

    Falls back to a minimal hand-written SGF if the writer fails, so that a rules
    disagreement is never hidden behind a bug in the writer.
    """
    try:
        from search_workers.go.sgf import GameRecord, write_sgf

        record = GameRecord.from_state(state, black="random (oracle test)", white="random (oracle test)",
                                       game_name=label or None, comments={len(state.moves): comment})
        return write_sgf(record)
    except Exception as exc:  # noqa: BLE001 - any failure here must not mask the real one
        note = f"SGF writer failed ({type(exc).__name__}: {exc}); minimal SGF follows"
    n = state.board_size
    nodes = "".join(f";{color.letter}[{coords.to_sgf(p, n)}]" for color, p in state.moves)
    return f"(;FF[4]GM[1]SZ[{n}]KM[{state.rules.komi:g}]RU[{state.rules.to_sgf()}]C[{note}]{nodes})"


@functools.lru_cache(maxsize=None)
def _vertex_index(n: int) -> dict[str, int]:
    return {coords.to_gtp(p, n): p for p in range(n * n)}


def parse_vertices(text: str, n: int) -> set[int]:
    """The points of a GTP vertex list such as `list_stones` answers."""
    index = _vertex_index(n)
    return {index[v] if v in index else coords.from_gtp(v, n) for v in text.upper().split()}


def vertices(points, n: int) -> str:
    return " ".join(coords.to_gtp(p, n) for p in sorted(points)) or "(none)"


class Disagreement(AssertionError):
    pass


class Lockstep:
    """One game played on our `GameState` and GNU Go at once, checked after every move."""

    def __init__(self, gtp: GtpClient, board_size: int, *, label: str, stats: Counter | None = None,
                 seed: int = 0, random_points: int = 3):
        self.gtp = gtp
        self.n = board_size
        self.label = label
        self.stats = Counter() if stats is None else stats
        self.rng = np.random.default_rng([seed, 0])  # the moves: the game is a function of the seed
        self.sample_rng = np.random.default_rng([seed, 1])  # the checks, so fewer checks keep the games
        self.random_points = random_points
        self.state = GameState.new(board_size, RULES)
        for response in gtp.send_many([f"boardsize {board_size}", "clear_board", f"komi {KOMI:g}"]):
            assert response.ok, f"GNU Go refused to set up a {board_size}x{board_size} game: {response}"

    # ------------------------------------------------------------------ failing

    def fail(self, what: str) -> NoReturn:
        state = self.state
        raise Disagreement(
            f"GNU Go and our rules disagree in {self.label} at move {state.move_number}"
            f" ({state.to_move.name.lower()} to move):\n{what}\n"
            f"our board:\n{to_ascii(state.stones())}\n"
            f"the game so far as SGF:\n{game_sgf(state, label=self.label, comment=what)}"
        )

    # ------------------------------------------------------------------ moves

    def play(self, move, color: Color | None = None) -> bool:
        """Offer `color` (default: side to move) playing `move` to both; True if both accepted it.

        A move both refuse changes nothing (and is not a move). If only one side accepts it,
        the test fails. After an accepted move the position is checked.
        """
        color = self.state.to_move if color is None else Color(color)
        p = coords.from_gtp(move, self.n) if isinstance(move, str) else coords.check_flat(move, self.n)
        vertex = coords.to_gtp(p, self.n)
        reason = self.state.status(p, color)
        response = self.gtp.send(f"play {GTP_NAME[color]} {vertex}")
        if reason is None and response.ok:
            before = self.state
            self.state = self.state.play(p, color)
            self._count_move(before, self.state, p, color)
            self.check()
            return True
        if reason is not None and not response.ok and response.text == "illegal move":
            self.stats[f"refused_{reason.name.lower()}"] += 1
            return False
        ours = "legal" if reason is None else f"illegal ({reason.value})"
        self.fail(f"play {GTP_NAME[color]} {vertex}: ours {ours}; GNU Go answered '{response}'")

    def _count_move(self, before: GameState, after: GameState, p: int, color: Color) -> None:
        stats = self.stats
        stats["moves"] += 1
        if p == coords.pass_move(self.n):
            stats["passes"] += 1
            return
        taken = after.captures[color] - before.captures[color]
        if taken:
            stats["captures"] += 1
            stats["stones_captured"] += taken
            if taken > 1:
                stats["multi_stone_captures"] += 1
            removed = np.flatnonzero((before.stones() == int(color.opponent)) & (after.stones() == 0))
            rows, cols = np.divmod(removed, self.n)
            if np.any((rows == 0) | (rows == self.n - 1) | (cols == 0) | (cols == self.n - 1)):
                stats["edge_captures"] += 1
        if after.ko_point is not None:
            stats["kos"] += 1

    # ------------------------------------------------------------------ checks

    def check(self, legality_points: dict[Color, list[int]] | None = None) -> None:
        """Compare the board, the side to move's legal moves and `is_legal` at sampled points."""
        n, state = self.n, self.state
        if state.is_over:
            # Two passes end our game; GNU Go has no such state, so only the board is compared.
            legality_points = {Color.BLACK: [], Color.WHITE: []}
        elif legality_points is None:
            legality_points = {color: self.sample_points(color) for color in Color}
        queries = [(color, p) for color in Color for p in legality_points[color]]
        commands = ["list_stones black", "list_stones white", f"all_legal {GTP_NAME[state.to_move]}"]
        commands += [f"is_legal {GTP_NAME[color]} {coords.to_gtp(p, n)}" for color, p in queries]
        responses = self.gtp.send_many(commands)
        for command, response in zip(commands, responses):
            if not response.ok:
                self.fail(f"GNU Go failed {command!r}: '{response}'")
        problems = []

        stones = state.stones().reshape(-1)
        for color, response in zip(Color, responses[:2]):
            ours = set(np.flatnonzero(stones == int(color)).tolist())
            theirs = parse_vertices(response.text, n)
            if ours != theirs:
                problems.append(f"list_stones {GTP_NAME[color]}: only ours {vertices(ours - theirs, n)};"
                                f" only GNU Go {vertices(theirs - ours, n)}")

        legal = state.legal_moves()[:-1]
        ours = set(np.flatnonzero(legal).tolist())
        theirs = parse_vertices(responses[2].text, n)
        if ours != theirs and not state.is_over:
            detail = "; ".join(f"{coords.to_gtp(p, n)} ours {state.status(p) and state.status(p).value or 'legal'}"
                               for p in sorted(ours ^ theirs))
            problems.append(f"all_legal {GTP_NAME[state.to_move]}: only ours legal {vertices(ours - theirs, n)};"
                            f" only GNU Go legal {vertices(theirs - ours, n)} ({detail})")

        for (color, p), response in zip(queries, responses[3:]):
            if response.text not in ("0", "1"):
                self.fail(f"GNU Go answered is_legal {GTP_NAME[color]} {coords.to_gtp(p, n)} with '{response}'")
            reason = state.status(p, color)
            if (reason is None) != (response.text == "1"):
                problems.append(f"is_legal {GTP_NAME[color]} {coords.to_gtp(p, n)}: ours "
                                f"{'1 (legal)' if reason is None else f'0 ({reason.value})'}; GNU Go {response.text}")
        self.stats["is_legal_checks"] += len(queries)
        self.stats["all_legal_checks"] += not state.is_over
        if problems:
            gnugo_board = np.zeros(n * n, dtype=np.int8)
            for color, response in zip(Color, responses[:2]):
                for q in parse_vertices(response.text, n):
                    gnugo_board[q] = int(color)
            self.fail("\n".join(problems) + f"\nGNU Go's board:\n{to_ascii(gnugo_board.reshape(n, n))}")

    def sample_points(self, color: Color) -> list[int]:
        """The points whose legality for `color` is compared with GNU Go's `is_legal`.

        Every empty point `color` may not play (ko and suicide points), the ko point and the
        empty neighbours of the last move (where legality just changed), a few random empty
        points and one random occupied point.
        """
        state, n = self.state, self.n
        empty = state.stones().reshape(-1) == 0
        legal = state.legal_moves(color)[:-1]
        points = set(np.flatnonzero(empty & ~legal).tolist())  # ko and suicide points
        if state.ko_point is not None:
            points.add(state.ko_point)
        last = state.last_move
        if last is not None and last != coords.pass_move(n):
            row, col = divmod(last, n)
            for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
                if 0 <= r < n and 0 <= c < n and empty[r * n + c]:
                    points.add(r * n + c)
        open_points = np.flatnonzero(empty & legal)
        k = min(self.random_points, len(open_points))
        if k:
            points.update(self.sample_rng.choice(open_points, size=k, replace=False).tolist())
        occupied = np.flatnonzero(~empty)
        if len(occupied):
            points.add(int(self.sample_rng.choice(occupied)))
        return sorted(points)

    # ------------------------------------------------------------------ random games

    def try_illegal_moves(self) -> None:
        """Sometimes offer moves our rules forbid (ko retake, suicide, occupied); both must refuse."""
        state, rng = self.state, self.rng
        if state.ko_point is not None and rng.random() < 0.5:
            self.stats["ko_retakes_tried"] += 1
            self.play(state.ko_point)  # fails the test unless both refuse it
        empty = state.stones().reshape(-1) == 0
        forbidden = np.flatnonzero(empty & ~state.legal_moves()[:-1])
        suicides = [p for p in forbidden.tolist() if state.status(p) is IllegalReason.SUICIDE]
        if suicides and rng.random() < 0.3:
            self.stats["suicides_tried"] += 1
            self.play(int(rng.choice(suicides)))
        occupied = np.flatnonzero(~empty)
        if len(occupied) and rng.random() < 0.05:
            self.stats["occupied_tried"] += 1
            self.play(int(rng.choice(occupied)))

    def choose_move(self) -> int:
        """Mostly `random_move` (no own-eye filling, so games end); sometimes any legal point or a pass."""
        rng, state = self.rng, self.state
        r = rng.random()
        if r < 0.01:
            return coords.pass_move(self.n)
        if r < 0.10:
            points = np.flatnonzero(state.legal_moves()[:-1])
            if len(points):
                return int(rng.choice(points))
        return random_move(state, rng)

    def play_random_game(self, move_cap: int) -> None:
        while not self.state.is_over and self.state.move_number < move_cap:
            self.try_illegal_moves()
            move = self.choose_move()
            if not self.play(move):
                self.fail(f"GNU Go and we both refused {coords.to_gtp(move, self.n)}, which our legal_moves offered")
        self.stats["games"] += 1
        self.stats["games_ended_by_passes" if self.state.consecutive_passes >= 2 else "games_capped"] += 1


def play_random_games(gtp: GtpClient, board_size: int, games: int, seed: int, random_points: int) -> Counter:
    stats: Counter = Counter()
    for game in range(games):
        game_seed = seed + game
        oracle = Lockstep(gtp, board_size, label=f"{board_size}x{board_size} random game {game} (seed {game_seed})",
                          stats=stats, seed=game_seed, random_points=random_points)
        oracle.check()
        oracle.play_random_game(move_cap=3 * board_size * board_size)
    return stats


def assert_exercised(stats: Counter, games: int) -> None:
    """The random games must not degrade into trivial ones that test nothing."""
    assert stats["games"] == games
    for key in ("captures", "multi_stone_captures", "edge_captures", "kos", "refused_ko", "refused_suicide",
                "refused_occupied", "games_ended_by_passes"):
        assert stats[key] > 0, f"the random games never exercised {key}: {dict(stats)}"


@pytest.mark.parametrize(("board_size", "games", "seed", "random_points"), [
    pytest.param(9, 200, 9_000, 3, id="9x9-200-games"),
    pytest.param(19, 20, 19_000, 3, id="19x19-20-games"),
])
def test_random_games_agree_with_gnugo(gnugo, board_size, games, seed, random_points):
    t0 = time.perf_counter()
    stats = play_random_games(gnugo, board_size, games, seed, random_points)
    elapsed = time.perf_counter() - t0
    print(f"\n{board_size}x{board_size}: {elapsed:.1f} s, " + ", ".join(f"{k}={v}" for k, v in sorted(stats.items())))
    assert_exercised(stats, games)


# ---------------------------------------------------------------------------- targeted positions


def full_check(oracle: Lockstep) -> None:
    """Check is_legal at every point for both colours (small positions, so affordable)."""
    every = list(range(oracle.n * oracle.n))
    oracle.check({Color.BLACK: every, Color.WHITE: every})


def setup(oracle: Lockstep, moves: str) -> None:
    """Play 'B D6 W E6 ...' in both, with explicit colours, checking every point after each move."""
    words = moves.split()
    for letter, vertex in zip(words[::2], words[1::2]):
        assert oracle.play(vertex, Color.parse(letter)), f"setup move {letter} {vertex} was refused"
        full_check(oracle)


def test_simple_ko_retake_is_refused_by_both(gnugo):
    oracle = Lockstep(gnugo, 9, label="ko position")
    # Black takes the white stone at D5 with E5: a ko. White may not retake at once.
    setup(oracle, "B D6 W E6 B C5 W F5 B D4 W E4 B A8 W D5 B E5")
    state = oracle.state
    assert state.color_at("D5") is None and state.ko_point == coords.from_gtp("D5", 9)
    assert not oracle.play("D5", Color.WHITE), "white's immediate ko retake was accepted"
    assert oracle.stats["refused_ko"] == 1
    # Black may fill the ko, White may not retake; both still hold after a failed retake.
    full_check(oracle)
    # A ko threat and its answer lift the ban: White retakes, and now Black may not retake.
    setup(oracle, "W J1 B J2 W D5")
    assert oracle.state.color_at("E5") is None and oracle.state.ko_point == coords.from_gtp("E5", 9)
    assert not oracle.play("E5", Color.BLACK), "black's immediate ko retake was accepted"
    # A pass also lifts the ban (checked at E5 by the full check after the pass); Black retakes.
    setup(oracle, "B pass")
    assert oracle.state.is_legal("E5", Color.BLACK)
    setup(oracle, "W J3 B E5")
    assert oracle.state.color_at("D5") is None


def test_ko_on_the_edge_and_in_the_corner_is_refused_by_both(gnugo):
    oracle = Lockstep(gnugo, 9, label="edge and corner kos")
    # Edge: Black B5 takes the white stone on A5 and is left with the single liberty A5.
    setup(oracle, "B A6 W B6 B A4 W B4 W C5 W A5 B B5")
    assert oracle.state.ko_point == coords.from_gtp("A5", 9)
    assert not oracle.play("A5", Color.WHITE), "white's immediate edge-ko retake was accepted"
    # Corner: Black B1 takes the white stone on A1.
    setup(oracle, "W J9 B A2 W C1 W B2 W A1 B B1")
    assert oracle.state.ko_point == coords.from_gtp("A1", 9)
    assert not oracle.play("A1", Color.WHITE), "white's immediate corner-ko retake was accepted"
    assert oracle.stats["refused_ko"] == 2


def test_suicide_is_refused_by_both(gnugo):
    oracle = Lockstep(gnugo, 9, label="suicide positions")
    # Single-stone suicide in the corner: White A9 inside black A8/B9.
    setup(oracle, "B A8 B B9")
    assert oracle.state.status("A9", Color.WHITE) is IllegalReason.SUICIDE
    assert not oracle.play("A9", Color.WHITE)
    # Multi-stone suicide: black surrounds the column E5-E4-E3; White E5 and E4 are legal, then
    # White E3 would leave the three-stone chain without a liberty.
    setup(oracle, "W E5 B E6 B D5 B F5 B D4 B F4 B D3 B F3 B E2")
    assert oracle.state.status("E4", Color.WHITE) is None  # E4 still has E3
    setup(oracle, "W E4")
    assert oracle.state.status("E3", Color.WHITE) is IllegalReason.SUICIDE
    assert not oracle.play("E3", Color.WHITE), "white's three-stone suicide was accepted"
    assert oracle.stats["refused_suicide"] == 2
    # Black filling its last liberty there is not suicide: it captures the two white stones.
    assert oracle.play("E3", Color.BLACK)
    assert oracle.state.color_at("E5") is None and oracle.state.color_at("E4") is None


def test_move_without_liberties_that_captures_is_legal_for_both(gnugo):
    oracle = Lockstep(gnugo, 9, label="capture, not suicide")
    # White A1 has no liberty of its own, but it takes the black stones B1 and A2, each of
    # which has A1 as its last liberty.
    setup(oracle, "B B1 W C1 B A2 W B2 W A3")
    assert oracle.state.status("A1", Color.WHITE) is None
    assert oracle.play("A1", Color.WHITE)
    assert oracle.state.captures[Color.WHITE] == 2


def test_multi_stone_capture_agrees(gnugo):
    oracle = Lockstep(gnugo, 9, label="multi-stone capture")
    # A three-stone white chain in the middle, surrounded by black, then captured.
    setup(oracle, "W D5 W E5 W F5 B C5 B G5 B D6 B E6 B F6 B D4 B E4")
    assert oracle.play("F4", Color.BLACK)
    assert oracle.state.captures[Color.BLACK] == 3
    assert oracle.stats["multi_stone_captures"] == 1
    assert all(oracle.state.color_at(v) is None for v in ("D5", "E5", "F5"))


def test_corner_and_edge_captures_agree(gnugo):
    oracle = Lockstep(gnugo, 19, label="corner and edge captures")
    # Corner: white A1 taken by black A2 + B1.
    setup(oracle, "W A1 B A2 B B1")
    assert oracle.state.color_at("A1") is None and oracle.state.captures[Color.BLACK] == 1
    # Edge: white K19-L19 on the top edge, taken by black J19, M19, K18, L18.
    setup(oracle, "W K19 W L19 B J19 B K18 B M19 B L18")
    assert oracle.state.color_at("K19") is None and oracle.state.color_at("L19") is None
    assert oracle.state.captures[Color.BLACK] == 3
    # Another corner, the other colour (T is the 19th GTP column): black T1 taken by white S1 + T2.
    setup(oracle, "B T1 W S1 W T2")
    assert oracle.state.color_at("T1") is None and oracle.state.captures[Color.WHITE] == 1
    assert oracle.stats["edge_captures"] == 3


# ---------------------------------------------------------------------------- the GTP client itself


def test_gtp_client_fails_fast_on_a_hung_or_dead_engine():
    """A silent engine times out and a dead one is reported: neither can hang the suite."""
    with GtpClient([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.3) as silent:
        t0 = time.perf_counter()
        with pytest.raises(GtpEngineError, match="no complete response"):
            silent.command("name")
        assert time.perf_counter() - t0 < 10
        with pytest.raises(GtpEngineError, match="unusable"):
            silent.command("name")
    with GtpClient([sys.executable, "-c", "pass"], timeout=5.0) as dead:
        with pytest.raises(GtpEngineError):
            dead.command("name")


def test_gtp_client_tells_success_from_failure(gnugo):
    assert gnugo.send("name") == GtpResponse(ok=True, text="GNU Go")
    assert gnugo.send("no_such_command") == GtpResponse(ok=False, text="unknown command")
    with pytest.raises(GtpFailure, match="illegal move"):
        gnugo.send_many(["boardsize 9", "clear_board", "play black E5"])
        gnugo.command("play white E5")
