r"""Which players a pool's games rate, and the weakest prior that keeps the rest finite.

The Bradley–Terry maximum-likelihood estimate exists exactly when the "scored against" graph is
strongly connected (Zermelo 1929; Ford 1957; Hunter 2004, Assumption 1): an edge i -> j when i
took at least half a point from j (a win or a draw, either colour).  Otherwise some group of
players never dropped a point to the rest (its rating difference to them runs off to +infinity),
never took one (-infinity), or never met them at all (the difference is not determined).

`estimability` splits the pool accordingly and names, per player, what the data cannot say:

* the *reference component*: the largest group connected by games at all (ties: the one holding
  the earliest player); any other component is "disconnected";
* in each component, its *main* group: the unique largest strongly connected group of 2 or more
  players; every other strongly connected group of the component is flagged "unbeaten" (nobody
  outside it ever scored against it), "winless" (it never scored against anyone outside it), or
  "separated" (both happen, but only through other flagged groups: a middle rung of a chain).

It also returns the virtual-draw *contrasts* the fit penalises, each a row c with c . r the
difference between a player and a weighted mean of others (so the prior never moves the pool as
a whole and never touches a difference the data determine):

* a flagged player against its own opponents, weighted by games played against each: a couple of
  drawn games against the players it actually met, the smallest statement that makes its rating
  finite (an unbeaten player then sits a finite, data-driven distance above its opponents);
* a player of a disconnected component (or one without games) against the mean of the reference
  component: the only thing that can place a group no game connects, said weakly.

Players of the main groups get no prior at all: their ratings are the plain MLE.

`components` labels each player's connected component (0: the reference one): ratings of two
players in different components are not comparable, whatever interval the prior gives them.
`FLAG_TEXT`, `flag_legend` and `flagged_interval` say the flags to a reader (CLI, web, gRPC clients).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["FLAGS", "FLAG_TEXT", "INCOMPARABLE", "Estimability", "estimability", "flag_legend", "flagged_interval"]

FLAGS = ("unbeaten", "winless", "separated", "disconnected")
# What each flag means for the rating shown, for people (one text for every face).
FLAG_TEXT = {
    "unbeaten": "never dropped a point to the rest: only a lower bound is known (its upper end is the prior's)",
    "winless": "never took a point from the rest: only an upper bound is known (its lower end is the prior's)",
    "separated": "linked to the rest only through unbeaten or winless groups: its interval is the prior's",
    "disconnected": "no game path to the main group: not comparable with it; its place is the prior's",
}
# Why a pair gets no model difference or likelihood of superiority.
INCOMPARABLE = "in different components of the comparison graph: no games link them, so the data say nothing"


def flag_legend(flags: Iterable[str | None]) -> dict[str, str]:
    """{flag: its meaning} for the flags present, in FLAGS order."""
    present = set(flags)
    return {f: FLAG_TEXT[f] for f in FLAGS if f in present}


def flagged_interval(flag: str | None, lo: float, hi: float) -> str:
    """A 95% interval as text: one-sided for an unbeaten ("> lo") or winless ("< hi") player, whose
    other end only the prior sets; "[lo, hi]" otherwise, and for the anchor (lo == hi: fixed by definition)."""
    if flag == "unbeaten" and lo < hi:
        return f"> {lo:+.0f}"
    if flag == "winless" and lo < hi:
        return f"< {hi:+.0f}"
    return f"[{lo:+.0f}, {hi:+.0f}]"


@dataclass(frozen=True, eq=False)
class Estimability:
    flags: tuple[str | None, ...]  # per player: None (rated by the data alone) or one of FLAGS
    contrasts: np.ndarray  # [q, n] rows c (sum 0) whose c . r each get the virtual drawn games
    components: tuple[int, ...] = ()  # per player: its connected component, 0 the reference one


def _strong_components(n: int, succ: list[list[int]]) -> list[int]:
    """Component label per node (Tarjan 1972), iterative so deep chains do not hit the recursion limit."""
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    label = [-1] * n
    stack: list[int] = []
    counter = labels = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if k < len(succ[v]):
                work.append((v, k + 1))
                w = succ[v][k]
                if index[w] < 0:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    label[w] = labels
                    if w == v:
                        break
                labels += 1
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return label


def estimability(n: int, black: np.ndarray, white: np.ndarray, games: np.ndarray,
                 score: np.ndarray) -> Estimability:
    """Flags and prior contrasts of a pool of n players from its pairs (see the module docstring).

    black, white: [P] player indices per pair; games, score: [P] games and black's score per pair.
    """
    scored = np.zeros((n, n), dtype=bool)  # scored[i, j]: i took at least half a point from j
    scored[black[score > 0], white[score > 0]] = True
    scored[white[score < games], black[score < games]] = True
    met = np.zeros((n, n))
    np.add.at(met, (black, white), games)
    met = met + met.T
    undirected = [list(np.flatnonzero(met[i] > 0)) for i in range(n)]
    weak = np.array(_strong_components(n, undirected))  # undirected graph: strong == weak
    strong = np.array(_strong_components(n, [list(np.flatnonzero(scored[i])) for i in range(n)]))

    sizes = np.bincount(weak)
    reference = int(weak[int(np.flatnonzero(sizes[weak] == sizes.max())[0])])
    flags: list[str | None] = [None] * n
    rows: list[np.ndarray] = []
    for comp in range(len(sizes)):
        members = np.flatnonzero(weak == comp)
        groups, group_sizes = np.unique(strong[members], return_counts=True)
        largest = group_sizes.max()
        unique_main = largest >= 2 and int(np.sum(group_sizes == largest)) == 1
        main = int(groups[np.argmax(group_sizes)]) if unique_main else -1
        for g in groups:
            if g == main:
                continue
            inside = strong == g
            outside = ~inside
            scored_by_others = bool(scored[np.ix_(outside, inside)].any())
            scored_on_others = bool(scored[np.ix_(inside, outside)].any())
            flag = ("unbeaten" if not scored_by_others else "winless" if not scored_on_others else "separated")
            for p in np.flatnonzero(inside):
                total = met[p].sum()
                if total > 0:
                    rows.append(np.eye(n)[p] - met[p] / total)
                flags[p] = flag
        if comp != reference:
            centre = np.flatnonzero(weak == reference)
            for p in members:
                row = np.eye(n)[p]
                row[centre] -= 1.0 / len(centre)
                rows.append(row)
                flags[p] = "disconnected"
    contrasts = np.array(rows) if rows else np.zeros((0, n))
    # Relabelled: 0 the reference component, then the others in order of their first player.
    order = [reference] + [c for c in dict.fromkeys(int(w) for w in weak) if c != reference]
    relabel = {c: k for k, c in enumerate(order)}
    return Estimability(tuple(flags), contrasts, tuple(relabel[int(w)] for w in weak))
