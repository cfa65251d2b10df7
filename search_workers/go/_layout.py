"""Memory layout of a position for the compiled core, and per-board-size geometry.

A position is one flat int64 array (`board`), so that copying a position is one memcpy and a
batch of positions is one 2-D array. A second int64 array (`history`) is an open-addressing
hash set of the positions seen so far, for superko. Both are only touched by the kernels in
`_board.py`; everything outside the package uses `GameState`.

board layout (NN = N*N):

    [0, HEADER)              header fields, named H_* below
    [COLOR, +NN)             EMPTY / BLACK / WHITE per point
    [HEAD,  +NN)             chain id (the chain's head stone) of each stone
    [NEXT,  +NN)             next stone of the same chain (circular list)
    [LIBS,  +NN)             pseudo-liberties of the chain whose head is this point
    [SIZE,  +NN)             stones in the chain whose head is this point
    [CHASH, +NN)             xor of the Zobrist keys of that chain's stones
    [EMPTY_LIST, +NN)        the empty points, unordered, first H_EMPTY_COUNT valid
    [EMPTY_POS,  +NN)        index of each empty point in EMPTY_LIST

Pseudo-liberties count each (stone, empty neighbour) adjacency once, so a chain is captured
exactly when its count is zero, and updates are O(1) per adjacency (as in Pachi and GNU Go).
"""

from __future__ import annotations

import functools

import numpy as np

EMPTY, BLACK, WHITE = 0, 1, 2

# Header fields.
H_N = 0  # board size
H_NN = 1  # N*N; also the pass move
H_TO_MOVE = 2  # BLACK or WHITE
H_KO_POINT = 3  # point the H_KO_COLOR player may not retake next move, -1 if none
H_KO_COLOR = 4
H_PASSES = 5  # consecutive passes just played
H_MOVE_NUMBER = 6  # moves played since the start (passes included, setup excluded)
H_HASH = 7  # Zobrist hash of the stones
H_CAPTURES_BLACK = 8  # stones captured by Black
H_CAPTURES_WHITE = 9
H_KO_RULE = 10  # index into rules.KO_RULE_CODES
H_SUICIDE = 11  # 1 if suicide is allowed
H_MOVE_LIMIT = 12  # moves after which the game ends without a result
H_KOMI2 = 13  # komi in half points (komi 7.5 is stored as 15)
H_EMPTY_COUNT = 14
H_RESIGNED = 15  # colour that resigned, or EMPTY
H_HISTORY_COUNT = 16  # keys stored in the history set
H_LAST_MOVES = 17  # the last LAST_MOVES moves, most recent first; -1 where none
LAST_MOVES = 5
HEADER = H_LAST_MOVES + LAST_MOVES

KO_SIMPLE, KO_POSITIONAL, KO_SITUATIONAL = 0, 1, 2

# Legality codes returned by the kernels.
LEGAL = 0
ILLEGAL_OCCUPIED = 1
ILLEGAL_SUICIDE = 2
ILLEGAL_KO = 3
ILLEGAL_SUPERKO = 4


def board_length(board_size: int) -> int:
    return HEADER + 8 * board_size * board_size


def history_capacity(move_limit: int) -> int:
    """A power of two at least twice the positions a game can visit, so probing stays short."""
    need = 2 * (move_limit + 2)
    return 1 << max(6, int(need - 1).bit_length())


def default_move_limit(board_size: int) -> int:
    """Long enough for any sensible game (random games without eye filling end well before)."""
    return 4 * board_size * board_size + 20


@functools.lru_cache(maxsize=None)
def geometry(board_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(neighbours, zobrist) for one board size; read-only and shared by all positions.

    neighbours  int64 [NN, 4]   orthogonal neighbours, -1 past the edge (always at the end)
    zobrist     int64 [3, NN+1] zobrist[c, p] is the key of a stone of colour c at p;
                                row EMPTY holds two extra keys: [0, 0] side to move (White),
                                [0, 1] the empty board. Seeded by board size so that hashes
                                agree across processes (caches keyed by position hash rely on it).
    """
    n = board_size
    nn = n * n
    neighbours = np.full((nn, 4), -1, dtype=np.int64)
    for p in range(nn):
        row, col = divmod(p, n)
        k = 0
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            r, c = row + dr, col + dc
            if 0 <= r < n and 0 <= c < n:
                neighbours[p, k] = r * n + c
                k += 1
    rng = np.random.default_rng(0x60A7E4A + n)
    zobrist = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=(3, nn + 1), dtype=np.int64)
    neighbours.setflags(write=False)
    zobrist.setflags(write=False)
    return neighbours, zobrist
