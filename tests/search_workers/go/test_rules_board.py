"""Hand-drawn positions for the referee: captures, suicide, ko, superko, scoring, game end, errors.

Boards are drawn with `GameState.from_ascii` (X black, O white, top row first). Moves are GTP
vertices: columns A-H, J-T (no I) from the left, rows numbered from the BOTTOM, so on a 5x5
board the top-left point is A5 and the bottom-left point is A1.

A scoring or superko bug silently corrupts every rating, so each case here says in a comment
why the expected answer is the right one.
"""

from __future__ import annotations

import numpy as np
import pytest

from search_workers.go import (
    Color,
    GameState,
    IllegalMoveError,
    IllegalReason,
    KoRule,
    Rules,
    RulesError,
    SetupError,
    check_board_size,
    format_score,
)

B, W = Color.BLACK, Color.WHITE
TT = Rules.preset("tromp-taylor", komi=0)  # positional superko, suicide allowed
CN = Rules.preset("chinese", komi=0)  # situational superko, suicide forbidden
ALL_NO_SUICIDE = [Rules(komi=0, ko=k, suicide_allowed=False) for k in KoRule]
ALL_RULES = [Rules(komi=0, ko=k, suicide_allowed=s) for k in KoRule for s in (False, True)]


def rules_id(rules: Rules) -> str:
    return f"{rules.ko.value}-sui{int(rules.suicide_allowed)}"


def board(picture: str) -> np.ndarray:
    """int8 [N, N] stones of a picture, to compare with `GameState.stones()`."""
    rows = [line.replace(" ", "") for line in picture.strip().splitlines() if line.strip()]
    return np.array([[".XO".index(ch) for ch in row] for row in rows], dtype=np.int8)


def play_all(state: GameState, moves: str) -> GameState:
    for move in moves.split():
        state = state.play(move)
    return state


def assert_illegal(state: GameState, move: str, reason: IllegalReason) -> None:
    assert state.status(move) is reason
    assert not state.is_legal(move)
    p = state._parse_move(move) if move != "pass" else None
    if p is not None and 0 <= p < state.board_size ** 2:
        assert not state.legal_moves()[p], f"{move} is in the legal mask but status says {reason}"
    with pytest.raises(IllegalMoveError) as info:
        state.play(move)
    assert info.value.reason is reason
    assert info.value.move == move


# ----------------------------------------------------------------------------- captures


@pytest.mark.parametrize("rules", ALL_RULES, ids=rules_id)
def test_single_stone_capture(rules: Rules) -> None:
    state = GameState.from_ascii("""
        . X . . .
        X O . . .
        . X . . .
        . . . . .
        . . . . .
    """, rules=rules)
    # The white stone on B4 has one liberty, C4; Black fills it.
    after = state.play("C4")
    assert np.array_equal(after.stones(), board("""
        . X . . .
        X . X . .
        . X . . .
        . . . . .
        . . . . .
    """))
    assert after.captures == {B: 1, W: 0}
    assert after.to_move is W


def test_multi_stone_capture() -> None:
    state = GameState.from_ascii("""
        . X X X .
        X O O O X
        . X X . .
        . . . . .
        . . . . .
    """, rules=CN)
    # The three white stones share the single liberty D3.
    after = state.play("D3")
    assert np.array_equal(after.stones(), board("""
        . X X X .
        X . . . X
        . X X X .
        . . . . .
        . . . . .
    """))
    assert after.captures == {B: 3, W: 0}


def test_capture_of_several_chains_at_once() -> None:
    state = GameState.from_ascii("""
        . X . X X .
        X O . O O X
        . X O X X .
        . . X . . .
        . . . . . .
        . . . . . .
    """, rules=CN)
    # C5 is the last liberty of three separate white chains: B5 (1 stone), D5-E5 (2 stones) and
    # C4 (1 stone); Black takes all four stones with one move.
    after = state.play("C5")
    assert np.array_equal(after.stones(), board("""
        . X . X X .
        X . X . . X
        . X . X X .
        . . X . . .
        . . . . . .
        . . . . . .
    """))
    assert after.captures == {B: 4, W: 0}


