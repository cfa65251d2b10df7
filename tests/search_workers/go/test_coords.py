"""Coordinate conversions (search_workers.go.coords): round trips, the docstring table, errors."""

from __future__ import annotations

import numpy as np
import pytest

from search_workers.go import coords
from search_workers.go.coords import CoordinateError

SIZES = range(2, 26)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("n", SIZES)
def test_every_point_round_trips_through_every_form(n: int) -> None:
    seen_gtp, seen_sgf = set(), set()
    for p in range(n * n):
        row, col = coords.from_flat(p, n)
        assert (row, col) == divmod(p, n)
        assert coords.to_flat(row, col, n) == p
        assert coords.check_flat(p, n) == p
        assert not coords.is_pass(p, n)

        gtp = coords.to_gtp(p, n)
        assert "I" not in gtp[0]
        assert coords.from_gtp(gtp, n) == p
        assert coords.from_gtp(gtp.lower(), n) == p
        assert coords.from_gtp(f"  {gtp} ", n) == p
        # GTP rows count from the bottom: row 0 (top) is number n.
        assert int(gtp[1:]) == n - row
        seen_gtp.add(gtp)

        sgf = coords.to_sgf(p, n)
        assert len(sgf) == 2
        assert sgf == coords.SGF_LETTERS[col] + coords.SGF_LETTERS[row]
        assert coords.from_sgf(sgf, n) == p
        seen_sgf.add(sgf)
    # Every point has its own name in both notations.
    assert len(seen_gtp) == len(seen_sgf) == n * n


@pytest.mark.parametrize("n", SIZES)
def test_pass_in_every_form(n: int) -> None:
    nn = n * n
    assert coords.pass_move(n) == nn
    assert coords.is_pass(nn, n)
    assert coords.from_flat(nn, n) is None
    assert coords.check_flat(nn, n) == nn
    assert coords.to_gtp(nn, n) == "pass"
    for text in ("pass", "PASS", "Pass", " pass "):
        assert coords.from_gtp(text, n) == nn
    assert coords.to_sgf(nn, n) == ""
    assert coords.from_sgf("", n) == nn


@pytest.mark.parametrize("n", SIZES)
def test_tt_is_pass_only_up_to_19(n: int) -> None:
    if n <= 19:
        assert coords.from_sgf("tt", n) == n * n
    else:
        # On 20x20 and larger "tt" is the point in column 20, row 20 (counting from 1, top left).
        assert coords.from_sgf("tt", n) == 19 * n + 19
        assert coords.to_sgf(19 * n + 19, n) == "tt"


def test_numpy_integers_are_accepted_as_flat_indices() -> None:
    assert coords.check_flat(np.int64(5), 9) == 5
    assert coords.check_flat(np.int32(81), 9) == 81
    assert coords.to_gtp(np.int64(0), 9) == "A9"


# ----------------------------------------------------------------------------- the docstring table


def test_docstring_table_9x9() -> None:
    n = 9
    # top-left
    assert coords.to_flat(0, 0, n) == 0
    assert coords.to_gtp(0, n) == "A9"
    assert coords.to_sgf(0, n) == "aa"
    # bottom-right
    assert coords.from_flat(80, n) == (8, 8)
    assert coords.to_gtp(80, n) == "J1"  # I is skipped: the 9th column is J
    assert coords.to_sgf(80, n) == "ii"
    assert coords.from_gtp("J1", n) == 80
    assert coords.from_sgf("ii", n) == 80
    # pass
    assert coords.pass_move(n) == 81
    assert coords.from_gtp("pass", n) == 81


def test_a_few_familiar_points() -> None:
    # 19x19 tengen is K10 in GTP (no I), "jj" in SGF, flat 9*19+9.
    assert coords.to_gtp(9 * 19 + 9, 19) == "K10"
    assert coords.to_sgf(9 * 19 + 9, 19) == "jj"
    # 19x19 D4 (lower-left star point): row 15 from the top, column 3.
    assert coords.from_gtp("D4", 19) == 15 * 19 + 3
    assert coords.from_gtp("T19", 19) == 18
    assert coords.from_gtp("A1", 19) == 18 * 19
    # 25x25 uses every letter but I, the last one being Z.
    assert coords.to_gtp(24, 25) == "Z25"


def test_gtp_columns_skip_i() -> None:
    assert "I" not in coords.GTP_COLUMNS
    assert len(coords.GTP_COLUMNS) == 25 == len(set(coords.GTP_COLUMNS))
    assert coords.to_gtp(7, 9) == "H9" and coords.to_gtp(8, 9) == "J9"
    assert [coords.to_gtp(c, 25)[0] for c in range(25)] == list(coords.GTP_COLUMNS)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("vertex", [
    "I5",  # no letter I in GTP
    "Z99", "A10", "A0", "K1",  # off a 9x9 board (K is the 10th column)
    "", "A", "5", "5A", "AA", "A-1", "A+1", "A 5", "A5.0", "pas", "resign", "tt",
])
def test_bad_gtp_vertices_raise(vertex: str) -> None:
    with pytest.raises(CoordinateError):
        coords.from_gtp(vertex, 9)


def test_gtp_superscript_digit_raises_coordinate_error() -> None:
    with pytest.raises(CoordinateError):
        coords.from_gtp("A²", 9)


def test_gtp_non_ascii_digits_rejected() -> None:
    with pytest.raises(CoordinateError):
        coords.from_gtp("A\u0661", 9)


@pytest.mark.parametrize("point", ["a", "abc", "zz", "ja", "aj", "AA", "a1", "  ", "tt "])
def test_bad_sgf_points_raise(point: str) -> None:
    with pytest.raises(CoordinateError):
        coords.from_sgf(point, 9)


def test_tt_on_a_large_board_but_off_it() -> None:
    # "uu" exists on 21x21 but not on 20x20.
    with pytest.raises(CoordinateError):
        coords.from_sgf("uu", 20)
    assert coords.from_sgf("uu", 21) == 20 * 21 + 20


@pytest.mark.parametrize("row,col", [(-1, 0), (0, -1), (9, 0), (0, 9), (9, 9)])
def test_to_flat_off_board(row: int, col: int) -> None:
    with pytest.raises(CoordinateError):
        coords.to_flat(row, col, 9)


@pytest.mark.parametrize("move", [-1, 82, 10**9])
def test_flat_index_off_board(move: int) -> None:
    with pytest.raises(CoordinateError):
        coords.check_flat(move, 9)
    with pytest.raises(CoordinateError):
        coords.from_flat(move, 9)
    with pytest.raises(CoordinateError):
        coords.to_gtp(move, 9)
    with pytest.raises(CoordinateError):
        coords.to_sgf(move, 9)


@pytest.mark.parametrize("move", [True, False, 1.0, "3", None, (1, 2)])
def test_flat_index_of_wrong_type(move: object) -> None:
    with pytest.raises(CoordinateError):
        coords.check_flat(move, 9)


def test_coordinate_error_is_a_value_error() -> None:
    assert issubclass(CoordinateError, ValueError)
