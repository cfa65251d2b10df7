"""Strict Tromp-Taylor's score stored beside the referee's, the disagreement flag, and each
tournament's disagreement rate: through the worker's sink, the real database, the API and the CLI."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from arena.db.connection import session_scope
from arena.db.models import ScheduledGame
from arena.db.repository import ConflictingResultError, StorageError, record_finished_game
from arena.worker import DatabaseSink
from search_workers.engines.match import GameOutcome
from search_workers.engines.referee import Settlement
from search_workers.schemas import BlockPayload, FinishedGameRecord
from search_workers.tasks import finished_record
from tests.search_workers.engines.test_referee import FLIPPED, finished
from tests.search_workers.test_tasks import SHAS, payload
from arena.settings import Settings
from tests.arena.api.conftest import api_dir, auth, client, token  # noqa: F401 -- the API's fixtures
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.arena_cli import arena_settings, invoke_arena

# (result, score, strict Tromp-Taylor score, disagrees) of the tournament's four games, in order.
GAMES = [
    ("B+1.5", 1.5, -7.5, True),  # the referee removed dead stones and the winner changed
    ("W+16.5", -16.5, -7.5, False),  # a larger margin, the same winner
    ("W+7.5", -7.5, -7.5, None),  # no referee: strict Tromp-Taylor only, no second opinion
    ("B+R", None, None, None),  # resigned: not ended by passes
]


def record(game_id: int, result: str, score: float | None, strict: float | None,
           disagrees: bool | None) -> FinishedGameRecord:
    return FinishedGameRecord(
        scheduled_game_id=game_id, result=result, score=score, move_count=0, duration_s=1.0,
        sgf=f"(;GM[1]FF[4]SZ[9]RE[{result}])", move_stats=[], worker="test", software_version="test",
        provenance={"scoring": "test"}, score_tromp_taylor=strict, scoring_disagrees=disagrees)


@pytest.fixture(scope="module")
def settings(db_url: str, api_dir) -> Settings:  # noqa: F811 -- two engines: players are global, one name each
    engines = api_dir / "engines.toml"
    engines.write_text('[[engine]]\nname = "gnugo-l1"\npreset = "gnugo"\nlevel = 1\n\n'
                       '[[engine]]\nname = "gnugo-l2"\npreset = "gnugo"\nlevel = 2\n')
    return Settings(database_url=db_url, data_dir=api_dir / "data", checkpoint_dir=api_dir / "checkpoints",
                    engines_file=engines)


@pytest.fixture(scope="module")
def games(client, auth, engine, db_url) -> list[int]:  # noqa: F811
    config = {"name": "scored", "format": "round-robin", "board_size": 9, "games_per_pairing": 4,
              "participants": [{"name": "a", "kind": "engine", "ref": "gnugo-l1"},
                               {"name": "b", "kind": "engine", "ref": "gnugo-l2"}]}
    response = client.post("/tournaments", json=config, headers=auth)
    assert response.status_code == 201, response.text
    with session_scope(engine) as session:
        ids = session.scalars(select(ScheduledGame.id).order_by(ScheduledGame.id)).all()
    assert len(ids) == len(GAMES)
    sink = DatabaseSink(db_url)  # the worker's path: FinishedGameRecord -> record_finished_game
    try:
        for game_id, game in zip(ids, GAMES, strict=True):
            assert sink.record(record(game_id, *game))
        assert not sink.record(record(ids[0], *GAMES[0]))  # an identical rewrite changes nothing
    finally:
        sink.db_engine.dispose()
    return list(ids)


def test_both_scores_and_the_flag_are_stored_and_shown(client, games) -> None:
    for game_id, (result, score, strict, disagrees) in zip(games, GAMES, strict=True):
        detail = client.get(f"/games/{game_id}").json()
        assert detail["summary"]["result"] == result
        assert (detail["score"], detail["score_tromp_taylor"], detail["scoring_disagrees"]) == \
            (score, strict, disagrees)


def test_the_tournament_reports_its_disagreement_rate(client, games) -> None:
    scoring = client.get("/tournaments/scored").json()["progress"]["scoring"]
    # Three games ended by passes, two of them refereed, one of those overturned.
    assert scoring == {"pass_ended": 3, "refereed": 2, "disagreements": 1, "rate": 0.5}


def test_a_second_opinion_must_fit_the_stored_game(engine, games) -> None:  # noqa: F811
    first = dict(scheduled_game_id=games[0], result="B+1.5", score=1.5, move_count=0, duration_s=1.0,
                 sgf="(;GM[1]FF[4]SZ[9]RE[B+1.5])", worker="test", software_version="test",
                 model_versions={"scoring": "test"})
    with session_scope(engine) as session:
        with pytest.raises(ConflictingResultError, match="score_tromp_taylor"):
            record_finished_game(session, **first, score_tromp_taylor=-9.5, scoring_disagrees=True)
        # A flag that does not follow from the two scores, or one without a strict score.
        with pytest.raises(StorageError, match="contradicts scores"):
            record_finished_game(session, **first, score_tromp_taylor=-7.5, scoring_disagrees=False)
        with pytest.raises(StorageError, match="needs score_tromp_taylor"):
            record_finished_game(session, **first, scoring_disagrees=True)
        with pytest.raises(StorageError, match="needs a finite score"):
            record_finished_game(session, **{**first, "result": "B+R", "score": None, "sgf": "(;RE[B+R])"},
                                 score_tromp_taylor=-7.5)


def test_cli_status_shows_the_rate(monkeypatch, db_url, api_dir, games) -> None:  # noqa: F811
    with arena_settings(monkeypatch, database_url=db_url, data_dir=api_dir / "data"):
        text = invoke_arena("tournament", "status", "scored")
        as_json = invoke_arena("tournament", "status", "scored", "--json")
    assert text.exit_code == 0, text.output
    assert ("scoring: 3 games ended by passes, 2 settled by a referee, 1 disagree with strict Tromp-Taylor "
            "(50.0%)") in text.output
    assert json.loads(as_json.output)["scoring"]["rate"] == 0.5


def test_the_worker_carries_both_scores_into_its_record() -> None:
    """match.GameOutcome (filled from the referee's Settlement) -> tasks.finished_record."""
    state = finished(FLIPPED)
    settlement = Settlement(result="B+1.5", score=1.5, method="referee:gnugo 3.8", score_tromp_taylor=state.score(),
                            refereed=True)
    outcome = GameOutcome(black="new@4v", white="old@4v", final=state, key=11, result=settlement.result,
                          score=settlement.score, scoring=settlement.method,
                          score_tromp_taylor=settlement.score_tromp_taylor, scoring_disagrees=settlement.disagrees)
    stored = finished_record(outcome, BlockPayload.model_validate(payload(SHAS)), worker="w")
    assert (stored.result, stored.score, stored.score_tromp_taylor, stored.scoring_disagrees) == \
        ("B+1.5", 1.5, -7.5, True)