def test_capture_in_the_corner_and_on_the_edge_by_white() -> None:
    state = GameState.from_ascii("""
        X O . X X
        . . . O O
        . . . . .
        . . . . .
        X . . . .
    """, rules=CN, to_move=W)
    # A5 (corner) has the single liberty A4.
    state = state.play("A4")
    assert state.color_at("A5") is None
    assert state.captures == {B: 0, W: 1}
    state = state.play("pass")
    # D5-E5 on the edge: liberty C5 only (D4 and E4 are white).
    state = state.play("C5")
    assert state.color_at("D5") is None and state.color_at("E5") is None
    assert state.captures == {B: 0, W: 3}
    state = state.play("pass")
    # A1 (corner) has two liberties; after B1 it still has A2.
    state = state.play("B1")
    assert state.color_at("A1") is B
    state = state.play("pass").play("A2")
    assert state.color_at("A1") is None
    assert state.captures == {B: 0, W: 4}


def test_capturing_move_that_looks_like_suicide_is_legal_even_without_suicide() -> None:
    state = GameState.from_ascii("""
        . O X . .
        O . O X .
        . O X . .
        . . . . .
        . . . . .
    """, rules=CN)
    # B4 has four white neighbours, but the white stone C4 has B4 as its last liberty, so the
    # move captures it and the black stone then has a liberty (C4).
    assert state.status("B4") is None
    after = state.play("B4")
    assert after.color_at("B4") is B and after.color_at("C4") is None
    assert after.captures == {B: 1, W: 0}


def test_snapback_is_not_a_ko() -> None:
    state = GameState.from_ascii("""
        . . . . .
        . . . . .
        . X X X X
        X O O O X
        X O . . X
    """, rules=CN)
    # Black throws in at C1; White takes it with D1, which joins a 5-stone chain whose only
    # liberty is C1 again. Black's retake at C1 captures five stones: legal, no ko.
    state = state.play("C1")
    state = state.play("D1")
    assert state.captures == {B: 0, W: 1}
    assert state.ko_point is None
    assert state.is_legal("C1")
    state = state.play("C1")
    assert state.captures == {B: 5, W: 1}
    assert np.array_equal(state.stones(), board("""
        . . . . .
        . . . . .
        . X X X X
        X . . . X
        X . X . X
    """))


# ----------------------------------------------------------------------------- suicide

SINGLE_SUICIDE = """
    . X .
    X . X
    . X .
"""

MULTI_SUICIDE = """
    . X X X .
    X O O . X
    . X X X .
    . . . . .
    . . . . .
"""


@pytest.mark.parametrize("rules", ALL_NO_SUICIDE, ids=rules_id)
def test_single_stone_suicide_is_illegal_when_suicide_is_forbidden(rules: Rules) -> None:
    state = GameState.from_ascii(SINGLE_SUICIDE, rules=rules, to_move=W)
    assert_illegal(state, "B2", IllegalReason.SUICIDE)


@pytest.mark.parametrize("rules", ALL_NO_SUICIDE, ids=rules_id)
def test_multi_stone_suicide_is_illegal_when_suicide_is_forbidden(rules: Rules) -> None:
    state = GameState.from_ascii(MULTI_SUICIDE, rules=rules, to_move=W)
    # D4 joins B4-C4 into a chain of three that has no liberty and captures nothing.
    assert_illegal(state, "D4", IllegalReason.SUICIDE)
    assert state.legal_moves()[state.board_size ** 2]  # pass is still there


