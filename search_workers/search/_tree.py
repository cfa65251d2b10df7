"""Compiled PUCT tree kernels, one tree per game, all games in one set of 2-D arrays.

Row g of every array belongs to game g. The root is always node 0 (re-rooting compacts the
kept subtree to the front). Node statistics are from the point of view of the player to move
at that node, as in AlphaGo Zero; an edge's value for the player choosing it is minus its
child's mean.

    node_first_edge  int32   [G, NC]  first edge of an expanded node, -1 until expanded
    node_num_edges   int32   [G, NC]  its legal moves
    node_visits      int32   [G, NC]  playouts through the node (its own evaluation included)
    node_value_sum   float64 [G, NC]  sum of values backed up, for the node's player to move
    edge_move        int32   [G, EC]  flat move (pass = N*N)
    edge_prior       float32 [G, EC]  network policy of the move
    edge_child       int32   [G, EC]  child node, -1 until first visited
    edge_visits      int32   [G, EC]  playouts through the edge (= its child's visits)
    edge_value_sum   float32 [G, EC]  sum of values for the player choosing the edge
    tree_sizes       int32   [G, 2]   nodes and edges in use

Edges carry their own statistics (a copy of their child's, seen from the parent) so that
choosing among a node's children streams through contiguous arrays: reading each child's
node record instead is one cache miss per legal move, and after a forward pass the cache is
cold. That alone tripled the cost of a playout with a real network.

A node's edges are not in move order: its visited children come first, then its best
unvisited one (see `select_edge`), so choosing a child reads only those, not every legal move.

A playout copies the root board into one scratch board and plays down the tree; superko entries
it adds to the game's history are undone afterwards in reverse order, so the history table
is never copied (see `_board.history_add`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from search_workers.go._board import area_score, history_undo, is_finished, play
from search_workers.go._features import write_features_and_legal
from search_workers.go._layout import BLACK, H_KOMI2, H_PASSES, H_TO_MOVE

NODES, EDGES = 0, 1


@njit(cache=True)
def reset_tree(g, node_first_edge, node_num_edges, node_visits, node_value_sum, tree_sizes):
    """Game g's tree becomes a single unexpanded root."""
    node_first_edge[g, 0] = -1
    node_num_edges[g, 0] = 0
    node_visits[g, 0] = 0
    node_value_sum[g, 0] = 0.0
    tree_sizes[g, NODES] = 1
    tree_sizes[g, EDGES] = 0


@njit(cache=True)
def terminal_value(board, neighbours):
    """Outcome of a finished game for the player to move: 1 win, -1 loss, 0 draw or void."""
    if board[H_PASSES] < 2:
        return 0.0  # stopped by the move limit: no result
    score2 = 2 * area_score(board, neighbours) - board[H_KOMI2]  # in half points, Black's view
    if board[H_TO_MOVE] != BLACK:
        score2 = -score2
    if score2 > 0:
        return 1.0
    if score2 < 0:
        return -1.0
    return 0.0


@njit(cache=True)
def swap_edges(g, a, b, edge_prior, edge_child, edge_move, edge_visits, edge_value_sum):
    """Exchange two edges of one node (each array's entries a and b of game g)."""
    edge_prior[g, a], edge_prior[g, b] = edge_prior[g, b], edge_prior[g, a]
    edge_child[g, a], edge_child[g, b] = edge_child[g, b], edge_child[g, a]
    edge_move[g, a], edge_move[g, b] = edge_move[g, b], edge_move[g, a]
    edge_visits[g, a], edge_visits[g, b] = edge_visits[g, b], edge_visits[g, a]
    edge_value_sum[g, a], edge_value_sum[g, b] = edge_value_sum[g, b], edge_value_sum[g, a]


