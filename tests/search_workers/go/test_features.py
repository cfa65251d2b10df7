"""Feature set v1 (features.py): shapes, and every plane on small hand-drawn positions.

The properties test (`test_properties.py`) also compares all planes with an independent
computation after every move of random games; here each plane is checked against a picture.
"""

from __future__ import annotations

import numpy as np
import pytest

from search_workers.go import (
    FEATURE_SET_VERSION,
    NUM_FEATURE_PLANES,
    PLANE_NAMES,
    Color,
    GameState,
    KoRule,
    Rules,
    compute_features,
    random_game,
    stack_features,
)

B, W = Color.BLACK, Color.WHITE
CN = Rules.preset("chinese", komi=7.5)


def mask(picture: str) -> np.ndarray:
    """float32 [N, N] from a picture of `1` and `.`."""
    rows = [line.replace(" ", "") for line in picture.strip().splitlines() if line.strip()]
    return np.array([[1.0 if ch == "1" else 0.0 for ch in row] for row in rows], dtype=np.float32)


def plane(features: np.ndarray, name: str) -> np.ndarray:
    return features[PLANE_NAMES.index(name)]


def test_version_and_names() -> None:
    assert FEATURE_SET_VERSION == 1
    assert NUM_FEATURE_PLANES == 17 == len(PLANE_NAMES) == len(set(PLANE_NAMES))
    assert PLANE_NAMES[0] == "on_board" and PLANE_NAMES[9] == "legal_moves" and PLANE_NAMES[16] == "komi"


@pytest.mark.parametrize("n", [2, 3, 5, 9, 13, 19, 25])
def test_shape_and_dtype(n: int) -> None:
    state = GameState.new(n)
    f = state.features()
    assert f.shape == (17, n, n)
    assert f.dtype == np.float32
    assert f.flags.c_contiguous
    assert (f[0] == 1).all()
    assert np.array_equal(compute_features(state), f)
    # Empty board, Black to move: no stones, every point legal, no history.
    assert not f[1:9].any() and (f[9] == 1).all() and not f[10:15].any()
    assert (f[15] == 1).all()
    # After a random game, still the same shape; values are 0/1 except the komi plane.
    g = random_game(n, seed=n, move_limit=3 * n).features()
    assert g.shape == (17, n, n) and g.dtype == np.float32
    assert set(np.unique(g[:16]).tolist()) <= {0.0, 1.0}


def test_stack_features() -> None:
    states = [GameState.new(5), GameState.new(5).play("C3"), GameState.new(5).play("pass")]
    stacked = stack_features(states)
    assert stacked.shape == (3, 17, 5, 5) and stacked.dtype == np.float32
    for i, s in enumerate(states):
        assert np.array_equal(stacked[i], s.features())
    with pytest.raises(ValueError):
        stack_features([GameState.new(5), GameState.new(7)])
    assert stack_features([]).shape == (0, 17, 0, 0)


# A position with chains of every liberty class for both colours.
#   X A5: 1 liberty (A4)           O B5: 1 liberty (C5)          O E5: 2 liberties (D5, E4)
#   X B4: 3 liberties (A4 C4 B3)   X D2-D1: 3 (D3 C2 C1)         O E2-E1: 1 liberty (E3)
#   X A1: 2 liberties (A2 B1)
POSITION = """
    X O . . O
    . X . . .
    . . . . .
    . . . X O
    X . . X O
"""
X_STONES = """
    1 . . . .
    . 1 . . .
    . . . . .
    . . . 1 .
    1 . . 1 .
"""
O_STONES = """
    . 1 . . 1
    . . . . .
    . . . . .
    . . . . 1
    . . . . 1
"""
X_LIBS = ("""
    1 . . . .
    . . . . .
    . . . . .
    . . . . .
    . . . . .
""", """
    . . . . .
    . . . . .
    . . . . .
    . . . . .
    1 . . . .
""", """
    . . . . .
    . 1 . . .
    . . . . .
    . . . 1 .
    . . . 1 .
""")
O_LIBS = ("""
    . 1 . . .
    . . . . .
    . . . . .
    . . . . 1
    . . . . 1
""", """
    . . . . 1
    . . . . .
    . . . . .
    . . . . .
    . . . . .
""", """
    . . . . .
    . . . . .
    . . . . .
    . . . . .
    . . . . .
""")


@pytest.mark.parametrize("to_move", [B, W])
def test_stone_and_liberty_planes_flip_with_the_side_to_move(to_move: Color) -> None:
    f = GameState.from_ascii(POSITION, rules=CN, to_move=to_move).features()
    own, opp = (X_STONES, O_STONES) if to_move is B else (O_STONES, X_STONES)
    own_libs, opp_libs = (X_LIBS, O_LIBS) if to_move is B else (O_LIBS, X_LIBS)
    assert np.array_equal(plane(f, "own_stones"), mask(own))
    assert np.array_equal(plane(f, "opponent_stones"), mask(opp))
    for i, name in enumerate(("1_liberty", "2_liberties", "3plus_liberties")):
        assert np.array_equal(plane(f, "own_" + name), mask(own_libs[i])), name
        assert np.array_equal(plane(f, "opponent_" + name), mask(opp_libs[i])), name
    # Every stone is in exactly one liberty class.
    assert np.array_equal(f[3:6].sum(0), f[1]) and np.array_equal(f[6:9].sum(0), f[2])
    # Every empty point is legal for either colour here (captures at A4, C5, E3 included).
    assert np.array_equal(plane(f, "legal_moves"), 1 - f[1] - f[2])
    assert (plane(f, "black_to_move") == (1.0 if to_move is B else 0.0)).all()
    assert not f[10:15].any()  # no moves since the setup