@pytest.mark.parametrize("ko", list(KoRule))
def test_multi_stone_suicide_removes_the_chain_and_credits_the_opponent(ko: KoRule) -> None:
    rules = Rules(komi=0, ko=ko, suicide_allowed=True)
    state = GameState.from_ascii(MULTI_SUICIDE, rules=rules, to_move=W)
    assert state.status("D4") is None
    after = state.play("D4")
    assert np.array_equal(after.stones(), board("""
        . X X X .
        X . . . X
        . X X X .
        . . . . .
        . . . . .
    """))
    # The two stones already there plus the one just played: 3 white stones removed, credited
    # to Black as captures.
    assert after.captures == {B: 3, W: 0}
    assert after.to_move is B
    assert after.move_number == 1 and after.last_move == state._parse_move("D4")


@pytest.mark.parametrize("rules", [Rules(komi=0, ko=k, suicide_allowed=True) for k in KoRule], ids=lambda r: r.ko.value)
def test_single_stone_suicide_is_illegal_even_where_suicide_is_allowed(rules: Rules) -> None:
    # A lone stone's suicide would change nothing on the board (a pass in disguise); like
    # KataGo's multiStoneSuicideLegal, allowing suicide only ever allows multi-stone suicide.
    state = GameState.from_ascii(SINGLE_SUICIDE, rules=rules, to_move=W)
    assert_illegal(state, "B2", IllegalReason.SUICIDE)


# ----------------------------------------------------------------------------- positional vs situational

TWO_STONE_SUICIDE = """
    . X X .
    X . . X
    . X X .
    . . . .
"""


def test_multi_stone_suicide_positional_vs_situational() -> None:
    # White B3 (one liberty left at C3), Black passes, White C3: the two white stones have no
    # liberty and capture nothing, so they leave the board, which is again the starting board,
    # now with Black to move.
    # * Positional superko forbids recreating any earlier board: illegal (SUPERKO).
    # * Situational superko forbids recreating an earlier (board, player to move): the start was
    #   (board, White to move) and C3 gives (board, Black to move), never seen: legal.
    positional = GameState.from_ascii(TWO_STONE_SUICIDE, rules=TT, to_move=W).play("B3").play("pass")
    assert_illegal(positional, "C3", IllegalReason.SUPERKO)

    situational_rules = Rules(komi=0, ko=KoRule.SITUATIONAL, suicide_allowed=True)
    start = GameState.from_ascii(TWO_STONE_SUICIDE, rules=situational_rules, to_move=W)
    after = start.play("B3").play("pass").play("C3")
    assert np.array_equal(after.stones(), start.stones())
    assert after.captures == {B: 2, W: 0}
    assert after.to_move is B


DOUBLE_KO = """
    . X O . . . X O .
    X O . O . X . X O
    . X O . . . X O .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
"""
# Two kos. Left ko: White holds it (stone B8), Black takes at C8, White retakes at B8.
# Right ko: Black holds it (stone H8), White takes at G8, Black retakes at H8.
# Each ko is surrounded by stones with outside liberties, so kos only flip, nothing else changes.


def test_double_ko_with_a_pass_positional_vs_situational() -> None:
    # Write a board as (left ko holder, right ko holder). Start: (W, B) with Black to move.
    #   1. B C8 takes left     -> (B, B), W to move
    #   2. W G8 takes right    -> (B, W), B to move
    #   3. B passes            -> (B, W), W to move
    #   4. W B8 takes left     -> (W, W), B to move
    #   5. B H8 takes right    -> (W, B), W to move: the START board, with the other side to move.
    # Move 5 is not an immediate ko retake (White's last move was in the other ko), so simple ko
    # allows it; positional superko forbids it (board seen at the start); situational allows it,
    # since (W, B) has only been seen with Black to move.
    # Moves 1-4 create boards/situations never seen before, so they are legal under all three.
    for ko in KoRule:
        rules = Rules(komi=0, ko=ko, suicide_allowed=False)
        state = GameState.from_ascii(DOUBLE_KO, rules=rules)
        start = state.stones()
        state = play_all(state, "C8 G8 pass B8")
        if ko is KoRule.POSITIONAL:
            assert_illegal(state, "H8", IllegalReason.SUPERKO)
        else:
            after = state.play("H8")
            assert np.array_equal(after.stones(), start)
            assert after.to_move is W
            assert after.captures == {B: 2, W: 2}
            # White retaking the right ko at once (G8) is the immediate single-stone retake.
            assert_illegal(after, "G8", IllegalReason.KO)


