"""Property tests: the compiled referee against a small, slow, obviously-correct one.

`RefGame` below knows nothing of the compiled core. It keeps the board as a tuple, finds chains
by flood fill, and applies the rules as they are written:

* a stone is placed; every opponent chain left without a liberty is removed (captured);
  then, if the mover's own chain has no liberty, it is removed too (suicide): illegal unless
  the rules allow suicide and the chain has more than one stone (a lone stone's suicide is
  always illegal, as in KataGo), in which case the opponent is credited with those stones;
* simple ko: a capturing move may not recreate the board as it was before the opponent's last
  move (for alternating play this is exactly "no immediate recapture of a single-stone ko":
  the recreated board must have lost the opponent's last stone and regained exactly one own
  stone, the one at the point played);
* positional superko: the resulting board may not equal any board seen since the start;
* situational superko: (resulting board, player to move next) may not equal any seen pair;
  positions after a pass count as seen (they occurred);
* reasons are checked in the order occupied, ko, suicide, superko, as the core reports them
  (ko needs a capture and suicide needs none, so those two never compete).

Games are driven by hypothesis: a board size, a rule set and a list of integers that pick among
the legal moves (some integers mean pass). After every move the full legality masks, the
illegality reasons, the boards, captures, hashes and network features must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from search_workers.go import Color, GameState, IllegalReason, KoRule, Rules, format_score, random_game
from search_workers.go._layout import geometry

EMPTY, BLACK, WHITE = 0, 1, 2

ALL_RULES = [Rules(komi=0, ko=k, suicide_allowed=s) for k in KoRule for s in (False, True)]
SIZES = [2, 3, 5, 7, 9, 13, 19]
# Longest game (in moves) per board size: long on tiny boards, where kos and superko cycles
# are frequent; short on large ones, where the slow referee's full legal mask is costly.
MAX_MOVES = {2: 80, 3: 150, 4: 150, 5: 150, 7: 100, 9: 80, 13: 40, 19: 25}
# How an integer choice picks a move: c % 16 == 7 is a pass (not 0: hypothesis draws 0 and
# 2**16-1 often, and two passes end the game), c % 3 == 1 prefers a capturing move if there is
# one, and otherwise c indexes the legal points.
PASS_EVERY, PASS_AT = 16, 7
CAPTURE_EVERY = 3
OUT_OF_TURN_EVERY, OUT_OF_TURN_AT = 11, 5  # in games that allow it, c % 11 == 5 plays out of turn


# ----------------------------------------------------------------------------- the reference


def neighbours(p: int, n: int) -> list[int]:
    r, c = divmod(p, n)
    out = []
    if r > 0:
        out.append(p - n)
    if r < n - 1:
        out.append(p + n)
    if c > 0:
        out.append(p - 1)
    if c < n - 1:
        out.append(p + 1)
    return out


def chain_at(board: tuple | list, n: int, p: int) -> tuple[set[int], set[int]]:
    """(stones, liberties) of the chain through the stone at p, by flood fill."""
    color = board[p]
    stones, liberties, todo = {p}, set(), [p]
    while todo:
        s = todo.pop()
        for q in neighbours(s, n):
            if board[q] == EMPTY:
                liberties.add(q)
            elif board[q] == color and q not in stones:
                stones.add(q)
                todo.append(q)
    return stones, liberties


def all_chains(board: tuple | list, n: int) -> list[tuple[int, set[int], set[int]]]:
    """(colour, stones, liberties) of every chain on the board."""
    seen: set[int] = set()
    out = []
    for p in range(n * n):
        if board[p] != EMPTY and p not in seen:
            stones, libs = chain_at(board, n, p)
            seen |= stones
            out.append((board[p], stones, libs))
    return out


def place(board: tuple, n: int, p: int, c: int) -> tuple[tuple, int, int]:
    """Put colour c on the empty point p: (new board, opponent stones captured, own stones lost)."""
    b = list(board)
    b[p] = c
    captured = 0
    for q in neighbours(p, n):
        if b[q] == 3 - c:
            stones, libs = chain_at(b, n, q)
            if not libs:
                for s in stones:
                    b[s] = EMPTY
                captured += len(stones)
    suicided = 0
    stones, libs = chain_at(b, n, p)
    if not libs:
        for s in stones:
            b[s] = EMPTY
        suicided = len(stones)
    return tuple(b), captured, suicided


def area(board: tuple, n: int) -> list[int]:
    """Tromp-Taylor owner of every point: stones are their colour's; an empty region belongs to
    a colour if it reaches only stones of that colour, else to nobody (0)."""
    owner = list(board)
    seen: set[int] = set()
    for p in range(n * n):
        if board[p] != EMPTY or p in seen:
            continue
        region, reach, todo = {p}, set(), [p]
        while todo:
            s = todo.pop()
            for q in neighbours(s, n):
                if board[q] == EMPTY:
                    if q not in region:
                        region.add(q)
                        todo.append(q)
                else:
                    reach.add(board[q])
        seen |= region
        who = reach.pop() if len(reach) == 1 else EMPTY
        for s in region:
            owner[s] = who
    return owner


@dataclass
class RefGame:
    n: int
    rules: Rules
    board: tuple = ()
    to_move: int = BLACK
    boards: list = field(default_factory=list)  # the board after every ply; [0] is the start
    seen: set = field(default_factory=set)
    captures: dict = field(default_factory=lambda: {BLACK: 0, WHITE: 0})
    passes: int = 0
    placed: int = 0
    last_moves: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.board = (EMPTY,) * (self.n * self.n)
        self.boards = [self.board]
        self.seen = {self.key(self.board, BLACK)}

    def key(self, board: tuple, to_move: int):
        return (board, to_move) if self.rules.ko is KoRule.SITUATIONAL else board

    def reason(self, p: int, c: int | None = None) -> IllegalReason | None:
        """Why colour c (default: the side to move) may not play p, or None if it may."""
        n, c = self.n, self.to_move if c is None else c
        if p == n * n:
            return None
        if self.board[p] != EMPTY:
            return IllegalReason.OCCUPIED
        new, captured, suicided = place(self.board, n, p, c)
        if captured and len(self.boards) >= 2 and new == self.boards[-2]:
            return IllegalReason.KO
        if suicided and (not self.rules.suicide_allowed or suicided == 1):
            return IllegalReason.SUICIDE
        if self.rules.ko is not KoRule.SIMPLE and self.key(new, 3 - c) in self.seen:
            return IllegalReason.SUPERKO
        return None

    def play(self, p: int, c: int | None = None) -> None:
        """Colour c (default: the side to move) plays p; the opponent of c moves next."""
        n, c = self.n, self.to_move if c is None else c
        assert self.reason(p, c) is None
        if p == n * n:
            self.passes += 1
        else:
            self.board, captured, suicided = place(self.board, n, p, c)
            self.captures[c] += captured
            self.captures[3 - c] += suicided
            self.passes = 0
            self.placed += 1
        self.to_move = 3 - c
        self.boards.append(self.board)
        self.seen.add(self.key(self.board, self.to_move))
        self.last_moves.insert(0, p)

    def score(self) -> float:
        owner = area(self.board, self.n)
        return owner.count(BLACK) - owner.count(WHITE) - self.rules.komi


def zobrist_from_scratch(stones: np.ndarray) -> int:
    """The hash as `_layout.py` defines it: empty-board key xor the key of every stone."""
    n = stones.shape[0]
    _, zobrist = geometry(n)
    h = int(zobrist[0, 1])
    for p, c in enumerate(stones.reshape(-1).tolist()):
        if c:
            h ^= int(zobrist[c, p])
    return h


def ascii_board(board: tuple | np.ndarray, n: int) -> str:
    flat = list(np.asarray(board).reshape(-1))
    return "\n".join(" ".join(".XO"[flat[r * n + c]] for c in range(n)) for r in range(n))


def expected_features(ref: RefGame, legal: np.ndarray) -> np.ndarray:
    """Feature set v1 as features.py documents it, from the reference's board."""
    n, nn = ref.n, ref.n * ref.n
    me = ref.to_move
    planes = np.zeros((17, nn), dtype=np.float32)
    planes[0] = 1
    for color, stones, libs in all_chains(ref.board, n):
        base = 0 if color == me else 1
        for s in stones:
            planes[1 + base, s] = 1
            planes[3 + 3 * base + min(len(libs), 3) - 1, s] = 1
    planes[9] = legal[:nn]
    for i, m in enumerate(ref.last_moves[:5]):
        if m != nn:
            planes[10 + i, m] = 1
    planes[15] = 1.0 if me == BLACK else 0.0
    komi = ref.rules.komi
    planes[16] = np.float32((komi if me == WHITE else -komi) / 15.0)
    return planes.reshape(17, n, n)


