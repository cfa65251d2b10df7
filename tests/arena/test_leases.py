"""Leases on a real PostgreSQL: claims are exclusive, lost games come back (expired leases, blocks
queued too long), hand-backs cost no attempt, poison games end failed and their tournament still
finishes, retried games go out in halved blocks, and the queue holds a bounded backlog; the scheduler's passes
and the throughput window read indexes sized by what they answer, not every stored game."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, update

from arena import leases
from arena.db.connection import session_scope
from arena.db.models import ScheduledGame, Tournament, Worker
from arena.db.repository import record_finished_game
from arena.db.throughput import throughput
from arena.scheduling import RoundRobinConfig
from arena.tournaments import advance, attempt_block_size, cancel, create_tournament, dispatch, failed_games, progress
from search_workers.engines.config import parse_engine_config
from search_workers.schemas import BlockPayload
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

ENGINES = parse_engine_config({"engine": [
    {"name": "gnugo-l1", "preset": "gnugo", "level": 1},
    {"name": "other", "command": ["/bin/true"]},
]})
SGF = "(;FF[4]GM[1]SZ[9]RE[B+R])"


def _tournament(engine, name: str, games: int) -> tuple[int, list[int]]:  # noqa: F811
    config = RoundRobinConfig(name=name, format="round-robin", board_size=9, rules="chinese",
                              games_per_pairing=games,
                              participants=[{"name": "g1", "kind": "engine", "ref": "gnugo-l1"},
                                            {"name": "o1", "kind": "engine", "ref": "other"}])
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines=ENGINES).id
    with session_scope(engine) as session:
        ids = list(session.scalars(select(ScheduledGame.id).where(ScheduledGame.tournament_id == tid)
                                   .order_by(ScheduledGame.id)))
    return tid, ids


def _send(engine, tid: int, **options) -> list[BlockPayload]:  # noqa: F811
    sent: list[dict] = []
    with session_scope(engine) as session:
        dispatch(session, tid, send=sent.append, **options)
    return [BlockPayload.model_validate(p) for p in sent]


def _games(engine, ids: list[int]) -> dict[int, ScheduledGame]:  # noqa: F811
    with session_scope(engine) as session:
        rows = list(session.scalars(select(ScheduledGame).where(ScheduledGame.id.in_(ids))))
        session.expunge_all()
        return {g.id: g for g in rows}


def _claim(engine, ids, worker: str, lease_s: float = 30.0) -> list[int]:  # noqa: F811
    with session_scope(engine) as session:
        return leases.claim(session, game_ids=ids, worker=worker, lease_s=lease_s)


def _reclaim(engine, tid: int, *, queue_timeout_s: float = 300.0, max_attempts: int = 3) -> leases.Reclaimed:  # noqa: F811
    with session_scope(engine) as session:
        return leases.reclaim(session, tournament_id=tid, queue_timeout_s=queue_timeout_s, max_attempts=max_attempts)


def _expire(engine, ids: list[int]) -> None:  # noqa: F811
    """Let these leases run out now (the worker holding them stopped extending them)."""
    with session_scope(engine) as session:
        session.execute(update(ScheduledGame).where(ScheduledGame.id.in_(ids))
                        .values(lease_expires_at=datetime(2000, 1, 1, tzinfo=UTC)))


def _store(engine, game_id: int) -> None:  # noqa: F811
    with session_scope(engine) as session:
        record_finished_game(session, scheduled_game_id=game_id, result="B+R", move_count=0, duration_s=1.0, sgf=SGF)


def test_a_block_is_claimed_by_one_worker_only(engine) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "claims", 4)
    _send(engine, tid)
    assert _claim(engine, ids, "host:1") == ids
    assert _claim(engine, ids, "host:2") == []  # a duplicate delivery plays nothing
    assert _claim(engine, ids, "host:1") == ids  # its own claim again: no extra attempt
    assert {g.attempts for g in _games(engine, ids).values()} == {1}
    with session_scope(engine) as session:
        assert leases.extend(session, game_ids=ids, worker="host:2", lease_s=30) == set()
        assert leases.extend(session, game_ids=ids, worker="host:1", lease_s=30) == set(ids)
    _store(engine, ids[0])
    _expire(engine, ids)
    assert _claim(engine, ids, "host:2") == ids[1:]  # a stored game is never claimed again


def test_an_expired_lease_is_reclaimed_and_sent_again_in_smaller_blocks(engine) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "expired", 4)
    assert [len(p.games) for p in _send(engine, tid, block_size=4)] == [4]
    with session_scope(engine) as session:
        leases.heartbeat(session, name="dead:1", hostname="dead", pid=1, started_at=datetime.now(UTC),
                         blocks_in_hand=1, games_in_hand=4, games_stored=0)
    assert _claim(engine, ids, "dead:1", lease_s=0.5) == ids
    assert _reclaim(engine, tid) == leases.Reclaimed(resent=0, failed=0)  # still held
    assert _send(engine, tid) == []
    time.sleep(0.7)  # the worker died: nobody extends its leases
    assert _reclaim(engine, tid) == leases.Reclaimed(resent=4, failed=0)
    assert all(g.dispatched_at is None and g.lease_owner is None for g in _games(engine, ids).values())
    with session_scope(engine) as session:  # charged to the worker that held them: its crash count
        assert session.scalar(select(Worker.games_lost).where(Worker.name == "dead:1")) == 4
    again = _send(engine, tid, block_size=4, max_attempts=3)
    assert sorted(len(p.games) for p in again) == [2, 2]  # halved after one attempt
    assert _claim(engine, ids, "live:2") == ids
    with session_scope(engine) as session:  # the dead worker, back from a pause, holds nothing
        assert leases.extend(session, game_ids=ids, worker="dead:1", lease_s=30) == set()


def test_games_queued_and_never_claimed_are_sent_again_after_the_queue_timeout(engine) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "queued", 2)
    assert sum(len(p.games) for p in _send(engine, tid)) == 2
    assert _reclaim(engine, tid, queue_timeout_s=60) == leases.Reclaimed(resent=0, failed=0)
    time.sleep(0.6)
    assert _reclaim(engine, tid, queue_timeout_s=0.5) == leases.Reclaimed(resent=2, failed=0)
    assert {g.attempts for g in _games(engine, ids).values()} == {0}  # never claimed: no attempt used
    assert [len(p.games) for p in _send(engine, tid, block_size=32)] == [2]


def test_giving_back_costs_no_attempt_and_resends_at_once(engine) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "given-back", 2)
    _send(engine, tid)
    assert _claim(engine, ids, "stopping:1") == ids
    with session_scope(engine) as session:
        assert leases.give_back(session, game_ids=ids, worker="other:9") == 0  # not its leases
        assert leases.give_back(session, game_ids=ids, worker="stopping:1") == 2
    assert all(g.attempts == 0 and g.dispatched_at is None and g.lease_owner is None
               for g in _games(engine, ids).values())
    assert sum(len(p.games) for p in _send(engine, tid)) == 2


def test_a_game_that_uses_its_attempts_fails_and_its_tournament_finishes(engine) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "poison", 2)  # two games: one plays, one kills every worker
    good, poison = ids
    _send(engine, tid)
    _store(engine, good)
    for attempt in range(1, 4):
        assert _claim(engine, [poison], f"victim:{attempt}") == [poison]
        _expire(engine, [poison])
        with session_scope(engine) as session:
            assert advance(session, tid) == "running"
        result = _reclaim(engine, tid, max_attempts=3)
        assert result == (leases.Reclaimed(resent=1, failed=0) if attempt < 3 else leases.Reclaimed(0, 1))
        if attempt < 3:
            payloads = _send(engine, tid, max_attempts=3)
            assert [len(p.games) for p in payloads] == [1]
    assert _claim(engine, [poison], "late:1") == []  # failed: never played again
    assert _send(engine, tid) == []
    with session_scope(engine) as session:
        assert advance(session, tid) == "finished"
        report = progress(session, tid)
        failed = failed_games(session, tid)
    assert (report.finished, report.failed, report.scheduled) == (1, 1, 2)
    assert [f.scheduled_game_id for f in failed] == [poison]
    assert "3 attempts" in failed[0].reason and failed[0].attempts == 3


def test_block_sizes_halve_per_attempt_and_are_single_games_on_the_last() -> None:
    assert [attempt_block_size(32, a, 3) for a in range(3)] == [32, 16, 1]
    assert [attempt_block_size(32, a, 5) for a in range(5)] == [32, 16, 8, 4, 1]
    assert attempt_block_size(32, 0, 1) == 32  # a first delivery is never cut
    assert attempt_block_size(3, 2, 5) == 1


def test_the_queue_holds_a_bounded_backlog(engine) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "backlog", 4)
    first = _send(engine, tid, block_size=2, max_queued_blocks=1)
    assert [len(p.games) for p in first] == [2]
    assert _send(engine, tid, block_size=2, max_queued_blocks=1) == []  # one block waits unclaimed
    _claim(engine, [g.scheduled_game_id for g in first[0].games], "w:1")
    assert [len(p.games) for p in _send(engine, tid, block_size=2, max_queued_blocks=1)] == [2]
    assert len(_send(engine, tid, block_size=2, max_queued_blocks=0)) == 0  # everything is out now


def test_a_cancelled_tournament_has_nothing_to_claim(engine) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "cancelled", 2)
    _send(engine, tid)
    with session_scope(engine) as session:
        cancel(session, tid)
    assert _claim(engine, ids, "w:1") == []


def _workers_by_name(session, lease_s: float) -> dict:
    """list_workers keyed by the operator's "host:pid" (clients see only `worker-<id>`)."""
    labels = {f"worker-{id_}": name for id_, name in session.execute(select(Worker.id, Worker.name))}
    return {labels[w.worker]: w for w in leases.list_workers(session, lease_s=lease_s)}


