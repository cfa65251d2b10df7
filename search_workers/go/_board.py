"""Compiled kernels that read and mutate one position in place.

These are the hot paths of the whole arena (every playout of every search runs through them),
so they work on the flat buffers described in `_layout.py` and never allocate. They trust their
callers: `play` assumes the move was checked with `move_status`. `GameState` is the checked,
value-like surface over them.

Superko costs O(1) per candidate move: each chain carries the xor of its stones' Zobrist keys,
so the hash of the position a move would create is known without playing it, and the history
is a hash set rather than a list.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._layout import (
    BLACK,
    EMPTY,
    H_CAPTURES_BLACK,
    H_CAPTURES_WHITE,
    H_EMPTY_COUNT,
    H_HASH,
    H_HISTORY_COUNT,
    H_KO_COLOR,
    H_KO_POINT,
    H_KO_RULE,
    H_KOMI2,
    H_LAST_MOVES,
    H_MOVE_LIMIT,
    H_MOVE_NUMBER,
    H_N,
    H_NN,
    H_PASSES,
    H_SUICIDE,
    H_TO_MOVE,
    HEADER,
    ILLEGAL_KO,
    ILLEGAL_OCCUPIED,
    ILLEGAL_SUICIDE,
    ILLEGAL_SUPERKO,
    KO_SIMPLE,
    KO_SITUATIONAL,
    LAST_MOVES,
    LEGAL,
    WHITE,
)

# Offsets of the per-point blocks, in units of NN past HEADER (see _layout.py).
COLOR, HEAD, NEXT, LIBS, SIZE, CHASH, EMPTY_LIST, EMPTY_POS = 0, 1, 2, 3, 4, 5, 6, 7


@njit(cache=True)
def block(nn, which):
    return HEADER + which * nn


# ----------------------------------------------------------------------------- history set


@njit(cache=True)
def position_key(board, zobrist, to_move):
    """The history key of the current stones with `to_move` to play next."""
    key = board[H_HASH]
    if board[H_KO_RULE] == KO_SITUATIONAL and to_move == WHITE:
        key ^= zobrist[0, 0]
    return key


@njit(cache=True)
def history_contains(history, key):
    if key == 0:  # 0 marks an empty slot; fold the (astronomically rare) zero key onto 1
        key = 1
    mask = history.shape[0] - 1
    i = key & mask
    while history[i] != 0:
        if history[i] == key:
            return True
        i = (i + 1) & mask
    return False


@njit(cache=True)
def history_add(board, history, key):
    """Insert key; returns the slot it filled, or -1 if it was already there.

    Removing keys in the reverse order of their insertion (zeroing the returned slots and
    decrementing H_HISTORY_COUNT) restores the table exactly: search uses this to try moves
    on top of a game's history without copying it.
    """
    if key == 0:
        key = 1
    mask = history.shape[0] - 1
    i = key & mask
    while history[i] != 0:
        if history[i] == key:
            return -1
        i = (i + 1) & mask
    history[i] = key
    board[H_HISTORY_COUNT] += 1
    return i


@njit(cache=True)
def history_undo(board, history, slot):
    """Undo one history_add that returned `slot` (>= 0); see history_add for the LIFO rule."""
    if slot >= 0:
        history[slot] = 0
        board[H_HISTORY_COUNT] -= 1


# ----------------------------------------------------------------------------- setup


@njit(cache=True)
def init_board(board, history, zobrist, n, ko_rule, suicide, komi2, move_limit):
    """Write the empty position with Black to move into `board` and reset `history`."""
    nn = n * n
    board[:] = 0
    history[:] = 0
    board[H_N] = n
    board[H_NN] = nn
    board[H_TO_MOVE] = BLACK
    board[H_KO_POINT] = -1
    board[H_KO_COLOR] = EMPTY
    board[H_HASH] = zobrist[0, 1]
    board[H_KO_RULE] = ko_rule
    board[H_SUICIDE] = suicide
    board[H_KOMI2] = komi2
    board[H_MOVE_LIMIT] = move_limit
    for i in range(LAST_MOVES):
        board[H_LAST_MOVES + i] = -1
    empty_list = block(nn, EMPTY_LIST)
    empty_pos = block(nn, EMPTY_POS)
    for p in range(nn):
        board[empty_list + p] = p
        board[empty_pos + p] = p
    board[H_EMPTY_COUNT] = nn
    history_add(board, history, position_key(board, zobrist, BLACK))


@njit(cache=True)
def reset_history(board, history, zobrist):
    """Forget earlier positions: the current one becomes the first (used after setup stones)."""
    history[:] = 0
    board[H_HISTORY_COUNT] = 0
    history_add(board, history, position_key(board, zobrist, board[H_TO_MOVE]))


@njit(cache=True)
def setup_stone(board, neighbours, zobrist, p, c):
    """Place a setup stone (SGF AB/AW, handicap) without captures.

    Returns SETUP_OK, or SETUP_OCCUPIED, or SETUP_NO_LIBERTIES / SETUP_TAKES_LAST_LIBERTY when
    the stone would leave its own chain / an opponent chain without liberties; after the last
    two the board is inconsistent and the caller must discard it.
    """
    nn = board[H_NN]
    if board[block(nn, COLOR) + p] != EMPTY:
        return SETUP_OCCUPIED
    h = add_stone(board, neighbours, zobrist, p, c)
    head = block(nn, HEAD)
    libs = block(nn, LIBS)
    color = block(nn, COLOR)
    for k in range(4):
        q = neighbours[p, k]
        if q < 0:
            break
        if board[color + q] == 3 - c and board[libs + board[head + q]] == 0:
            return SETUP_TAKES_LAST_LIBERTY
    if board[libs + h] == 0:
        return SETUP_NO_LIBERTIES
    return SETUP_OK


SETUP_OK, SETUP_OCCUPIED, SETUP_NO_LIBERTIES, SETUP_TAKES_LAST_LIBERTY = 0, 1, 2, 3


# ----------------------------------------------------------------------------- legality


@njit(cache=True)
def chain_seen_before(board, neighbours, p, k, h):
    """Is chain h also next to p through one of p's first k neighbours? (count each chain once)"""
    nn = board[H_NN]
    color = block(nn, COLOR)
    head = block(nn, HEAD)
    for j in range(k):
        r = neighbours[p, j]
        if board[color + r] != EMPTY and board[head + r] == h:
            return True
    return False


