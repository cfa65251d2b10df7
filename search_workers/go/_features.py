"""Compiled network-input features; the documentation of each plane lives in features.py."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._board import HEAD, block, chain_liberties, legal_mask_from_liberties
from ._layout import BLACK, EMPTY, H_KOMI2, H_LAST_MOVES, H_NN, H_TO_MOVE, LAST_MOVES, WHITE

NUM_PLANES = 17


@njit(cache=True)
def write_features(board, history, neighbours, zobrist, out):
    """Fill out[NUM_PLANES, N, N] (float32, C-contiguous) for the side to move."""
    legal = np.empty(board[H_NN] + 1, dtype=np.bool_)
    write_features_and_legal(board, history, neighbours, zobrist, out, legal)
    return out


@njit(cache=True)
def write_features_and_legal(board, history, neighbours, zobrist, out, legal):
    """write_features, also leaving the side to move's legal moves in legal[NN+1] (bool).

    Search needs both for every leaf; computing legality once serves the network input and
    the expansion of the node.
    """
    nn = board[H_NN]
    planes = out.reshape((NUM_PLANES, nn))
    planes[:] = 0.0
    me = board[H_TO_MOVE]
    color = block(nn, 0)
    head = block(nn, HEAD)
    stamp = np.zeros(nn, dtype=np.int64)
    chain_libs = np.empty(nn, dtype=np.int64)  # exact liberties by chain head, computed once
    chain_liberties(board, neighbours, chain_libs, stamp)
    legal_mask_from_liberties(board, history, neighbours, zobrist, me, chain_libs, legal)
    komi = board[H_KOMI2] / 2.0
    komi_plane = (komi if me == WHITE else -komi) / 15.0
    black_plane = 1.0 if me == BLACK else 0.0
    for p in range(nn):
        planes[0, p] = 1.0
        planes[15, p] = black_plane
        planes[16, p] = komi_plane
        if legal[p]:
            planes[9, p] = 1.0
        c = board[color + p]
        if c == EMPTY:
            continue
        h = board[head + p]
        libs = min(chain_libs[h], 3)
        base = 0 if c == me else 1
        planes[1 + base, p] = 1.0
        planes[3 + 3 * base + libs - 1, p] = 1.0
    for i in range(LAST_MOVES):
        m = board[H_LAST_MOVES + i]
        if 0 <= m < nn:
            planes[10 + i, m] = 1.0
    return out