@njit(cache=True)
def promote_best_unvisited(g, start, end, edge_prior, edge_child, edge_move, edge_visits, edge_value_sum):
    """Move the highest-prior edge of [start, end) to start (equal priors: the lower move)."""
    if start >= end:
        return
    best = start
    best_prior = edge_prior[g, start]
    for e in range(start + 1, end):
        prior = edge_prior[g, e]
        if prior > best_prior or (prior == best_prior and edge_move[g, e] < edge_move[g, best]):
            best = e
            best_prior = prior
    if best != start:
        swap_edges(g, start, best, edge_prior, edge_child, edge_move, edge_visits, edge_value_sum)


@njit(cache=True, fastmath=True)  # PUCT scores only rank edges: reassociation cannot matter
def select_edge(g, node, node_first_edge, node_num_edges, node_visits, node_value_sum, edge_prior, edge_child,
                edge_move, edge_visits, edge_value_sum, c_puct, fpu_reduction):
    """The edge maximising Q + c_puct * P * sqrt(N_parent) / (1 + N_child) (AlphaGo Zero's PUCT).

    Unvisited children all share one value, "first play urgency" as in Leela Zero: the
    parent's value minus fpu_reduction * sqrt(prior mass already visited). Early on that is
    the parent's own value (search widens freely); once the likely moves have been tried,
    the rest must earn their visits. Among unvisited children PUCT then prefers the highest
    prior, and exact ties go to the lower move, among visited and unvisited children alike.

    So a node's children are visited in order of prior, and its edges are kept in that order
    as far as it matters: the visited children first, then the best unvisited one (placed
    there by expansion, and by this function each time it hands out the best unvisited
    edge), then the rest in any order. The scan stops at the first unvisited edge instead of
    reading every legal move; most nodes have a handful of visited children out of ~60.
    """
    first = node_first_edge[g, node]
    end = first + node_num_edges[g, node]
    parent_visits = node_visits[g, node]
    sqrt_parent = math.sqrt(max(parent_visits, 1))
    parent_q = node_value_sum[g, node] / parent_visits if parent_visits > 0 else 0.0
    best_visited = -1
    best_visited_score = -1e300
    visited_prior = 0.0
    e = first
    while e < end:
        n = edge_visits[g, e]
        if n == 0:
            break
        prior = edge_prior[g, e]
        visited_prior += prior
        score = edge_value_sum[g, e] / n + c_puct * prior * sqrt_parent / (1 + n)
        if score > best_visited_score or (score == best_visited_score
                                          and edge_move[g, e] < edge_move[g, best_visited]):
            best_visited_score = score
            best_visited = e
        e += 1
    if e == end:
        return best_visited
    fpu = parent_q - fpu_reduction * math.sqrt(visited_prior)
    if best_visited < 0 or fpu + c_puct * edge_prior[g, e] * sqrt_parent > best_visited_score:
        # e gets its first visit: the best of the remaining unvisited edges becomes next in line.
        promote_best_unvisited(g, e + 1, end, edge_prior, edge_child, edge_move, edge_visits, edge_value_sum)
        return e
    return best_visited


