"""A long-lived worker's /metrics stays bounded however many tournaments it plays for."""

from __future__ import annotations

from types import SimpleNamespace

from search_workers import metrics


def _series(name: str) -> set[str]:
    return {sample.labels["tournament"] for family in metrics.REGISTRY.collect() if family.name == name
            for sample in family.samples if "tournament" in sample.labels}


def test_only_the_most_recent_tournaments_keep_their_series() -> None:
    outcome = SimpleNamespace(result="B+R", scoring="resignation", reason=None,
                              stats=[SimpleNamespace(visits=8, seconds=0.01)])
    first = 10_000_000  # ids of no other test's tournaments
    ids = range(first, first + metrics.MAX_TOURNAMENT_SERIES + 40)
    for tid in ids:
        metrics.record_outcome(outcome, tournament=tid)
    metrics.record_outcome(outcome, tournament=ids[0])  # played again: the newest once more
    kept = {str(t) for t in ids[-metrics.MAX_TOURNAMENT_SERIES + 1:]} | {str(ids[0])}
    for name in ("arena_games_finished", "arena_moves", "arena_playouts", "arena_move_seconds"):
        ours = {label for label in _series(name) if label.isdigit() and int(label) >= first}
        assert ours == kept, name