def test_double_ko_after_the_situational_repeat() -> None:
    # Continue the sequence above under situational superko: after 5. B H8 the position is
    # (W, B) with White to move. White's G8 now is the immediate retake of a single-stone ko
    # capture: KO (it would also repeat (W, W) with Black to move, seen after move 4).
    rules = Rules(komi=0, ko=KoRule.SITUATIONAL, suicide_allowed=False)
    state = play_all(GameState.from_ascii(DOUBLE_KO, rules=rules), "C8 G8 pass B8 H8")
    assert state.ko_point == state._parse_move("G8")
    assert_illegal(state, "G8", IllegalReason.KO)
    # After White plays elsewhere and Black answers, the right ko is no longer an immediate
    # retake, but G8 would give (W, W) + two new stones: a new board, so it is legal again.
    state = play_all(state, "E2 E1")
    assert state.status("G8") is None


TRIPLE_KO = """
    . X O . . . X O .
    X O . O . X O . O
    . X O . . . X O .
    . . . . . . . . .
    . . . . . . . . .
    . X O . . . . . .
    X . X O . . . . .
    . X O . . . . . .
    . . . . . . . . .
"""
# Three kos: top-left (White holds B8; Black takes at C8, White at B8), top-right (White holds
# G8; Black takes at H8, White at G8), bottom-left (Black holds C3; White takes at B3, Black
# at C3).


@pytest.mark.parametrize("ko", list(KoRule))
def test_triple_ko_cycle_is_caught_by_superko_but_not_by_simple_ko(ko: KoRule) -> None:
    # As (top-left, top-right, bottom-left) holders the start is (W, W, B), Black to move:
    #   1. B C8 -> (B, W, B)   2. W B3 -> (B, W, W)   3. B H8 -> (B, B, W)
    #   4. W B8 -> (W, B, W)   5. B C3 -> (W, B, B)   6. W G8 -> (W, W, B) = start, Black to move.
    # No move retakes the ko just taken, so simple ko allows all six; the six boards before move
    # 6 are all different, so moves 1-5 are legal under superko too; move 6 recreates the start
    # board with the start's side to move: SUPERKO under both positional and situational.
    rules = Rules(komi=0, ko=ko, suicide_allowed=False)
    state = GameState.from_ascii(TRIPLE_KO, rules=rules)
    start = state.stones()
    state = play_all(state, "C8 B3 H8 B8 C3")
    assert state.ko_point == state._parse_move("B3")  # only the immediate retake is a ko
    if ko is KoRule.SIMPLE:
        after = state.play("G8")
        assert np.array_equal(after.stones(), start)
        assert after.to_move is B
        assert after.captures == {B: 3, W: 3}
        # ...and the cycle can go round again.
        after = play_all(after, "C8 B3 H8 B8 C3 G8")
        assert np.array_equal(after.stones(), start)
    else:
        assert_illegal(state, "G8", IllegalReason.SUPERKO)
        assert not state.legal_moves()[state._parse_move("G8")]


# ----------------------------------------------------------------------------- simple ko

KO = """
    . X O . .
    X O . O .
    . X O . .
    . . . . .
    . . . . .
"""


