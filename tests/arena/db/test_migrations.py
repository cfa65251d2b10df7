"""Alembic migrations create the whole schema; upgrading again changes nothing; `arena db upgrade`;
migrations that move data keep it (0005, 0008, 0009, 0010)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from arena.cli import app
from arena.db import migrate
from arena.db.connection import session_scope
from arena.db.models import Base
from arena.db.rating_inputs import count_rated_game, rated_game_set
from arena.ratings import PairCounts
from arena.scheduling import parse_config


def test_upgrade_creates_every_table_and_is_a_noop_the_second_time(db_url, engine):
    # db_url is already migrated by the fixture.
    tables = set(sa.inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert migrate.current_revision(db_url) == migrate.head_revision()
    assert migrate.upgrade(db_url) == migrate.head_revision()
    assert set(sa.inspect(engine).get_table_names()) == tables


def test_migrated_schema_matches_the_models(db_url):
    # Autogenerate's diff between the models and the migrated database must be empty.
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    eng = sa.create_engine(db_url)
    try:
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        eng.dispose()
    assert diff == []


def test_cli_db_upgrade(db_url):
    result = CliRunner().invoke(app, ["db", "upgrade", "--url", db_url])
    assert result.exit_code == 0, result.output
    assert f"revision {migrate.head_revision()} (unchanged)" in result.output


@pytest.fixture
def empty_url(admin_url) -> Iterator[str]:
    """A new, empty database (no migration run yet), dropped afterwards."""
    name = f"arena_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_0005_keeps_every_checkpoint_when_names_become_unique(empty_url):
    # Checkpoints that shared a name before 0005 are all kept: the oldest keeps the name, the others
    # are renamed name~<sha256[:12]>; tokens made before scopes keep what they could do (submit).
    url = empty_url
    eng = sa.create_engine(url)
    try:
        migrate.upgrade(url, "0004")
        shas = [c * 64 for c in "abc"]
        with eng.begin() as conn:
            for i, sha in enumerate(shas):
                conn.execute(sa.text("INSERT INTO checkpoints (sha256, name, manifest, created_at) "
                                     "VALUES (:sha, 'net', '{}', now() + make_interval(secs => :i))"),
                             {"sha": sha, "i": i})
            conn.execute(sa.text("INSERT INTO api_tokens (name, token_sha256) VALUES ('old', :sha)"),
                         {"sha": "d" * 64})
        assert migrate.upgrade(url) == migrate.head_revision()
        with eng.connect() as conn:
            names = dict(conn.execute(sa.text("SELECT sha256, name FROM checkpoints")).all())
            scope = conn.execute(sa.text("SELECT scope FROM api_tokens WHERE name = 'old'")).scalar_one()
        assert names == {shas[0]: "net", shas[1]: f"net~{'b' * 12}", shas[2]: f"net~{'c' * 12}"}
        assert scope == "submit"
    finally:
        eng.dispose()


OLD_STATE = {"opening_book": ["", "C3 D4"], "referee": "gnugo",
             "verdict": {"verdict": "accept", "llr": 3.1, "lower": -2.9, "upper": 2.9, "pairs": [1, 2, 3, 4, 5]}}


def test_0008_moves_tournament_state_out_of_the_configuration_and_back(empty_url):
    # Before 0008 the opening book, referee and verdict were keys of `configuration`, beside every
    # format's parameters (null where they did not apply); after it, columns of their own, and the
    # configuration is what the user asked for, which today's models read back.
    url = empty_url
    asked = {"name": "t", "format": "sprt", "board_size": 9, "rules": "chinese", "komi": 7.5,
             "participants": [{"name": "a", "kind": "engine", "ref": "gnugo", "visits": None},
                              {"name": "b", "kind": "engine", "ref": "gnugo-l1", "visits": None}],
             "candidates": ["a"], "elo0": 0.0, "elo1": 10.0, "alpha": 0.05, "beta": 0.05, "max_games": 20,
             "batch_pairs": 8}
    nulls = {"games_per_pairing": None, "target_ci": None, "game_budget": None, "checkpoint": None, "visits": None}
    eng = sa.create_engine(url)
    try:
        migrate.upgrade(url, "0007")
        with eng.begin() as conn:
            insert = sa.text("INSERT INTO tournaments (name, format, configuration, status, games_scheduled, "
                             "games_finished) VALUES (:name, 'sprt', :conf, 'finished', 0, 0)")
            conn.execute(insert, {"name": "stateful", "conf": json.dumps({**asked, **nulls, **OLD_STATE})})
            conn.execute(insert, {"name": "bare", "conf": json.dumps(asked)})  # made by the repository alone
        migrate.upgrade(url, "0008")
        read = sa.text("SELECT name, configuration, opening_book, referee, verdict FROM tournaments ORDER BY name")
        with eng.connect() as conn:
            rows = {name: rest for name, *rest in conn.execute(read).all()}
        assert rows["stateful"] == [asked, OLD_STATE["opening_book"], "gnugo", OLD_STATE["verdict"]]
        assert rows["bare"] == [asked, None, None, None]
        assert parse_config(rows["stateful"][0]).baseline == "b"  # what the per-format models read

        command.downgrade(migrate.alembic_config(url), "0007")
        with eng.connect() as conn:
            restored = dict(conn.execute(sa.text("SELECT name, configuration FROM tournaments")).all())
        assert restored["stateful"] == {**asked, **OLD_STATE}
        assert restored["bare"] == {**asked, "referee": None}
    finally:
        eng.dispose()


def _tournament_of_two(conn, *, status: str, scheduled: int, finished: int) -> tuple[int, list[int]]:
    """A tournament 'old' and two engine players 'a' and 'b', written as SQL (the schema of an
    older revision): (tournament id, [a's id, b's id])."""
    t = conn.execute(sa.text("INSERT INTO tournaments (name, format, configuration, status, games_scheduled, "
                             "games_finished) VALUES ('old', 'round-robin', '{}', :s, :g, :f) RETURNING id"),
                     {"s": status, "g": scheduled, "f": finished}).scalar_one()
    engine_ids = [conn.execute(sa.text("INSERT INTO engines (name, version) VALUES (:n, '1') RETURNING id"),
                               {"n": n}).scalar_one() for n in ("a", "b")]
    players = [conn.execute(sa.text("INSERT INTO players (name, engine_id, search_settings) "
                                    "VALUES (:n, :e, '{}') RETURNING id"), {"n": n, "e": e}).scalar_one()
               for n, e in zip(("a", "b"), engine_ids, strict=True)]
    return t, players


def test_0009_copies_game_identity_and_counts_rating_pairs_as_the_writers_do(empty_url):
    # Games stored before 0009 get their tournament and players copied onto finished_games, and
    # rating_pairs backfilled: the same counts and hash as the repository keeps game by game.
    url = empty_url
    eng = sa.create_engine(url)
    try:
        migrate.upgrade(url, "0008")
        with eng.begin() as conn:
            t, players = _tournament_of_two(conn, status="finished", scheduled=6, finished=6)
            results = ["B+R", "W+R", "0", "Void", "B+2.5", "B+R"]
            for k, result in enumerate(results):
                black, white = (players if k % 2 == 0 else players[::-1])
                gid = conn.execute(sa.text(
                    "INSERT INTO scheduled_games (tournament_id, pairing, game_index, black_player_id, "
                    "white_player_id, seed) VALUES (:t, 'a-b', :k, :b, :w, :k) RETURNING id"),
                    {"t": t, "k": k, "b": black, "w": white}).scalar_one()
                conn.execute(sa.text(
                    "INSERT INTO finished_games (scheduled_game_id, result, score, move_count, duration_s, sgf, "
                    "move_stats, worker, software_version, model_versions) VALUES "
                    "(:g, :r, :s, 0, 0, '(;)', '[]', '', '', '{}')"),
                    {"g": gid, "r": result, "s": 2.5 if result == "B+2.5" else 0.0 if result == "0" else None})
        migrate.upgrade(url)
        with eng.connect() as conn:
            copied = conn.execute(sa.text(
                "SELECT count(*) FROM finished_games f JOIN scheduled_games s ON s.id = f.scheduled_game_id "
                "WHERE f.tournament_id = s.tournament_id AND f.black_player_id = s.black_player_id "
                "AND f.white_player_id = s.white_player_id")).scalar_one()
        assert copied == len(results)
        with session_scope(eng) as s:
            backfilled = rated_game_set(s, t)
            s.execute(sa.text("DELETE FROM rating_pairs"))
            ids = s.execute(sa.text("SELECT scheduled_game_id, black_player_id, white_player_id, result "
                                    "FROM finished_games ORDER BY 1")).all()
            for gid, black, white, result in ids:
                count_rated_game(s, game_id=gid, tournament_id=t, black_id=black, white_id=white, result=result)
            assert rated_game_set(s, t) == backfilled
        assert backfilled.games == 5  # the Void game is not rated
        assert backfilled.counts[("a", "b")] == PairCounts("a", "b", wins_black=2, draws=1)
        assert backfilled.counts[("b", "a")] == PairCounts("b", "a", wins_black=1, wins_white=1)
        command.downgrade(migrate.alembic_config(url), "0008")
        with eng.connect() as conn:
            assert "rating_pairs" not in sa.inspect(conn).get_table_names()
    finally:
        eng.dispose()


def test_0010_marks_stored_games_and_backfills_tournament_progress(empty_url):
    # Games stored before 0010 get their scheduled game's stored_at (their finish time) and their
    # tournament's progress counters; games still to play, or failed, stay unmarked.
    url = empty_url
    eng = sa.create_engine(url)
    try:
        migrate.upgrade(url, "0009")
        with eng.begin() as conn:
            t, (a, b) = _tournament_of_two(conn, status="running", scheduled=5, finished=3)
            ids = [conn.execute(sa.text(
                "INSERT INTO scheduled_games (tournament_id, pairing, game_index, black_player_id, white_player_id, "
                "seed, failed_at) VALUES (:t, 'a-b', :k, :a, :b, :k, CASE WHEN :k = 4 THEN now() END) RETURNING id"),
                {"t": t, "k": k, "a": a, "b": b}).scalar_one() for k in range(5)]
            stored = [("B+F", None, None, None, "2026-01-02 12:00+00"),
                      ("W+2.5", -2.5, 1.5, True, "2026-01-01 12:00+00"),
                      ("B+R", None, None, None, "2026-01-03 12:00+00")]
            for gid, (result, score, tromp_taylor, disagrees, day) in zip(ids, stored):
                conn.execute(sa.text(
                    "INSERT INTO finished_games (scheduled_game_id, tournament_id, black_player_id, white_player_id, "
                    "result, score, score_tromp_taylor, scoring_disagrees, move_count, duration_s, sgf, move_stats, "
                    "worker, software_version, model_versions, finished_at) VALUES (:g, :t, :a, :b, :r, :s, :tt, :d, "
                    "0, 0, '(;)', '[]', '', '', '{}', CAST(:day AS timestamptz))"),
                    {"g": gid, "t": t, "a": a, "b": b, "r": result, "s": score, "tt": tromp_taylor, "d": disagrees,
                     "day": day})
        migrate.upgrade(url)
        with eng.connect() as conn:
            marks = dict(conn.execute(sa.text("SELECT id, stored_at IS NOT NULL FROM scheduled_games")).all())
            assert marks == {ids[0]: True, ids[1]: True, ids[2]: True, ids[3]: False, ids[4]: False}
            marked_at_finish = conn.execute(sa.text(
                "SELECT count(*) FROM scheduled_games s JOIN finished_games f ON f.scheduled_game_id = s.id "
                "WHERE s.stored_at = f.finished_at")).scalar()
            assert marked_at_finish == 3
            row = conn.execute(sa.text(
                "SELECT to_char(first_finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), "
                "to_char(last_finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), games_forfeited, games_pass_ended, "
                "games_refereed, games_disagreed FROM tournaments WHERE id = :t"), {"t": t}).one()
            assert tuple(row) == ("2026-01-01", "2026-01-03", 1, 1, 1, 1)
        command.downgrade(migrate.alembic_config(url), "0009")
        with eng.connect() as conn:
            assert "stored_at" not in {c["name"] for c in sa.inspect(conn).get_columns("scheduled_games")}
            assert "games_forfeited" not in {c["name"] for c in sa.inspect(conn).get_columns("tournaments")}
    finally:
        eng.dispose()


def test_0011_counts_complete_pairs_as_the_writers_do(empty_url):
    # SPRT pairs completed before 0011 are counted into pair_pentanomials by the rule the
    # repository keeps game by game (rating_inputs.count_pentanomial): both games stored, neither Void.
    url = empty_url
    eng = sa.create_engine(url)
    try:
        migrate.upgrade(url, "0010")
        with eng.begin() as conn:
            t, (a, b) = _tournament_of_two(conn, status="running", scheduled=7, finished=6)
            # a is Black in even games. Pair 0: a wins both (2); pair 1: a draws, then loses (1/2);
            # pair 2: one game Void (not counted); pair 3: its second game is still to play.
            results = ["B+R", "W+R", "0", "B+R", "Void", "W+R", "B+3.5", None]
            for k, result in enumerate(results):
                black, white = (a, b) if k % 2 == 0 else (b, a)
                gid = conn.execute(sa.text(
                    "INSERT INTO scheduled_games (tournament_id, pairing, game_index, black_player_id, "
                    "white_player_id, seed) VALUES (:t, 'a vs b', :k, :b, :w, :k) RETURNING id"),
                    {"t": t, "k": k, "b": black, "w": white}).scalar_one()
                if result is not None:
                    conn.execute(sa.text(
                        "INSERT INTO finished_games (scheduled_game_id, tournament_id, black_player_id, "
                        "white_player_id, result, move_count, duration_s, sgf, move_stats, worker, software_version, "
                        "model_versions) VALUES (:g, :t, :b, :w, :r, 0, 0, '(;)', '[]', '', '', '{}')"),
                        {"g": gid, "t": t, "b": black, "w": white, "r": result})
        migrate.upgrade(url)
        with eng.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT tournament_id, pairing, first_player_id, scored_0, scored_half, scored_1, scored_1_half, "
                "scored_2 FROM pair_pentanomials")).all()
            assert [tuple(r) for r in rows] == [(t, "a vs b", a, 0, 1, 0, 0, 1)]
        with session_scope(eng) as session:
            from arena.db.rating_inputs import pentanomials

            assert pentanomials(session, t) == {"a vs b": ("a", (0, 1, 0, 0, 1))}
        command.downgrade(migrate.alembic_config(url), "0010")
        with eng.connect() as conn:
            assert "pair_pentanomials" not in sa.inspect(conn).get_table_names()
    finally:
        eng.dispose()


def test_two_upgrades_at_once_both_succeed(empty_url, tmp_path):
    """`arena db upgrade` runs in every container or pod that starts (an init container per API
    replica is common): two at once on a new database must both end at head, the second waiting
    for the first, not failing on the tables the first created."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "arena.cli", "db", "upgrade", "--url", empty_url]
    logs = [tmp_path / f"upgrade{i}.log" for i in range(2)]
    processes = [subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT) for log in logs]
    codes = [process.wait(300) for process in processes]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert migrate.current_revision(empty_url) == migrate.head_revision()
