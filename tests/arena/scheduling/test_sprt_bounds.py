"""SPRT hypotheses are bounded: `elo0=-1e6` overflowed in `elo_to_score` while the tournament was
created (a 500), and `elo1=1e6` rounded a score to 1.0, so the LLR was NaN and never decided."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from pydantic import ValidationError

from arena.ratings.sprt import MAX_ABS_ELO, sprt_pentanomial, sprt_trinomial
from arena.scheduling import parse_config
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    ENGINE_PAIR, admin_url, client, db_url, engine, headers, settings, tokens, tournament_config)


def _sprt(**changes: Any) -> dict:
    return {"name": "gate", "format": "sprt", "candidates": ["b"],
            "participants": [{"name": n, "kind": "engine", "ref": n} for n in ("a", "b")], **changes}


@pytest.mark.parametrize(("changes", "field"), [
    ({"elo0": -1e6, "elo1": 0}, "elo0"),
    ({"elo1": 1e6}, "elo1"),
    ({"elo0": -1000.5}, "elo0"),
    ({"elo1": float("inf")}, "elo1"),
    ({"elo0": float("nan")}, "elo0"),
])
def test_elo_outside_the_bounds_is_refused_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_config(_sprt(**changes))
    assert [e["loc"] for e in info.value.errors()] == [(field,)]


def test_the_bounds_themselves_are_accepted_and_elo1_must_exceed_elo0() -> None:
    config = parse_config(_sprt(elo0=-MAX_ABS_ELO, elo1=MAX_ABS_ELO))
    assert (config.elo0, config.elo1) == (-1000.0, 1000.0)
    with pytest.raises(ValidationError, match="elo1: must be greater than elo0"):
        parse_config(_sprt(elo0=5, elo1=5))


# The extremes the bounds allow: widest, narrowest at either end, narrowest in the middle.
@pytest.mark.parametrize("elos", [(-MAX_ABS_ELO, MAX_ABS_ELO), (-MAX_ABS_ELO, -999.999), (999.999, MAX_ABS_ELO),
                                  (0.0, 1e-9), (-400.0, 400.0)])
def test_the_llr_is_finite_for_any_accepted_hypotheses(elos: tuple[float, float]) -> None:
    elo0, elo1 = elos
    # Lopsided and empty-category counts up to ten million pairs: the extremes of the MLE.
    for counts in itertools.product((0, 1, 10**7), repeat=5):
        assert math.isfinite(sprt_pentanomial(counts, elo0=elo0, elo1=elo1).llr), counts
    for counts in itertools.product((0, 3, 10**7), repeat=3):
        assert math.isfinite(sprt_trinomial(*counts, elo0=elo0, elo1=elo1).llr), counts


def test_sprt_functions_refuse_elo_beyond_the_bound() -> None:
    with pytest.raises(ValueError, match="elo0 must lie within"):
        sprt_pentanomial([1, 1, 1, 1, 1], elo0=-1e6, elo1=0)
    with pytest.raises(ValueError, match="elo1 must lie within"):
        sprt_trinomial(1, 1, 1, elo0=0, elo1=1e6)


def test_http_create_with_elo_beyond_the_bound_is_a_422(client, headers) -> None:  # noqa: F811
    body = tournament_config("sprt-out-of-range", format="sprt", candidates=[ENGINE_PAIR[1]], elo0=-1e6, elo1=0)
    del body["games_per_pairing"]
    response = client.post("/tournaments", json=body, headers=headers["submit"])
    assert response.status_code == 422, response.text
    assert "elo0" in response.text and "greater than or equal to -1000" in response.text
    body.update(name="sprt-in-range", elo0=-10)
    assert client.post("/tournaments", json=body, headers=headers["submit"]).status_code == 201