@pytest.mark.parametrize("rules", ALL_RULES, ids=rules_id)
def test_simple_ko_retake_needs_a_threat_exchange(rules: Rules) -> None:
    state = GameState.from_ascii(KO, rules=rules)
    # Black captures B4 with C4; the C4 stone then has one liberty, B4.
    state = state.play("C4")
    assert state.captures == {B: 1, W: 0}
    assert state.ko_point == state._parse_move("B4")
    assert_illegal(state, "B4", IllegalReason.KO)
    assert state.features()[9].reshape(-1)[state._parse_move("B4")] == 0
    # White plays a threat elsewhere, Black answers: the board has changed, the retake is legal
    # under every rule (the resulting board has two new stones, so it repeats nothing).
    state = play_all(state, "E1 D1")
    assert state.ko_point is None
    assert state.status("B4") is None
    state = state.play("B4")
    assert state.captures == {B: 1, W: 1}
    assert state.color_at("C4") is None
    # And now Black may not retake at once.
    assert_illegal(state, "C4", IllegalReason.KO)


def test_ko_point_is_only_for_the_player_who_would_retake() -> None:
    state = GameState.from_ascii(KO, rules=CN).play("C4")
    ko = state._parse_move("B4")
    assert state.ko_point == ko
    assert state.status(ko, W) is IllegalReason.KO
    # A pass clears it: after White passes and Black plays elsewhere, White may retake.
    state = state.play("pass")
    assert state.ko_point is None
    state = state.play("E1")
    assert state.status(ko) is None


def test_ko_capture_of_one_stone_by_a_connected_stone_is_not_a_ko() -> None:
    state = GameState.from_ascii("""
        . X O . .
        X O . O .
        . X X O .
        . . . . .
        . . . . .
    """, rules=CN)
    # Black C4 captures B4 but is connected to C3: the chain has liberties besides B4, so White
    # playing B4 would not capture anything back; there is no ko point.
    state = state.play("C4")
    assert state.ko_point is None
    assert state.status("B4") is IllegalReason.SUICIDE  # B4 is now surrounded by black


# ----------------------------------------------------------------------------- scoring

SEKI = """
    . X X X X X .
    X O O O O O X
    X O . X . O X
    X O O O O O X
    . X X X X X .
    . . . . . . .
    . . . . . . .
"""


def test_seki_shared_liberties_count_for_nobody() -> None:
    # The white ring and the black stone D5 share the liberties C5 and E5 and have no others:
    # whoever fills one is captured (a seki). Tromp-Taylor scoring counts an empty point for a
    # colour only if its empty region reaches that colour alone: C5 and E5 reach both -> nobody.
    # Black area: 17 stones + A7 + G7 + (A3, G3 and rows 2-1: 2 + 14) = 35.
    # White area: 12 stones. Neutral: 2. 35 + 12 + 2 = 49.
    state = GameState.from_ascii(SEKI, rules=Rules.preset("tromp-taylor", komi=7.5))
    owner = state.area_owner()
    assert owner[2, 2] == 0 and owner[2, 4] == 0
    assert (owner == 0).sum() == 2
    assert (owner == 1).sum() == 35
    assert (owner == 2).sum() == 12
    assert state.score() == 35 - 12 - 7.5
    over = state.play("pass").play("pass")
    assert over.result == "B+15.5"
    # It is a seki: Black filling C5 is captured by White's E5 (two black stones taken).
    filled = state.play("C5").play("E5")
    assert filled.captures == {B: 0, W: 2}
    # White filling C5 is answered by Black's E5, which takes the whole ring.
    filled = state.play("pass").play("C5").play("E5")
    assert filled.captures == {B: 13, W: 0}


