"""TournamentConfig: every check that needs no database, with errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from arena.scheduling import (
    FORMAT_MODELS,
    ParticipantSpec,
    SchedulingError,
    TournamentConfig,
    parse_config,
    check_references,
    expand_visits_ladder,
)


def player(name: str, visits: int | None = 16, kind: str = "checkpoint", ref: str = "net") -> dict[str, Any]:
    return {"name": name, "kind": kind, "ref": ref, "visits": visits}


def config(**overrides: Any) -> TournamentConfig:
    data: dict[str, Any] = {"name": "t", "format": "round-robin", "participants": [player("a"), player("b")]}
    data.update(overrides)
    return parse_config(data)


def error_text(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as info:
        config(**overrides)
    return str(info.value)


EXAMPLES = {
    "round-robin": {},
    "gauntlet": {"format": "gauntlet", "candidates": ["a"]},
    "visits-ladder": {"format": "visits-ladder", "participants": [], "checkpoint": "s2000", "visits": [64, 16]},
    "adaptive": {"format": "adaptive", "target_ci": 50.0},
    "sprt": {"format": "sprt", "candidates": ["b"], "elo0": 0, "elo1": 20},
}


@pytest.mark.parametrize("fmt", sorted(EXAMPLES))
def test_round_trips_through_json_storage(fmt: str) -> None:
    made = config(**EXAMPLES[fmt])
    stored = made.model_dump(mode="json")
    assert parse_config(stored) == made


def test_format_defaults_are_filled_in_and_stored() -> None:
    sprt = config(**EXAMPLES["sprt"])
    assert (sprt.alpha, sprt.beta, sprt.max_games, sprt.batch_pairs) == (0.05, 0.05, 2000, 8)
    assert sprt.baseline == "a" and "games_per_pairing" not in type(sprt).model_fields
    assert config().games_per_pairing == 2


@pytest.mark.parametrize(("overrides", "field"), [
    ({"participants": [player("a")]}, "participants"),
    ({"participants": [player("a"), player("a")]}, "appears twice"),
    ({"participants": [player("a", visits=0), player("b")]}, "participants.0.visits"),
    ({"participants": [player("a", visits=1_000_001), player("b")]}, "participants.0.visits"),
    ({"participants": [player("a", visits=None), player("b")]}, "visits"),
    ({"participants": [player("a", kind="engine", visits=8), player("b")]}, "visits"),
    ({"participants": [player("a b"), player("b")]}, "participants.0.name"),
    ({"participants": [player("a", kind="program"), player("b")]}, "participants.0.kind"),
    ({"board_size": 20}, "board_size"),
    ({"board_size": 1}, "board_size"),
    ({"komi": 7.3}, "komi"),
    ({"rules": "japanese-ish"}, "rules"),
    ({"games_per_pairing": 3}, "games_per_pairing"),
    ({"move_limit": 0}, "move_limit"),
    ({"colour": "black"}, "colour"),
    ({"target_ci": 30.0}, "target_ci: not a parameter of format 'round-robin'"),
    ({"resign": {"threshold": -2}}, "resign.threshold"),
    ({"openings": {"source": "sgf", "plies": 4}}, "directory"),
    ({"openings": {"source": "random"}}, "plies"),
    ({"openings": {"source": "random", "plies": 81}}, "openings.plies"),
    ({"openings": {"source": "policy", "plies": 4, "max_abs_value": 1.5, "checkpoint": "x"}},
     "openings.max_abs_value"),
    ({"format": "gauntlet", "candidates": ["z"]}, "candidates[0]"),
    ({"format": "gauntlet", "candidates": ["a", "b"]}, "candidates"),
    ({"format": "gauntlet"}, "candidates"),
    ({"format": "sprt", "candidates": ["a", "b"]}, "exactly one candidate"),
    ({"format": "sprt", "candidates": ["a"], "participants": [player("a"), player("b"), player("c")]},
     "participants"),
    ({"format": "sprt", "candidates": ["a"], "elo0": 10, "elo1": 5}, "elo1"),
    ({"format": "sprt", "candidates": ["a"], "alpha": 0.7}, "alpha"),
    ({"format": "sprt", "candidates": ["a"], "max_games": 11}, "max_games"),
    ({"format": "adaptive"}, "target_ci"),
    ({"format": "adaptive", "game_budget": 9}, "game_budget"),
    ({"format": "visits-ladder", "checkpoint": "s", "visits": [64]}, "visits"),
    ({"format": "visits-ladder", "checkpoint": "s", "visits": [64, 64, 128]}, "visits"),
    ({"format": "visits-ladder", "checkpoint": "s", "visits": [64, 0]}, "visits.1"),
    ({"format": "visits-ladder", "visits": [16, 64]}, "checkpoint"),
])
def test_bad_input_is_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    assert field in error_text(**overrides)


def test_visits_ladder_expands_into_rungs_plus_extra_players() -> None:
    ladder = config(format="visits-ladder", checkpoint="s002000", visits=[256, 64],
                    participants=[player("gnugo", kind="engine", visits=None, ref="gnugo-l10")])
    roster = expand_visits_ladder(ladder)
    assert [p.name for p in roster] == ["s002000@64v", "s002000@256v", "gnugo"]
    assert roster[0] == ParticipantSpec(name="s002000@64v", kind="checkpoint", ref="s002000", visits=64)
    assert ladder.players() == roster


def test_rung_names_must_not_collide_with_participants() -> None:
    assert "appears twice" in error_text(format="visits-ladder", checkpoint="s", visits=[8, 16],
                                         participants=[player("s@8v")])


def test_references_are_checked_against_what_the_service_knows() -> None:
    made = config(participants=[player("a"), player("g", kind="engine", visits=None, ref="gnugo")],
                  openings={"source": "policy", "plies": 4, "checkpoint": "opener"})
    sizes = {"net": {9, 19}, "opener": {9}}
    check_references(made, checkpoint_sizes=sizes, engine_sizes={"gnugo": range(2, 20)})
    with pytest.raises(SchedulingError, match="player 'g': unknown engine 'gnugo'"):
        check_references(made, checkpoint_sizes=sizes, engine_sizes={})
    with pytest.raises(SchedulingError, match="openings.checkpoint: unknown checkpoint 'opener'"):
        check_references(made, checkpoint_sizes={"net": {9}}, engine_sizes={"gnugo": {9}})
    with pytest.raises(SchedulingError, match="player 'a': checkpoint 'net' cannot play board size 9"):
        check_references(made, checkpoint_sizes={"net": {19}, "opener": {9}}, engine_sizes={"gnugo": {9}})


def test_resign_settings_map_onto_search_config() -> None:
    from search_workers.search import SearchConfig

    SearchConfig(**config().resign.search_fields())


@pytest.mark.parametrize("fmt", sorted(EXAMPLES))
def test_each_format_has_a_model_of_its_own(fmt: str) -> None:
    made = config(**EXAMPLES[fmt])
    assert type(made) is FORMAT_MODELS[fmt] and made.format == fmt


def test_another_formats_parameter_given_as_null_is_no_parameter() -> None:
    # Configurations stored before each format had its own model carry every parameter, null
    # where it did not apply; they read back as the format's model without them.
    made = config(target_ci=None, candidates=None, max_games=None)
    assert made == config() and "target_ci" not in made.model_dump()


def test_a_missing_or_unknown_format_is_refused_naming_format() -> None:
    assert "format" in error_text(format=None)
    assert "'knockout' found using 'format'" in error_text(format="knockout")
