"""The order and the choice of round of the Triton benches' paired rounds."""

from __future__ import annotations

import pytest

from arena.benchmarks.paired_rounds import median_round, turns


def test_turns_alternate_which_side_goes_first() -> None:
    assert turns(1, "a", "b") == ["a", "b"]
    assert turns(3, "a", "b") == ["a", "b", "b", "a", "a", "b"]
    # Every round holds one turn of each side, next to each other in time.
    order = turns(4, "a", "b")
    assert all(sorted(order[i:i + 2]) == ["a", "b"] for i in range(0, len(order), 2))


@pytest.mark.parametrize(("ratios", "expected"), [
    ([0.8379, 0.76, 0.934], 0),
    ([0.9, 0.7, 0.8], 2),
    ([0.5], 0),
    ([0.9, 0.6, 0.8, 0.7], 3),  # an even count: the lower middle, still one round's own
])
def test_median_round_is_the_round_with_the_median_ratio(ratios, expected) -> None:
    assert median_round(ratios) == expected


def test_median_round_of_no_rounds_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        median_round([])