def test_liberties_are_counted_once_when_shared() -> None:
    # The black chain A4-B3-C3-C4 plus A3 has two liberties, B4 and D4; B4 touches three of its
    # stones (a pseudo-liberty count would say four). It belongs to the 2-liberty plane.
    f = GameState.from_ascii("""
        X . X .
        X X X O
        O O O O
        . . . .
    """, rules=CN).features()
    assert np.array_equal(plane(f, "own_2_liberties"), mask("""
        1 . 1 .
        1 1 1 .
        . . . .
        . . . .
    """))
    assert not plane(f, "own_1_liberty").any() and not plane(f, "own_3plus_liberties").any()
    # The white chain has D4 and the four points of row 1: five liberties.
    assert np.array_equal(plane(f, "opponent_3plus_liberties"), mask("""
        . . . .
        . . . 1
        1 1 1 1
        . . . .
    """))


# A lone stone's suicide is illegal under every rule set (only multi-stone suicide can be allowed).
@pytest.mark.parametrize("rules,b4_legal", [
    (Rules(komi=0, ko=KoRule.SIMPLE, suicide_allowed=False), False),
    (Rules(komi=0, ko=KoRule.POSITIONAL, suicide_allowed=True), False),
    (Rules(komi=0, ko=KoRule.SITUATIONAL, suicide_allowed=True), False),
    (Rules(komi=0, ko=KoRule.SIMPLE, suicide_allowed=True), False),
])
def test_legal_plane_applies_suicide_and_superko(rules: Rules, b4_legal: bool) -> None:
    # White at B4 would have no liberty and capture nothing (the black chain keeps D4).
    state = GameState.from_ascii("""
        X . X .
        X X X O
        O O O O
        . . . .
    """, rules=rules, to_move=W)
    legal = plane(state.features(), "legal_moves")
    assert legal[0, 1] == float(b4_legal)
    assert legal[0, 3] == 1 and legal[3].all()
    assert np.array_equal(legal.reshape(-1), state.legal_moves()[:16].astype(np.float32))


def test_legal_plane_excludes_the_ko_point() -> None:
    state = GameState.from_ascii("""
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .
    """, rules=CN).play("C4")  # Black takes the ko; White may not retake at B4 at once
    f = state.features()
    legal = plane(f, "legal_moves")
    assert state.ko_point == 6
    assert legal[1, 1] == 0
    expected = 1 - f[1] - f[2]
    expected[1, 1] = 0
    expected[0, 0] = 0  # A5 is suicide for White (between B5 and A4, capturing nothing)
    assert np.array_equal(legal, expected)
    # After a threat exchange the ko point is legal again.
    assert plane(state.play("E1").play("D1").features(), "legal_moves")[1, 1] == 1


def test_last_move_planes() -> None:
    state = GameState.new(5, CN)
    for move in ("C3", "pass", "D4", "B2", "E5", "A1"):
        state = state.play(move)
    f = state.features()
    # Most recent first: A1, E5, B2, D4, then the pass (an empty plane); C3 is six moves back.
    expected = {10: (4, 0), 11: (0, 4), 12: (3, 1), 13: (1, 3)}
    for i, (r, c) in expected.items():
        want = np.zeros((5, 5), np.float32)
        want[r, c] = 1
        assert np.array_equal(f[i], want), PLANE_NAMES[i]
    assert not f[14].any()
    # One move in: only the first history plane is set.
    f = GameState.new(5, CN).play("C3").features()
    assert f[10, 2, 2] == 1 and f[10].sum() == 1 and not f[11:15].any()
    # A capture leaves the capturing stone marked even though a point was emptied.
    f = GameState.from_ascii("""
        X O .
        . X .
        . . .
    """, rules=CN).play("C3").features()
    assert f[10, 0, 2] == 1 and f[10].sum() == 1


@pytest.mark.parametrize("komi,to_move,value", [
    (7.5, B, -0.5),
    (7.5, W, 0.5),
    (0.0, B, 0.0),
    (-3.0, W, -0.2),
    (-3.0, B, 0.2),
    (15.0, W, 1.0),
])
def test_komi_and_side_to_move_planes(komi: float, to_move: Color, value: float) -> None:
    state = GameState.new(5, Rules.preset("chinese", komi=komi))
    if to_move is W:
        state = state.play("C3")
    f = state.features()
    assert np.allclose(plane(f, "komi"), value)
    assert plane(f, "komi").dtype == np.float32
    assert (plane(f, "black_to_move") == (1.0 if to_move is B else 0.0)).all()
    assert (plane(f, "on_board") == 1).all()
