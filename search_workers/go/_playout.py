"""Compiled uniform-random play: the rules benchmark, random players and test games.

The random generator is xorshift64* with its state in a caller-owned uint64[1] array, so that
every game is a pure function of its seed and no global random state is involved.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._board import COLOR, EMPTY_LIST, block, init_board, is_finished, move_status, play
from ._layout import H_EMPTY_COUNT, H_N, H_NN, H_TO_MOVE, LEGAL

_SHIFT_A = np.uint64(12)
_SHIFT_B = np.uint64(25)
_SHIFT_C = np.uint64(27)
_SHIFT_OUT = np.uint64(33)
_MULTIPLIER = np.uint64(0x2545F4914F6CDD1D)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True)
def seed_rng(rng, seed):
    """Initialise rng[0] from any integer seed (never to zero, which xorshift cannot leave)."""
    x = np.uint64(seed) * _GOLDEN + _GOLDEN
    if x == np.uint64(0):
        x = _GOLDEN
    rng[0] = x


@njit(cache=True)
def rand_below(rng, k):
    """A uniform integer in [0, k), k < 2**31."""
    x = rng[0]
    x ^= x >> _SHIFT_A
    x ^= x << _SHIFT_B
    x ^= x >> _SHIFT_C
    rng[0] = x
    r = np.int64((x * _MULTIPLIER) >> _SHIFT_OUT)  # 31 random bits
    return (r * k) >> 31


@njit(cache=True)
def is_own_eye(board, neighbours, p, c):
    """True for a single-point eye of colour c that filling would only harm.

    All orthogonal neighbours are c's, and the diagonals hold at most one opponent stone
    (none on the edge): the usual playout definition, which leaves false eyes fillable so
    random games still end.
    """
    nn = board[H_NN]
    n = board[H_N]
    color = block(nn, COLOR)
    for k in range(4):
        q = neighbours[p, k]
        if q < 0:
            break
        if board[color + q] != c:
            return False
    row = p // n
    col = p - row * n
    bad = 0
    edge = False
    for dr in (-1, 1):
        for dc in (-1, 1):
            r = row + dr
            cc = col + dc
            if r < 0 or r >= n or cc < 0 or cc >= n:
                edge = True
            elif board[color + r * n + cc] == 3 - c:
                bad += 1
    if edge:
        return bad == 0
    return bad < 2


@njit(cache=True)
def random_move(board, history, neighbours, zobrist, rng, scratch):
    """A uniformly random legal move for the side to move that fills no own eye; pass if none.

    scratch is int64[NN], reused between calls to avoid allocating per move.
    """
    nn = board[H_NN]
    c = board[H_TO_MOVE]
    count = board[H_EMPTY_COUNT]
    empty_list = block(nn, EMPTY_LIST)
    for i in range(count):
        scratch[i] = board[empty_list + i]
    while count > 0:
        i = rand_below(rng, count)
        p = scratch[i]
        if not is_own_eye(board, neighbours, p, c) and move_status(board, history, neighbours, zobrist, p, c) == LEGAL:
            return p
        count -= 1
        scratch[i] = scratch[count]
    return nn


@njit(cache=True)
def play_random_game(board, history, neighbours, zobrist, rng, scratch):
    """Play random moves until two passes or the move limit; returns the moves played."""
    played = 0
    while not is_finished(board):
        p = random_move(board, history, neighbours, zobrist, rng, scratch)
        play(board, history, neighbours, zobrist, p, board[H_TO_MOVE])
        played += 1
    return played


@njit(cache=True)
def play_random_games(games, seed, n, ko_rule, suicide, komi2, move_limit, board, history, neighbours, zobrist):
    """Play `games` random games from the empty board; returns the total number of moves."""
    rng = np.empty(1, dtype=np.uint64)
    seed_rng(rng, seed)
    scratch = np.empty(n * n, dtype=np.int64)
    total = 0
    for _ in range(games):
        init_board(board, history, zobrist, n, ko_rule, suicide, komi2, move_limit)
        total += play_random_game(board, history, neighbours, zobrist, rng, scratch)
    return total


@njit(cache=True)
def play_random_game_recorded(board, history, neighbours, zobrist, rng, scratch, moves_out):
    """play_random_game that also writes each move into moves_out; returns the count."""
    played = 0
    while not is_finished(board):
        p = random_move(board, history, neighbours, zobrist, rng, scratch)
        moves_out[played] = p
        play(board, history, neighbours, zobrist, p, board[H_TO_MOVE])
        played += 1
    return played