def test_heartbeats_make_a_worker_alive_until_they_stop(engine) -> None:  # noqa: F811
    started = datetime.now(UTC)
    with session_scope(engine) as session:
        leases.heartbeat(session, name="h:1", hostname="h", pid=1, started_at=started, blocks_in_hand=1,
                         games_in_hand=4, games_stored=0)
        leases.heartbeat(session, name="h:1", hostname="h", pid=1, started_at=started, blocks_in_hand=1,
                         games_in_hand=3, games_stored=1)
        leases.heartbeat(session, name="h:2", hostname="h", pid=2, started_at=started, blocks_in_hand=0,
                         games_in_hand=0, games_stored=5, stopped=True)
    with session_scope(engine) as session:
        workers = _workers_by_name(session, 30)
    assert workers["h:1"].alive and (workers["h:1"].games_in_hand, workers["h:1"].games_stored) == (3, 1)
    assert not workers["h:2"].alive and workers["h:2"].stopped_at is not None
    time.sleep(0.6)
    with session_scope(engine) as session:
        assert not _workers_by_name(session, 0.5)["h:1"].alive
    # What clients see names no host and no pid.
    assert not {"name", "hostname", "pid"} & set(vars(workers["h:1"]))


@pytest.mark.parametrize("status", ["running"])
def test_reclaim_leaves_other_tournaments_alone(engine, status: str) -> None:  # noqa: F811
    tid, ids = _tournament(engine, "mine", 2)
    other, other_ids = _tournament(engine, "theirs", 2)
    _send(engine, tid)
    _send(engine, other)
    _claim(engine, ids + other_ids, "w:1")
    _expire(engine, ids + other_ids)
    assert _reclaim(engine, tid).resent == len(ids)
    assert all(g.lease_owner == "w:1" for g in _games(engine, other_ids).values())
    with session_scope(engine) as session:
        assert session.get(Tournament, other).status == status


