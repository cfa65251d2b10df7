"""Paired rounds: how the Triton benches compare two sides on a machine whose speed drifts.

Each side plays `rounds` times, taking turns: A B, B A, A B, ... Each round pairs the two
turns next to each other in time, and the order alternates, so that neither a slow drift nor
the warmth of playing twice in a row favours one side. The reported round is the one with the
median ratio, so that its two rates are one round's own and their quotient is the ratio shown.
"""

from __future__ import annotations

MAX_ROUNDS = 9  # paired rounds of one run; each is a few minutes of a slow machine at most


def turns(rounds: int, first: str, second: str) -> list[str]:
    """The order the two sides play in: first, second, second, first, first, second, ..."""
    return [side for index in range(rounds) for side in ((first, second) if index % 2 == 0 else (second, first))]


def median_round(ratios: list[float]) -> int:
    """The index of the round whose ratio is the median (the lower middle of an even count)."""
    if not ratios:
        raise ValueError("no rounds were played")
    order = sorted(range(len(ratios)), key=ratios.__getitem__)
    return order[(len(order) - 1) // 2]