# ----------------------------------------------------------------------------- the checks


def check_agrees(state: GameState, ref: RefGame, *, features: bool) -> None:
    n, nn = ref.n, ref.n * ref.n
    stones = state.stones()
    where = f"after moves {[m for _, m in state.moves]} under {state.rules.describe()}:\n{ascii_board(stones, n)}"

    # The board itself.
    assert stones.reshape(-1).tolist() == list(ref.board), f"boards differ {where}\nreference:\n" \
                                                          f"{ascii_board(ref.board, n)}"
    assert int(state.to_move) == ref.to_move, where
    assert state.captures == {Color.BLACK: ref.captures[BLACK], Color.WHITE: ref.captures[WHITE]}, where
    assert state.consecutive_passes == ref.passes, where
    assert state.move_number == len(ref.boards) - 1, where

    # No chain without liberties, computed here rather than by the core.
    for color, chain, libs in all_chains(stones.reshape(-1).tolist(), n):
        assert libs, f"chain {sorted(chain)} has no liberty {where}"

    # Stones on the board = stones placed - stones removed (captures, suicides credited to the
    # opponent, so both sides' captures together are every stone removed).
    placed = sum(1 for _, m in state.moves if m != nn)
    assert placed == ref.placed
    assert np.count_nonzero(stones) == placed - sum(state.captures.values()), where

    # The incremental hash equals the hash from scratch.
    assert state.zobrist_hash == zobrist_from_scratch(stones), where

    if state.is_over:
        return
    # The legal mask and every illegality reason.
    reasons = [ref.reason(p) for p in range(nn + 1)]
    expected = np.array([r is None for r in reasons])
    mask = state.legal_moves()
    if not np.array_equal(mask, expected):
        diff = [(p, "core legal" if mask[p] else "core illegal", reasons[p]) for p in np.flatnonzero(mask != expected)]
        pytest.fail(f"legal masks differ at {diff} for {Color(ref.to_move).name} {where}")
    for p in range(nn + 1):
        assert state.status(p) is reasons[p], f"status({p}) {where}"
    # The simple-ko point is exactly the point the reference calls a ko.
    ko_points = [p for p in range(nn) if reasons[p] is IllegalReason.KO]
    assert len(ko_points) <= 1, where
    assert state.ko_point == (ko_points[0] if ko_points else None), where

    if features:
        got = state.features()
        want = expected_features(ref, expected)
        assert got.dtype == np.float32 and got.shape == want.shape
        for plane in range(17):
            assert np.array_equal(got[plane], want[plane]), f"feature plane {plane} differs {where}"