@njit(cache=True, nogil=True)  # nogil: another group's evaluation proceeds meanwhile
def select_leaves(active, root_boards, root_histories, scratch_board, neighbours, zobrist,
                  node_first_edge, node_num_edges, node_visits, node_value_sum, edge_prior, edge_child, edge_move,
                  edge_visits, edge_value_sum, tree_sizes, c_puct, fpu_reduction, paths, path_edges, path_lengths,
                  undo_slots, features, legal, rows, needs_eval, leaf_values):
    """One playout's descent for every active game: afterwards each has a leaf in paths.

    A leaf that needs the network has its features [C, N, N] and legal moves [N*N+1] written
    into the next free row r of `features` / `legal` (rows[g] = r, needs_eval[g] set), so the
    batch for the evaluator is the first rows, without a copy; a finished game's leaf gets its
    exact outcome in leaf_values[g] instead. Returns the number of leaves needing evaluation.
    """
    count = 0
    for g in range(active.shape[0]):
        if not active[g]:  # another group's leaves may be in flight: leave its rows alone
            continue
        needs_eval[g] = False
        rows[g] = -1
        path_lengths[g] = 0
        board = scratch_board  # one for all games: they are descended one after another
        board[:] = root_boards[g]
        history = root_histories[g]
        node = 0
        depth = 0
        paths[g, 0] = 0
        while True:
            if is_finished(board):
                leaf_values[g] = terminal_value(board, neighbours)
                break
            if node_first_edge[g, node] < 0:
                write_features_and_legal(board, history, neighbours, zobrist, features[count], legal[count])
                needs_eval[g] = True
                rows[g] = count
                count += 1
                break
            e = select_edge(g, node, node_first_edge, node_num_edges, node_visits, node_value_sum, edge_prior,
                            edge_child, edge_move, edge_visits, edge_value_sum, c_puct, fpu_reduction)
            path_edges[g, depth] = e
            undo_slots[g, depth] = play(board, history, neighbours, zobrist, edge_move[g, e], board[H_TO_MOVE])
            child = edge_child[g, e]
            if child < 0:
                child = tree_sizes[g, NODES]
                tree_sizes[g, NODES] = child + 1
                node_first_edge[g, child] = -1
                node_num_edges[g, child] = 0
                node_visits[g, child] = 0
                node_value_sum[g, child] = 0.0
                edge_child[g, e] = child
            node = child
            depth += 1
            paths[g, depth] = node
        path_lengths[g] = depth + 1
        for i in range(depth - 1, -1, -1):
            history_undo(board, history, undo_slots[g, i])
    return count


@njit(cache=True, nogil=True)
def expand_and_backup(active, needs_eval, rows, policy, values, leaf_values, legal, paths, path_edges,
                      path_lengths, node_first_edge, node_num_edges, node_visits, node_value_sum, edge_prior,
                      edge_child, edge_move, edge_visits, edge_value_sum, tree_sizes, nn):
    """Expand each evaluated leaf with its legal moves and back every playout's value up.

    rows[g] is game g's row in policy [R, N*N+1] / values [R] / legal (-1 if it needed none).
    """
    for g in range(active.shape[0]):
        length = path_lengths[g]
        if not active[g] or length == 0:
            continue
        leaf = paths[g, length - 1]
        if needs_eval[g]:
            r = rows[g]
            first = tree_sizes[g, EDGES]
            k = 0
            top = first  # the highest prior (the lowest move among equals) goes first: see select_edge
            for p in range(nn + 1):
                if legal[r, p]:
                    edge_move[g, first + k] = p
                    edge_prior[g, first + k] = policy[r, p]
                    edge_child[g, first + k] = -1
                    edge_visits[g, first + k] = 0
                    edge_value_sum[g, first + k] = 0.0
                    if edge_prior[g, first + k] > edge_prior[g, top]:
                        top = first + k
                    k += 1
            if top != first:
                swap_edges(g, first, top, edge_prior, edge_child, edge_move, edge_visits, edge_value_sum)
            node_first_edge[g, leaf] = first
            node_num_edges[g, leaf] = k
            tree_sizes[g, EDGES] = first + k
            value = values[r]
        else:
            value = leaf_values[g]
        for i in range(length - 1, -1, -1):
            node = paths[g, i]
            node_visits[g, node] += 1
            node_value_sum[g, node] += value
            if i > 0:  # the edge into this node, seen by the player who chose it
                e = path_edges[g, i - 1]
                edge_visits[g, e] += 1
                edge_value_sum[g, e] -= value
            value = -value