def test_score_of_hand_counted_positions() -> None:
    # Empty board: no region reaches any stone, so it is nobody's.
    empty = GameState.new(9, Rules(komi=7.5))
    assert empty.score() == -7.5
    assert (empty.area_owner() == 0).all()
    # One black stone owns the whole board.
    one = GameState.new(5, Rules(komi=0.5)).play("C3")
    assert one.score() == 25 - 0.5
    assert (one.area_owner() == 1).all()
    # Dame: the middle column reaches both colours.
    dame = GameState.from_ascii("""
        X . O
        X . O
        X . O
    """, rules=Rules(komi=0))
    assert dame.score() == 0
    assert dame.area_owner().tolist() == [[1, 0, 2]] * 3
    # No dead-stone removal: the white stone B4 inside Black's side makes that whole empty
    # region (9 points) reach white too, so it is neutral. Black: 5 stones; White: 6 stones
    # + the 5 points of column E.
    dead = GameState.from_ascii("""
        . . X O .
        . O X O .
        . . X O .
        . . X O .
        . . X O .
    """, rules=Rules(komi=0))
    assert dead.score() == 5 - 11
    assert (dead.area_owner()[:, :2] == np.array([[0, 0], [0, 2], [0, 0], [0, 0], [0, 0]])).all()
    # Captured stones do not count (area scoring): after Black's C3 takes B3, the board is all
    # black stones and black-only regions: 9 points, whatever the prisoners.
    cap = GameState.from_ascii("""
        X O .
        . X .
        . . .
    """, rules=Rules(komi=0.5)).play("C3")
    assert cap.captures == {B: 1, W: 0}
    assert cap.score() == 9 - 0.5


WALL = """
    . . X O .
    . . X O .
    . . X O .
    . . X O .
    . . X O .
"""  # Black area 15 (columns A-C), White area 10 (columns D-E): Black leads by 5 before komi.


@pytest.mark.parametrize("komi,result,winner", [
    (5.0, "0", None),  # whole-point komi equal to the margin: a draw
    (4.5, "B+0.5", B),
    (5.5, "W+0.5", W),
    (0.0, "B+5", B),
    (-2.0, "B+7", B),
    (12.0, "W+7", W),
])
def test_komi_decides_or_draws(komi: float, result: str, winner: Color | None) -> None:
    state = GameState.from_ascii(WALL, rules=Rules.preset("chinese", komi=komi))
    assert state.score() == 5 - komi
    over = state.play("pass").play("pass")
    assert over.is_over
    assert over.result == result
    assert over.winner is winner


def test_format_score() -> None:
    assert format_score(0.0) == "0"
    assert format_score(3.5) == "B+3.5"
    assert format_score(-0.5) == "W+0.5"
    assert format_score(7.0) == "B+7"
    assert format_score(-1625.5) == "W+1625.5"


# ----------------------------------------------------------------------------- end of game


def test_two_passes_end_the_game() -> None:
    state = GameState.new(5, Rules(komi=0.5))
    once = state.play("pass")
    assert not once.is_over and once.result is None and once.consecutive_passes == 1
    # A stone in between resets the count.
    again = once.play("C3").play("pass")
    assert not again.is_over and again.consecutive_passes == 1
    over = state.play("pass").play("pass")
    assert over.is_over
    assert over.result == "W+0.5" and over.winner is W
    assert over.move_number == 2
    over = again.play("pass")  # Black passed, White played C3, then two passes
    assert over.is_over and over.result == "W+25.5"


def test_move_limit_ends_the_game_void() -> None:
    state = GameState.new(5, Rules(komi=0.5), move_limit=3)
    state = play_all(state, "C3 D3 C2")
    assert state.is_over
    assert state.result == "Void"
    assert state.winner is None
    assert not state.legal_moves().any()
    assert_illegal(state, "A1", IllegalReason.GAME_OVER)
    assert_illegal(state, "pass", IllegalReason.GAME_OVER)


def test_two_passes_on_the_last_allowed_move_still_score() -> None:
    state = play_all(GameState.new(5, Rules(komi=0.5), move_limit=3), "C3 pass pass")
    assert state.is_over
    assert state.result == "B+24.5"