@njit(cache=True)
def move_status(board, history, neighbours, zobrist, p, c):
    """LEGAL or the ILLEGAL_* reason for colour `c` playing at `p` (pass is always legal)."""
    nn = board[H_NN]
    if p == nn:
        return LEGAL
    color = block(nn, COLOR)
    if board[color + p] != EMPTY:
        return ILLEGAL_OCCUPIED
    # The immediate recapture also repeats the previous position, so this fast path agrees
    # with superko and gives the more precise reason.
    if p == board[H_KO_POINT] and c == board[H_KO_COLOR]:
        return ILLEGAL_KO
    head = block(nn, HEAD)
    libs = block(nn, LIBS)
    chash = block(nn, CHASH)
    new_hash = board[H_HASH] ^ zobrist[c, p]
    has_liberty = False
    captures = False
    friendly_hash = 0
    has_friend = False
    for k in range(4):
        q = neighbours[p, k]
        if q < 0:
            break
        cq = board[color + q]
        if cq == EMPTY:
            has_liberty = True
            continue
        hq = board[head + q]
        if chain_seen_before(board, neighbours, p, k, hq):
            continue
        # How many of this chain's pseudo-liberties are the point p itself.
        adjacent = 0
        for j in range(4):
            r = neighbours[p, j]
            if r < 0:
                break
            if board[color + r] != EMPTY and board[head + r] == hq:
                adjacent += 1
        if cq == c:
            if board[libs + hq] > adjacent:
                has_liberty = True
            friendly_hash ^= board[chash + hq]
            has_friend = True
        elif board[libs + hq] == adjacent:
            captures = True
            new_hash ^= board[chash + hq]
    if not has_liberty and not captures:
        # Only multi-stone suicide can be allowed (KataGo's multiStoneSuicideLegal): a lone
        # stone's suicide changes nothing on the board, and so would be a pass in disguise.
        if board[H_SUICIDE] == 0 or not has_friend:
            return ILLEGAL_SUICIDE
        new_hash ^= zobrist[c, p] ^ friendly_hash  # the new stone's whole chain leaves the board
    rule = board[H_KO_RULE]
    if rule == KO_SIMPLE:
        return LEGAL
    if rule == KO_SITUATIONAL and c == BLACK:  # White moves next
        new_hash ^= zobrist[0, 0]
    if history_contains(history, new_hash):
        return ILLEGAL_SUPERKO
    return LEGAL


