"""The reference scale against a known simulated ladder: rungs with a true (non-linear) Elo curve,
simulated games, one fit; a checkpoint of known strength must be placed on the ladder within its
interval, and ratings outside the ladder must never get an extrapolated value."""

from __future__ import annotations

import numpy as np
import pytest

from arena.ratings import RatingInputError, Ratings, compute_ratings
from arena.ratings.reference import Ladder, Rung, equivalent_strength, ladder_curve, relative_elo
from arena.ratings.simulate import pair_counts, play_games

LEVELS = np.arange(1, 11)
TRUE_RUNG_ELO = 500.0 * np.log(LEVELS)  # concave in level, as engine levels are: ~0 .. 1151 Elo
LADDER = Ladder(name="gnugo", parameter="level", rungs=tuple(Rung(f"gnugo-l{lv}", float(lv)) for lv in LEVELS),
                reference_point="gnugo-l1")


def _fit(extra: dict[str, float], *, games: int, seed: int):
    """Rungs plus `extra` players of known Elo; neighbour games between rungs (two steps too) and
    each extra player against the three rungs nearest its strength. Returns the fitted Ratings."""
    names = [r.player for r in LADDER.rungs] + list(extra)
    true = np.concatenate([TRUE_RUNG_ELO, list(extra.values())])
    pairs = [(i, j) for i in range(10) for j in (i + 1, i + 2) if j < 10]
    for k, elo in enumerate(extra.values()):
        near = np.argsort(np.abs(TRUE_RUNG_ELO - elo))[:3]
        pairs += [(10 + k, int(j)) for j in near]
    rng = np.random.default_rng(seed)
    counts = np.zeros((len(names), len(names), 3), dtype=int)
    for i, j in pairs:
        black = np.array([i, j] * (games // 2))
        white = np.array([j, i] * (games // 2))
        outcome = play_games(true, black, white, rng, colour_elo=20.0, draw_rate=0.0)
        np.add.at(counts, (black, white, outcome), 1)
    return compute_ratings(pair_counts(names, counts), prior_games=0.0)


def test_equivalent_level_recovered_within_its_interval() -> None:
    true_level = 6.5
    strength = 500.0 * np.log(true_level)
    covered = 0
    trials = 20
    for seed in range(trials):
        ratings = _fit({"ckpt": strength}, games=60, seed=seed)
        eq = equivalent_strength(ratings, "ckpt", LADDER)
        assert eq is not None and eq.position == "inside"
        assert eq.low is not None and eq.high is not None
        assert eq.low <= eq.value <= eq.high
        assert eq.text.startswith("plays like gnugo at level ")
        covered += eq.low <= true_level <= eq.high
    assert covered >= trials - 3  # ~95% nominal; 17/20 allows for chance


def test_point_estimate_is_accurate_with_many_games() -> None:
    ratings = _fit({"ckpt": 500.0 * np.log(4.0)}, games=2000, seed=1)
    eq = equivalent_strength(ratings, "ckpt", LADDER)
    assert eq.value == pytest.approx(4.0, abs=0.25)
    assert eq.high - eq.low < 1.0


def test_relative_elo_is_zero_at_the_reference_point_and_matches_the_truth() -> None:
    ratings = _fit({"ckpt": 500.0 * np.log(4.0)}, games=400, seed=2)
    ref = relative_elo(ratings, "gnugo-l1", "gnugo-l1")
    assert ref.elo == 0.0 and ref.stderr == 0.0
    rel = relative_elo(ratings, "ckpt", "gnugo-l1")
    assert rel.lo <= 500.0 * np.log(4.0) <= rel.hi
    assert rel.hi - rel.lo == pytest.approx(2 * 1.959963984540054 * rel.stderr)


def test_above_the_top_and_below_the_lowest_rung_are_never_extrapolated() -> None:
    ratings = _fit({"strong": TRUE_RUNG_ELO[-1] + 600.0, "weak": -600.0}, games=200, seed=3)
    above = equivalent_strength(ratings, "strong", LADDER)
    assert above.position == "above" and above.value is None and above.high is None
    assert "above the top rung of gnugo (level 10.0)" in above.text
    below = equivalent_strength(ratings, "weak", LADDER)
    assert below.position == "below" and below.value is None and below.low is None
    assert "below the lowest rung of gnugo (level 1.0)" in below.text


def test_interval_reaching_the_end_of_the_ladder_is_open() -> None:
    # Few games: a player just above level 1 cannot be told from the lowest rung.
    ratings = _fit({"ckpt": 500.0 * np.log(1.3)}, games=6, seed=4)
    eq = equivalent_strength(ratings, "ckpt", LADDER)
    if eq.position == "inside":
        assert eq.low is None and "[<=1.0, " in eq.text
    else:  # its rating fell below the lowest rung: still no invented value
        assert eq.value is None


def test_visits_ladder_interpolates_on_log_visits() -> None:
    # Rungs at 1, 2, 4, 8 visits, 100 Elo per doubling; a player at 100*log2(5.66) sits at ~5.66 visits.
    visits = [1, 2, 4, 8]
    ladder = Ladder("KataGo b6c96", "visits", tuple(Rung(f"katago-b6c96@{v}v", v) for v in visits),
                    "katago-b6c96@1v")
    names = [r.player for r in ladder.rungs] + ["ckpt"]
    true = np.array([0.0, 100.0, 200.0, 300.0, 250.0])
    rng = np.random.default_rng(5)
    counts = np.zeros((5, 5, 3), dtype=int)
    for i in range(5):
        for j in range(i + 1, 5):
            black = np.array([i, j] * 1500)
            white = np.array([j, i] * 1500)
            np.add.at(counts, (black, white, play_games(true, black, white, rng, draw_rate=0.0)), 1)
    ratings = compute_ratings(pair_counts(names, counts), prior_games=0.0)
    eq = equivalent_strength(ratings, "ckpt", ladder)
    assert eq.value == pytest.approx(2 ** 2.5, rel=0.15)
    assert eq.text.startswith("plays like KataGo b6c96 at ") and " visits [" in eq.text
    assert [round(v) for v, _ in ladder_curve(ratings, ladder)] == visits


def test_non_monotone_rungs_are_pooled_and_too_few_rungs_give_none() -> None:
    names = ["a", "b", "c", "p"]
    counts = np.zeros((4, 4, 3), dtype=int)
    true = np.array([0.0, 200.0, 150.0, 100.0])  # rung "b" (level 2) is stronger than "c" (level 3)
    rng = np.random.default_rng(6)
    for i in range(4):
        for j in range(i + 1, 4):
            black, white = np.array([i, j] * 500), np.array([j, i] * 500)
            np.add.at(counts, (black, white, play_games(true, black, white, rng, draw_rate=0.0)), 1)
    ratings = compute_ratings(pair_counts(names, counts), prior_games=0.0)
    ladder = Ladder("x", "level", (Rung("a", 1), Rung("b", 2), Rung("c", 3)), "a")
    curve = ladder_curve(ratings, ladder)
    assert len(curve) == 2 and curve[1][0] == pytest.approx(2.5)  # b and c pooled at their mean level
    assert all(e1 < e2 for (_, e1), (_, e2) in zip(curve, curve[1:]))
    assert equivalent_strength(ratings, "p", ladder).position == "inside"
    lonely = Ladder("x", "level", (Rung("a", 1), Rung("missing", 2)), "a")
    assert equivalent_strength(ratings, "p", lonely) is None
    with pytest.raises(RatingInputError):
        equivalent_strength(ratings, "nobody", ladder)


def _hand_fit(elo: dict[str, float], se: dict[str, float]) -> Ratings:
    """A fit with given ratings and independent stderrs (rungs "l1", "l2" at levels 1, 2)."""
    players = tuple(elo)
    return Ratings(elo=elo, stderr=se, players=players, covariance=np.diag([se[p] ** 2 for p in players]),
                   colour_advantage_elo=0.0, colour_advantage_stderr=0.0, games=0, anchor=None, anchor_elo=0.0,
                   prior_games=0.0, iterations=0)


HAND_LADDER = Ladder(name="gnugo", parameter="level", rungs=(Rung("l1", 1.0), Rung("l2", 2.0)), reference_point="l1")


@pytest.mark.parametrize("above", [True, False])
def test_just_beyond_an_end_rung_is_not_called_beyond_it(above: bool) -> None:
    # 30 Elo past the end rung, sd of the gap 50: the 95% interval [-68, +128] holds 0. The text used to
    # clip its lower end to 0 ("above ... by 30 Elo [0, 128]"), claiming what the data do not say.
    sign = 1.0 if above else -1.0
    elo = {"l1": 0.0, "l2": 100.0, "p": 130.0 if above else -30.0}
    eq = equivalent_strength(_hand_fit(elo, {"l1": 30.0, "l2": 30.0, "p": 40.0}), "p", HAND_LADDER)
    rung = "top rung of gnugo (level 2.0)" if above else "lowest rung of gnugo (level 1.0)"
    assert eq.position == ("above" if above else "below") and eq.value is None
    assert eq.text.startswith(f"not distinguishable from the {rung}: {sign * 30:+.0f} Elo [")
    lo, hi = sign * 30.0 - 1.959963984540054 * 50.0, sign * 30.0 + 1.959963984540054 * 50.0
    assert f"[{lo:+.0f}, {hi:+.0f}]" in eq.text and lo < 0.0 < hi
    assert "above the" not in eq.text and "below the" not in eq.text


def test_clearly_beyond_an_end_rung_says_so_with_its_interval() -> None:
    eq = equivalent_strength(_hand_fit({"l1": 0.0, "l2": 100.0, "p": 400.0}, {"l1": 30.0, "l2": 30.0, "p": 40.0}),
                             "p", HAND_LADDER)
    assert eq.position == "above"
    assert eq.text == "above the top rung of gnugo (level 2.0) by 300 Elo [202, 398]"