@pytest.mark.parametrize("who,result", [(None, "W+R"), (B, "W+R"), (W, "B+R")])
def test_resignation(who: Color | None, result: str) -> None:
    state = GameState.new(9).play("E5")
    assert state.to_move is W
    if who is None:
        # The side to move resigns by default: here White.
        resigned = state.play("pass").resign()
    else:
        resigned = state.resign(who)
    assert resigned.is_over
    assert resigned.result == result
    assert resigned.winner is (W if result == "W+R" else B)
    assert not state.is_over  # the original is untouched
    with pytest.raises(IllegalMoveError) as info:
        resigned.resign()
    assert info.value.reason is IllegalReason.GAME_OVER


def test_playing_after_the_end_raises_game_over() -> None:
    over = GameState.new(5).play("pass").play("pass")
    assert_illegal(over, "C3", IllegalReason.GAME_OVER)
    assert_illegal(over, "pass", IllegalReason.GAME_OVER)
    assert over.status(0) is IllegalReason.GAME_OVER
    assert not over.legal_moves().any()
    resigned = GameState.new(5).resign()
    assert_illegal(resigned, "C3", IllegalReason.GAME_OVER)


# ----------------------------------------------------------------------------- errors


def test_occupied_error_names_move_and_reason() -> None:
    state = GameState.new(9).play("D4")
    with pytest.raises(IllegalMoveError) as info:
        state.play("D4")
    err = info.value
    assert err.reason is IllegalReason.OCCUPIED
    assert err.move == "D4" and err.color is W
    assert "D4" in str(err) and "occupied" in str(err) and "white" in str(err)
    # A flat index is named as its GTP vertex.
    with pytest.raises(IllegalMoveError, match="D4.*occupied"):
        state.play(state._parse_move("D4"))


@pytest.mark.parametrize("move", ["Z99", "A10", "I5", "hello", "", 82, -1, 10**6, 1.5, True])
def test_off_board_error_names_move_and_reason(move: object) -> None:
    state = GameState.new(9)
    assert state.status(move) is IllegalReason.OFF_BOARD
    assert not state.is_legal(move)
    with pytest.raises(IllegalMoveError) as info:
        state.play(move)
    assert info.value.reason is IllegalReason.OFF_BOARD
    assert str(move) in str(info.value) and "off board" in str(info.value)


def test_off_board_status_for_superscript_digit() -> None:
    assert GameState.new(9).status("A²") is IllegalReason.OFF_BOARD


def test_setup_errors() -> None:
    state = GameState.new(5)
    with pytest.raises(SetupError, match="pass"):
        state.with_setup(black=["pass"])
    with pytest.raises(SetupError, match="occupied"):
        state.with_setup(black=["C3"], white=["C3"])
    with pytest.raises(SetupError, match="before the first move"):
        state.play("C3").with_setup(white=["D3"])
    # White A5 in the corner between black A4 and B5 has no liberty.
    with pytest.raises(SetupError, match="own chain"):
        state.with_setup(black=["A4", "B5"], white=["A5"])
    # Black A5 is set up first; white A4 then takes its last liberty.
    with pytest.raises(SetupError, match="opponent chain"):
        state.with_setup(black=["A5"], white=["B5", "A4"])
    with pytest.raises(ValueError):  # CoordinateError today; any ValueError subclass will do
        state.with_setup(black=["Z9"])


@pytest.mark.parametrize("size", [1, 0, -9, 26, 100, "9", 9.0, True, None])
def test_invalid_board_sizes(size: object) -> None:
    with pytest.raises(RulesError):
        GameState.new(size)  # type: ignore[arg-type]
    with pytest.raises(RulesError):
        check_board_size(size)


@pytest.mark.parametrize("size", [2, 9, 19, 25])
def test_valid_board_sizes(size: int) -> None:
    assert GameState.new(size).board_size == size
    assert check_board_size(size) == size