@njit(cache=True)
def legal_mask(board, history, neighbours, zobrist, c, out):
    """out[NN+1] (bool) = is each move legal for colour c; pass is always legal."""
    nn = board[H_NN]
    chain_libs = np.empty(nn, dtype=np.int64)
    stamp = np.zeros(nn, dtype=np.int64)
    chain_liberties(board, neighbours, chain_libs, stamp)
    legal_mask_from_liberties(board, history, neighbours, zobrist, c, chain_libs, out)


@njit(cache=True)
def chain_liberties(board, neighbours, chain_libs, stamp):
    """chain_libs[h] = exact liberties of the chain whose head is h (other entries undefined).

    stamp is int64[NN] scratch, all zero on entry and left non-zero.
    """
    nn = board[H_NN]
    color = block(nn, COLOR)
    head = block(nn, HEAD)
    mark = 0
    for p in range(nn):
        if board[color + p] != EMPTY and board[head + p] == p:
            mark += 1
            chain_libs[p] = true_liberties(board, neighbours, p, stamp, mark)


@njit(cache=True)
def legal_mask_from_liberties(board, history, neighbours, zobrist, c, chain_libs, out):
    """legal_mask given exact chain liberties: a few lookups per point instead of move_status.

    A chain with one liberty next to p is captured by p; a friendly chain with more than one
    keeps p's stone alive. Superko needs a probe only once a stone has ever left the board:
    until then every position strictly contains the one before it, so none can repeat —
    except by the move's own suicide, which is always probed.
    """
    nn = board[H_NN]
    color = block(nn, COLOR)
    head = block(nn, HEAD)
    chash = block(nn, CHASH)
    rule = board[H_KO_RULE]
    stones_removed = board[H_CAPTURES_BLACK] + board[H_CAPTURES_WHITE] > 0
    suicide_allowed = board[H_SUICIDE] != 0
    ko_point = board[H_KO_POINT] if board[H_KO_COLOR] == c else -1
    side_key = zobrist[0, 0] if rule == KO_SITUATIONAL and c == BLACK else 0
    base_hash = board[H_HASH]
    for p in range(nn):
        if board[color + p] != EMPTY or p == ko_point:
            out[p] = False
            continue
        new_hash = base_hash ^ zobrist[c, p]
        has_liberty = False
        captures = False
        friend_hash = 0
        has_friend = False
        for k in range(4):
            q = neighbours[p, k]
            if q < 0:
                break
            cq = board[color + q]
            if cq == EMPTY:
                has_liberty = True
                continue
            h = board[head + q]
            if chain_seen_before(board, neighbours, p, k, h):
                continue
            if cq == c:
                has_friend = True
                friend_hash ^= board[chash + h]
                if chain_libs[h] > 1:
                    has_liberty = True
            elif chain_libs[h] == 1:
                captures = True
                new_hash ^= board[chash + h]
        suicide = not has_liberty and not captures
        if suicide:
            if not suicide_allowed or not has_friend:
                out[p] = False
                continue
            new_hash ^= zobrist[c, p] ^ friend_hash
        if rule == KO_SIMPLE or not (stones_removed or suicide):
            out[p] = True
        else:
            out[p] = not history_contains(history, new_hash ^ side_key)
    out[nn] = True