def test_blocks_lost_with_the_broker_queue_go_out_again_within_seconds(engine, tmp_path, monkeypatch) -> None:  # noqa: F811
    # A Redis restarted without persistence loses every queued block. The scheduler sees the
    # queue empty while games are sent and unclaimed, and sends them again after LOST_AFTER_S
    # rather than after the whole queue timeout; while blocks wait in the queue, nothing is resent.
    import redis

    from arena import scheduler
    from arena.db.connection import session_factory
    from arena.settings import Settings
    from arena.worker import make_celery, queued_blocks
    from tests.support.processes import private_redis_url

    url = private_redis_url()
    app = make_celery(Settings(broker_url=url, data_dir=tmp_path))
    sessions = session_factory(engine)
    policy = leases.LeasePolicy(queue_timeout_s=300)
    monkeypatch.setattr(scheduler, "LOST_AFTER_S", 0.5)
    tid, ids = _tournament(engine, "lost-queue", 8)

    scheduler.scheduler_pass(sessions, app, [tid], block_size=4, policy=policy)
    assert queued_blocks(app) == 2  # 8 games, blocks of 4
    time.sleep(0.7)
    scheduler.scheduler_pass(sessions, app, [tid], block_size=4, policy=policy)
    assert queued_blocks(app) == 2  # still waiting in the queue: not lost, not resent

    redis.Redis.from_url(url).flushdb()  # the broker restarts and forgets its queue
    assert queued_blocks(app) == 0
    scheduler.scheduler_pass(sessions, app, [tid], block_size=4, policy=policy)
    assert queued_blocks(app) == 2  # sent more than LOST_AFTER_S ago, unclaimed, queue empty: resent
    assert all(g.dispatched_at is not None and g.attempts == 0 for g in _games(engine, ids).values())