@pytest.mark.parametrize("kwargs", [
    {"komi": 7.3},
    {"komi": float("nan")},
    {"komi": float("inf")},
    {"komi": 1000.5},
    {"komi": "seven"},
    {"komi": None},
    {"ko": "super"},
    {"ko": "SIMPLE"},
    {"scoring": "territory"},
    {"suicide_allowed": 1},
    {"suicide_allowed": "yes"},
])
def test_bad_rules_are_rejected(kwargs: dict) -> None:
    with pytest.raises(RulesError):
        Rules(**kwargs)


def test_rules_values_and_presets() -> None:
    tt = Rules.preset("tromp-taylor")
    assert (tt.ko, tt.suicide_allowed, tt.scoring, tt.komi) == (KoRule.POSITIONAL, True, "area", 7.5)
    cn = Rules.preset(" Chinese ", komi=5.5)
    assert (cn.ko, cn.suicide_allowed, cn.komi) == (KoRule.SITUATIONAL, False, 5.5)
    assert Rules(ko="simple").ko is KoRule.SIMPLE
    assert Rules(komi=-7).komi == -7.0
    with pytest.raises(RulesError):
        Rules.preset("japanese")
    with pytest.raises(RulesError):
        Rules.preset("chinese", komi=0.25)
    with pytest.raises(TypeError):
        GameState.new(9, "chinese")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        GameState.new(9, move_limit=0)


def test_from_ascii_rejects_bad_pictures() -> None:
    with pytest.raises(ValueError, match="square"):
        GameState.from_ascii("""
            . . .
            . .
            . . .
        """)
    with pytest.raises(ValueError, match="square"):
        GameState.from_ascii("""
            . . .
            . . .
        """)
    with pytest.raises(ValueError):
        GameState.from_ascii("""
            . . .
            . # .
            . . .
        """)
    # A chain without liberties cannot be set up.
    with pytest.raises(SetupError):
        GameState.from_ascii("""
            O X .
            X . .
            . . .
        """)


def test_from_ascii_reads_the_picture() -> None:
    state = GameState.from_ascii("""
        X . .
        . O .
        . . +
    """, to_move=W)
    assert state.to_move is W
    assert state.color_at("A3") is B and state.color_at("B2") is W and state.color_at("C1") is None
    assert state.setup_stones == ((0,), (4,))
    assert state.move_number == 0


# ----------------------------------------------------------------------------- immutability


def test_playing_does_not_change_the_state_played_on() -> None:
    state = GameState.from_ascii(KO, rules=CN)
    stones, hash_, to_move = state.stones().copy(), state.zobrist_hash, state.to_move
    legal = state.legal_moves().copy()
    board_copy, history_copy = state._board.copy(), state._history.copy()
    after = state.play("C4")
    after.play("E1")
    state.play("pass")
    state.resign()
    state.with_setup(black=["E5"])
    state.features()
    assert np.array_equal(state.stones(), stones)
    assert state.zobrist_hash == hash_ and state.to_move is to_move
    assert np.array_equal(state.legal_moves(), legal)
    assert np.array_equal(state._board, board_copy) and np.array_equal(state._history, history_copy)
    assert state.move_number == 0 and state.moves == [] and not state.is_over
    assert after.moves == [(B, state._parse_move("C4"))]
    # The stones array handed out is a copy.
    view = after.stones()
    view[:] = 0
    assert after.color_at("C4") is B


def test_moves_and_out_of_turn_play() -> None:
    state = GameState.new(5)
    state = state.play("C3").play("D3", B)  # Black twice (GTP allows it)
    assert state.to_move is W
    assert state.moves == [(B, 12), (B, 13)]
    assert state.last_move == 13
    assert state.move_number == 2


def test_setup_after_a_pass_is_refused() -> None:
    # Any move, a pass included, starts the history that ko and superko refer to.
    with pytest.raises(SetupError, match="before the first move"):
        GameState.new(5).play("pass").with_setup(black=["C3"])