# ----------------------------------------------------------------------------- mutation


@njit(cache=True)
def remove_empty(board, p):
    nn = board[H_NN]
    empty_list = block(nn, EMPTY_LIST)
    empty_pos = block(nn, EMPTY_POS)
    last = board[H_EMPTY_COUNT] - 1
    i = board[empty_pos + p]
    moved = board[empty_list + last]
    board[empty_list + i] = moved
    board[empty_pos + moved] = i
    board[H_EMPTY_COUNT] = last


@njit(cache=True)
def add_empty(board, p):
    nn = board[H_NN]
    i = board[H_EMPTY_COUNT]
    board[block(nn, EMPTY_LIST) + i] = p
    board[block(nn, EMPTY_POS) + p] = i
    board[H_EMPTY_COUNT] = i + 1


@njit(cache=True)
def merge_chains(board, a, b):
    """Merge chain b into chain a (the larger keeps its id); returns the surviving head."""
    nn = board[H_NN]
    head = block(nn, HEAD)
    nxt = block(nn, NEXT)
    libs = block(nn, LIBS)
    size = block(nn, SIZE)
    chash = block(nn, CHASH)
    if board[size + a] < board[size + b]:
        a, b = b, a
    s = b
    while True:
        board[head + s] = a
        s = board[nxt + s]
        if s == b:
            break
    t = board[nxt + a]
    board[nxt + a] = board[nxt + b]
    board[nxt + b] = t
    board[libs + a] += board[libs + b]
    board[size + a] += board[size + b]
    board[chash + a] ^= board[chash + b]
    return a


@njit(cache=True)
def add_stone(board, neighbours, zobrist, p, c):
    """Put a stone on an empty point and merge it with friendly neighbours; no captures.

    Returns the head of the stone's chain.
    """
    nn = board[H_NN]
    color = block(nn, COLOR)
    head = block(nn, HEAD)
    libs = block(nn, LIBS)
    remove_empty(board, p)
    key = zobrist[c, p]
    board[color + p] = c
    board[H_HASH] ^= key
    board[head + p] = p
    board[block(nn, NEXT) + p] = p
    board[block(nn, SIZE) + p] = 1
    board[block(nn, CHASH) + p] = key
    liberties = 0
    for k in range(4):
        q = neighbours[p, k]
        if q < 0:
            break
        if board[color + q] == EMPTY:
            liberties += 1
        else:
            board[libs + board[head + q]] -= 1
    board[libs + p] = liberties
    h = p
    for k in range(4):
        q = neighbours[p, k]
        if q < 0:
            break
        if board[color + q] == c and board[head + q] != h:
            h = merge_chains(board, h, board[head + q])
    return h


@njit(cache=True)
def remove_chain(board, neighbours, zobrist, h):
    """Take the chain with head h off the board, returning liberties to its neighbours."""
    nn = board[H_NN]
    color = block(nn, COLOR)
    head = block(nn, HEAD)
    nxt = block(nn, NEXT)
    libs = block(nn, LIBS)
    c = board[color + h]
    other = 3 - c
    removed = 0
    s = h
    while True:
        board[color + s] = EMPTY
        board[H_HASH] ^= zobrist[c, s]
        add_empty(board, s)
        removed += 1
        s = board[nxt + s]
        if s == h:
            break
    while True:
        for k in range(4):
            q = neighbours[s, k]
            if q < 0:
                break
            if board[color + q] == other:
                board[libs + board[head + q]] += 1
        s = board[nxt + s]
        if s == h:
            break
    return removed