def check_end(state: GameState, ref: RefGame) -> None:
    n = ref.n
    if ref.passes >= 2:
        owner = area(ref.board, n)
        assert state.area_owner().reshape(-1).tolist() == owner
        assert state.score() == ref.score()
        assert state.result == format_score(ref.score())
    elif len(ref.boards) - 1 >= state.move_limit:
        assert state.result == "Void"
    else:
        assert state.result is None


def check_out_of_turn(state: GameState, ref: RefGame, color: int) -> np.ndarray:
    """The legal mask of the side NOT to move (GTP lets either colour play), checked."""
    nn = ref.n * ref.n
    reasons = [ref.reason(p, color) for p in range(nn + 1)]
    mask = state.legal_moves(Color(color))
    assert mask.tolist() == [r is None for r in reasons], f"out-of-turn masks differ for {Color(color).name} " \
                                                          f"after {state.moves}\n{ascii_board(ref.board, ref.n)}"
    for p in range(nn + 1):
        assert state.status(p, Color(color)) is reasons[p]
    return mask


def play_game(n: int, rules: Rules, choices: list[int], *, features_every: int = 1,
              out_of_turn: bool = False) -> GameState:
    state = GameState.new(n, rules)
    ref = RefGame(n, rules)
    check_agrees(state, ref, features=True)
    nn = n * n
    for i, choice in enumerate(choices):
        if state.is_over:
            break
        color = ref.to_move
        if out_of_turn and choice % OUT_OF_TURN_EVERY == OUT_OF_TURN_AT:
            color = 3 - color
            points = np.flatnonzero(check_out_of_turn(state, ref, color)[:nn])
        else:
            points = np.flatnonzero(state.legal_moves()[:nn])
        if choice % CAPTURE_EVERY == 1:
            # Prefer capturing moves now and then: captures make kos, and kos make superko cycles.
            capturing = [int(p) for p in points if place(ref.board, n, int(p), color)[1]]
            points = capturing or points
        move = nn if choice % PASS_EVERY == PASS_AT or len(points) == 0 else int(points[choice % len(points)])
        state = state.play(move, Color(color))
        ref.play(move, color)
        check_agrees(state, ref, features=(i % features_every == 0))
    check_end(state, ref)
    return state


# ----------------------------------------------------------------------------- hypothesis