def _plans(engine, run) -> list[dict]:  # noqa: F811
    """The plans (EXPLAIN, sequential scans off: an index is used wherever one can be) of every
    statement `run()` sends to the database."""
    statements: list[tuple[str, object]] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    plans = []
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("SET enable_seqscan = off")
        for statement, parameters in statements:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plans.append(cursor.fetchone()[0][0]["Plan"])
        conn.rollback()
    return plans


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def test_scheduler_passes_read_open_games_only_never_the_stored_ones(engine) -> None:  # noqa: F811
    # A tournament's reclaim, dispatch and progress run every second while it runs: however many
    # games it has stored, they read the games still to play (stored_at, the open-games index)
    # and the tournament's own counters, never finished_games.
    tid, ids = _tournament(engine, "plans", 4)
    _send(engine, tid)
    for game_id in ids[:3]:
        _store(engine, game_id)

    def passes() -> None:
        with session_scope(engine) as session:
            leases.reclaim(session, tournament_id=tid, queue_timeout_s=300.0, max_attempts=3)
            dispatch(session, tid, send=lambda payload: None)
            progress(session, tid)
            failed_games(session, tid)

    plans = _plans(engine, passes)
    assert len(plans) >= 5
    relations = [(node["Node Type"], node.get("Relation Name"), node.get("Index Name")) for plan in plans
                 for node in _nodes(plan)]
    assert not [r for r in relations if r[1] == "finished_games"], relations
    assert not [r for r in relations if r[0] == "Seq Scan" and r[1] == "scheduled_games"], relations
    assert ("ix_scheduled_games_open" in {r[2] for r in relations}), relations


def test_the_throughput_window_reads_a_range_of_finish_times(engine) -> None:  # noqa: F811
    # GET /stats/throughput (the dashboard, every 10 s) reads the games of its window and the
    # newest finish time through ix_finished_games_finished_at, not every stored game.
    tid, ids = _tournament(engine, "window", 2)
    for game_id in ids:
        _store(engine, game_id)

    def window() -> None:
        with session_scope(engine) as session:
            throughput(session)

    relations = [(node["Node Type"], node.get("Relation Name"), node.get("Index Name"))
                 for plan in _plans(engine, window) for node in _nodes(plan)]
    scans = [r for r in relations if r[1] == "finished_games"]
    assert scans and all(r[2] == "ix_finished_games_finished_at" for r in scans), relations