@njit(cache=True)
def play(board, history, neighbours, zobrist, p, c):
    """Play colour c at p (NN = pass), mutating board and history.

    The caller guarantees move_status(...) == LEGAL; the game's end (two passes, resignation,
    move limit) is the caller's concern too. Returns the history slot filled (see history_add).
    """
    nn = board[H_NN]
    opp = 3 - c
    board[H_KO_POINT] = -1
    board[H_KO_COLOR] = EMPTY
    for i in range(LAST_MOVES - 1, 0, -1):
        board[H_LAST_MOVES + i] = board[H_LAST_MOVES + i - 1]
    board[H_LAST_MOVES] = p
    board[H_MOVE_NUMBER] += 1
    board[H_TO_MOVE] = opp
    if p == nn:
        board[H_PASSES] += 1
    else:
        board[H_PASSES] = 0
        color = block(nn, COLOR)
        head = block(nn, HEAD)
        libs = block(nn, LIBS)
        h = add_stone(board, neighbours, zobrist, p, c)
        captured = 0
        captured_point = -1
        for k in range(4):
            q = neighbours[p, k]
            if q < 0:
                break
            if board[color + q] == opp and board[libs + board[head + q]] == 0:
                captured += remove_chain(board, neighbours, zobrist, board[head + q])
                captured_point = q
        h = board[head + p]
        if board[libs + h] == 0:  # suicide, already known to be allowed
            removed = remove_chain(board, neighbours, zobrist, h)
            board[H_CAPTURES_BLACK if opp == BLACK else H_CAPTURES_WHITE] += removed
        else:
            board[H_CAPTURES_BLACK if c == BLACK else H_CAPTURES_WHITE] += captured
            # A lone stone that took exactly one stone and has that point as its only
            # liberty: the opponent may not take straight back.
            if captured == 1 and board[block(nn, SIZE) + h] == 1 and board[libs + h] == 1:
                board[H_KO_POINT] = captured_point
                board[H_KO_COLOR] = opp
    return history_add(board, history, position_key(board, zobrist, opp))


@njit(cache=True)
def true_liberties(board, neighbours, h, stamp, mark):
    """Exact liberty count of the chain with head h, using stamp[NN] == mark as 'seen'."""
    nn = board[H_NN]
    color = block(nn, COLOR)
    nxt = block(nn, NEXT)
    count = 0
    s = h
    while True:
        for k in range(4):
            q = neighbours[s, k]
            if q < 0:
                break
            if board[color + q] == EMPTY and stamp[q] != mark:
                stamp[q] = mark
                count += 1
        s = board[nxt + s]
        if s == h:
            break
    return count


@njit(cache=True)
def area_owner(board, neighbours, out):
    """Tromp-Taylor ownership: out[NN] = BLACK/WHITE for stones and empty regions that reach
    only that colour, EMPTY for regions reaching both (seki, dame) or neither."""
    nn = board[H_NN]
    color = block(nn, COLOR)
    stack = np.empty(nn, dtype=np.int64)
    region = np.empty(nn, dtype=np.int64)
    seen = np.zeros(nn, dtype=np.bool_)
    for p in range(nn):
        c = board[color + p]
        if c != EMPTY:
            out[p] = c
            continue
        if seen[p]:
            continue
        reach = 0
        top = 0
        size = 0
        stack[top] = p
        top += 1
        seen[p] = True
        while top > 0:
            top -= 1
            s = stack[top]
            region[size] = s
            size += 1
            for k in range(4):
                q = neighbours[s, k]
                if q < 0:
                    break
                cq = board[color + q]
                if cq == EMPTY:
                    if not seen[q]:
                        seen[q] = True
                        stack[top] = q
                        top += 1
                else:
                    reach |= cq
        owner = reach if reach == BLACK or reach == WHITE else EMPTY
        for i in range(size):
            out[region[i]] = owner
    return out


@njit(cache=True)
def area_score(board, neighbours):
    """Black's area minus White's area, komi not included."""
    nn = board[H_NN]
    owner = np.empty(nn, dtype=np.int64)
    area_owner(board, neighbours, owner)
    score = 0
    for p in range(nn):
        if owner[p] == BLACK:
            score += 1
        elif owner[p] == WHITE:
            score -= 1
    return score


@njit(cache=True)
def is_finished(board):
    """Two consecutive passes or the move limit (resignation is decided outside the core)."""
    return board[H_PASSES] >= 2 or board[H_MOVE_NUMBER] >= board[H_MOVE_LIMIT]