@st.composite
def games(draw, sizes=SIZES):
    n = draw(st.sampled_from(sizes))
    rules = draw(st.sampled_from(ALL_RULES + [Rules.preset("tromp-taylor"), Rules.preset("chinese")]))
    komi = draw(st.sampled_from([0.0, 0.5, 3.0, 7.5, -2.5]))
    rules = Rules(komi=komi, ko=rules.ko, suicide_allowed=rules.suicide_allowed)
    choices = draw(st.lists(st.integers(0, 2**16 - 1), min_size=MAX_MOVES[n] // 3, max_size=MAX_MOVES[n]))
    out_of_turn = draw(st.booleans())
    return n, rules, choices, out_of_turn


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(games())
def test_random_games_agree_with_the_reference(game) -> None:
    n, rules, choices, out_of_turn = game
    state = play_game(n, rules, choices, features_every=1 if n <= 9 else 5, out_of_turn=out_of_turn)
    event(f"{n}x{n} moves played: {'<10' if state.move_number < 10 else '>=10'}")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(games(sizes=[2, 3, 4]))
def test_tiny_board_games_agree_with_the_reference(game) -> None:
    # Tiny boards are where kos, suicides and superko cycles happen all the time.
    n, rules, choices, out_of_turn = game
    state = play_game(n, rules, choices, out_of_turn=out_of_turn)
    event(f"{n}x{n} over: {state.result}")


# ----------------------------------------------------------------------------- seeded sweeps


GAMES_PER_SWEEP = 15


@pytest.mark.parametrize("rules", ALL_RULES, ids=lambda r: f"{r.ko.value}-sui{int(r.suicide_allowed)}")
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_seeded_tiny_games_agree_with_the_reference(n: int, rules: Rules) -> None:
    """Uniform choices (hypothesis favours small integers), many games, no shrinking needed."""
    rng = np.random.default_rng(1000 * n + 10 * rules.ko_code + rules.suicide_allowed)
    for _ in range(GAMES_PER_SWEEP):
        choices = rng.integers(1, 2**16, size=120).tolist()
        # A pass now and then, but rarely two in a row, so games run long.
        choices = [PASS_AT if rng.random() < 0.05 else c for c in choices]
        play_game(n, rules, choices, features_every=7, out_of_turn=bool(rng.integers(2)))


# ----------------------------------------------------------------------------- random_game


def is_own_eye(board: tuple, n: int, p: int, c: int) -> bool:
    """The playout's eye test, as its docstring states it: all orthogonal neighbours are c's,
    and the diagonals hold at most one opponent stone (none if the point is on the edge)."""
    if any(board[q] != c for q in neighbours(p, n)):
        return False
    r, col = divmod(p, n)
    bad, edge = 0, False
    for dr in (-1, 1):
        for dc in (-1, 1):
            rr, cc = r + dr, col + dc
            if not (0 <= rr < n and 0 <= cc < n):
                edge = True
            elif board[rr * n + cc] == 3 - c:
                bad += 1
    return bad == 0 if edge else bad < 2


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([2, 3, 5, 7, 9, 13, 19]), st.sampled_from(ALL_RULES), st.integers(0, 2**32))
def test_random_game_replays_legally_in_the_reference(n: int, rules: Rules, seed: int) -> None:
    check_random_game(n, rules, seed)


@pytest.mark.parametrize("rules", [Rules.preset("tromp-taylor"), Rules.preset("chinese")], ids=lambda r: r.name)
def test_random_game_on_the_largest_board(rules: Rules) -> None:
    check_random_game(25, rules, seed=25)


def check_random_game(n: int, rules: Rules, seed: int) -> None:
    """random_game: every move legal for the reference, no own eye filled, no pass while a
    non-eye move was legal, the final state as the reference has it, and replayable."""
    game = random_game(n, rules, seed=seed)
    assert game == random_game(n, rules, seed=seed)  # a pure function of the seed
    ref = RefGame(n, rules)
    nn = n * n
    for color, move in game.moves:
        assert int(color) == ref.to_move
        reason = ref.reason(move)
        assert reason is None, f"random_game played illegal {move} ({reason})\n{ascii_board(ref.board, n)}"
        if move == nn:
            # A pass only when every legal point would fill an own eye.
            for p in range(nn):
                if ref.board[p] == EMPTY and ref.reason(p) is None:
                    assert is_own_eye(ref.board, n, p, ref.to_move), f"passed with {p} playable"
        else:
            assert not is_own_eye(ref.board, n, move, ref.to_move), f"filled own eye at {move}"
        ref.play(move)
    assert game.stones().reshape(-1).tolist() == list(ref.board)
    assert game.captures == {Color.BLACK: ref.captures[BLACK], Color.WHITE: ref.captures[WHITE]}
    assert game.zobrist_hash == zobrist_from_scratch(game.stones())
    assert game.is_over
    check_end(game, ref)
    # Replaying the moves through GameState.play gives the same state.
    replay = GameState.new(n, rules)
    for color, move in game.moves:
        replay = replay.play(move, color)
    assert replay == game