@njit(cache=True)
def reroot(g, move, node_first_edge, node_num_edges, node_visits, node_value_sum, edge_prior, edge_child, edge_move,
           edge_visits, edge_value_sum, tree_sizes):
    """Make the root's child reached by `move` the new root, keeping its subtree compacted.

    Returns False (and leaves a fresh root) when that child was never expanded.
    """
    first = node_first_edge[g, 0]
    child = -1
    if first >= 0:
        for e in range(first, first + node_num_edges[g, 0]):
            if edge_move[g, e] == move:
                child = edge_child[g, e]
                break
    if child < 0 or node_first_edge[g, child] < 0:
        reset_tree(g, node_first_edge, node_num_edges, node_visits, node_value_sum, tree_sizes)
        return False
    used_nodes = tree_sizes[g, NODES]
    used_edges = tree_sizes[g, EDGES]
    new_index = np.full(used_nodes, -1, dtype=np.int32)
    queue = np.empty(used_nodes, dtype=np.int32)
    n_first = np.empty(used_nodes, dtype=np.int32)
    n_num = np.empty(used_nodes, dtype=np.int32)
    n_visits = np.empty(used_nodes, dtype=np.int32)
    n_value = np.empty(used_nodes, dtype=np.float64)
    e_move = np.empty(used_edges, dtype=np.int32)
    e_prior = np.empty(used_edges, dtype=np.float32)
    e_child = np.empty(used_edges, dtype=np.int32)
    e_visits = np.empty(used_edges, dtype=np.int32)
    e_value = np.empty(used_edges, dtype=np.float32)
    head = 0
    tail = 1
    queue[0] = child
    new_index[child] = 0
    edges = 0
    while head < tail:
        old = queue[head]
        head += 1
        ni = new_index[old]
        n_visits[ni] = node_visits[g, old]
        n_value[ni] = node_value_sum[g, old]
        old_first = node_first_edge[g, old]
        if old_first < 0:
            n_first[ni] = -1
            n_num[ni] = 0
            continue
        num = node_num_edges[g, old]
        n_first[ni] = edges
        n_num[ni] = num
        for k in range(num):
            e_move[edges + k] = edge_move[g, old_first + k]
            e_prior[edges + k] = edge_prior[g, old_first + k]
            e_visits[edges + k] = edge_visits[g, old_first + k]
            e_value[edges + k] = edge_value_sum[g, old_first + k]
            c = edge_child[g, old_first + k]
            if c >= 0:
                new_index[c] = tail
                queue[tail] = c
                tail += 1
                e_child[edges + k] = new_index[c]
            else:
                e_child[edges + k] = -1
        edges += num
    for i in range(tail):
        node_first_edge[g, i] = n_first[i]
        node_num_edges[g, i] = n_num[i]
        node_visits[g, i] = n_visits[i]
        node_value_sum[g, i] = n_value[i]
    for i in range(edges):
        edge_move[g, i] = e_move[i]
        edge_prior[g, i] = e_prior[i]
        edge_child[g, i] = e_child[i]
        edge_visits[g, i] = e_visits[i]
        edge_value_sum[g, i] = e_value[i]
    tree_sizes[g, NODES] = tail
    tree_sizes[g, EDGES] = edges
    return True


@njit(cache=True)
def root_children(g, node_first_edge, node_num_edges, edge_prior, edge_move, edge_visits, edge_value_sum,
                  moves_out, visits_out, priors_out, q_out):
    """Copy the root's edges (move, visits, prior, Q for the player to move) in increasing move
    order, whatever the order of the edges (select_edge reorders them); returns the count.

    The outputs have room for every move (N*N+1).
    """
    first = node_first_edge[g, 0]
    if first < 0:
        return 0
    num = node_num_edges[g, 0]
    edge_of_move = np.full(moves_out.shape[0], -1, dtype=np.int32)
    for e in range(first, first + num):
        edge_of_move[edge_move[g, e]] = e
    k = 0
    for p in range(edge_of_move.shape[0]):
        e = edge_of_move[p]
        if e < 0:
            continue
        moves_out[k] = p
        priors_out[k] = edge_prior[g, e]
        n = edge_visits[g, e]
        visits_out[k] = n
        q_out[k] = edge_value_sum[g, e] / n if n > 0 else np.nan
        k += 1
    return k
