"""Compiled fast path of `evaluator.check_evaluation`: one pass over a batch, no temporaries."""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def clearly_sound(policy, value, legal, value_limit, illegal_limit):
    """True if every value is within value_limit in magnitude, every policy row is finite and
    puts at most illegal_limit on illegal moves; False if not, or if not clearly so.

    policy [B, M] float, value [B] float, legal [B, M] bool. The caller passes limits with a
    margin inside its own, so that a False (re-checked exactly) is never mistaken for a True
    by rounding in another summation order.
    """
    for i in range(value.shape[0]):
        v = value[i]
        if not abs(v) <= value_limit:  # NaN fails too
            return False
        total = 0.0
        illegal = 0.0
        for j in range(policy.shape[1]):
            p = float(policy[i, j])
            total += p
            if not legal[i, j]:
                illegal += p
        if not math.isfinite(total) or not illegal <= illegal_limit:
            return False
    return True
