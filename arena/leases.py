"""Leases on scheduled games: who plays a game now, until when, and what happens when nobody does.

    claim(session, game_ids=ids, worker="host:7", lease_s=30)      # at block start: ids it may play
    extend(session, game_ids=held, worker="host:7", lease_s=30)    # heartbeat: the ids still its own
    give_back(session, game_ids=unplayed, worker="host:7")         # block ended early: resend at once
    reclaim(session, tournament_id=t, queue_timeout_s=300, max_attempts=3)   # scheduler, each pass

A game's life: dispatched (dispatched_at set, no lease: queued) -> claimed by a worker (lease
owner and expiry, attempts + 1) -> stored (a finished_games row), or its lease expires (the
worker died, hung or lost the database) and the scheduler's reclaim clears dispatched_at so the
next dispatch sends it again, in a smaller block. A game whose attempts reached the maximum is
marked failed instead: it keeps killing the workers that take it (a poison game), and it must not
be redelivered forever. Games sent and claimed by nobody within the queue timeout (a broker that
lost or never redelivers a message) are sent again the same way, without counting an attempt.

Every decision is one UPDATE guarded by its WHERE clause, so two claims of the same game, a claim
racing a reclaim, or two schedulers at once cannot both win: the row lock decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import Text, and_, case, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from arena.db.models import ScheduledGame, Tournament, Worker

# What a tournament's clients read about a failed game (a fixed sentence: the worker's own
# errors, hosts and paths stay in its log).
FAILED_REASON = ("its worker stopped (crashed, ran out of memory or lost its lease) on each of {attempts} "
                 "attempts to play it; given up so that it stops taking workers down")


def _seconds(value: float):
    return func.make_interval(0, 0, 0, 0, 0, 0, value)


def _not_stored():
    """Still to be stored: the column written with the finished row, in its transaction (a
    writer storing the game holds the row's lock, so a guarded UPDATE here waits for it and then
    sees the column), and the open-games index's predicate (migration 0010)."""
    return ScheduledGame.stored_at.is_(None)


def claim(session: Session, *, game_ids: Sequence[int], worker: str, lease_s: float) -> list[int]:
    """Lease to `worker` those of `game_ids` nobody else holds and that are still to play (not
    stored, not failed, tournament not cancelled); the ids leased, sorted. Each counts an attempt,
    except a game `worker` already holds (the same delivery claiming twice)."""
    if not game_ids:
        return []
    live_own = and_(ScheduledGame.lease_owner == worker, ScheduledGame.lease_expires_at > func.now())
    rows = session.execute(
        update(ScheduledGame)
        .where(ScheduledGame.id.in_(list(game_ids)), ScheduledGame.failed_at.is_(None), _not_stored(),
               ScheduledGame.tournament_id.in_(select(Tournament.id).where(Tournament.status != "cancelled")),
               or_(ScheduledGame.lease_owner.is_(None), ScheduledGame.lease_expires_at <= func.now(),
                   ScheduledGame.lease_owner == worker))
        .values(lease_owner=worker, lease_expires_at=func.now() + _seconds(lease_s),
                attempts=ScheduledGame.attempts + case((live_own, 0), else_=1),
                # A late delivery may claim a game the reclaim had just put back: it is in play
                # again, so the next dispatch must not send it a second time.
                dispatched_at=func.coalesce(ScheduledGame.dispatched_at, func.now()))
        .returning(ScheduledGame.id)
        .execution_options(synchronize_session=False))
    return sorted(rows.scalars())


def extend(session: Session, *, game_ids: Sequence[int], worker: str, lease_s: float) -> set[int]:
    """Push back the expiry of `worker`'s leases on `game_ids`; the ids it still holds (a game
    reclaimed meanwhile, now another worker's or failed, is not among them: abandon it)."""
    if not game_ids:
        return set()
    rows = session.execute(
        update(ScheduledGame)
        .where(ScheduledGame.id.in_(list(game_ids)), ScheduledGame.lease_owner == worker,
               ScheduledGame.failed_at.is_(None))
        .values(lease_expires_at=func.now() + _seconds(lease_s))
        .returning(ScheduledGame.id)
        .execution_options(synchronize_session=False))
    return set(rows.scalars())


def give_back(session: Session, *, game_ids: Sequence[int], worker: str) -> int:
    """Release `worker`'s leases on `game_ids` (unplayed: a stop, a store that failed) without
    counting the attempt; the next dispatch sends them again at once. The number released."""
    if not game_ids:
        return 0
    result = session.execute(
        update(ScheduledGame)
        .where(ScheduledGame.id.in_(list(game_ids)), ScheduledGame.lease_owner == worker,
               ScheduledGame.failed_at.is_(None), _not_stored())
        .values(lease_owner=None, lease_expires_at=None, dispatched_at=None,
                attempts=func.greatest(ScheduledGame.attempts - 1, 0))
        .execution_options(synchronize_session=False))
    return result.rowcount


@dataclass(frozen=True)
class LeasePolicy:
    """What the scheduler's reclaim and dispatch follow (the ARENA_* settings of the same names)."""

    queue_timeout_s: float = 300.0  # sent and claimed by nobody this long: sent again
    max_attempts: int = 3  # claims a game may take; its lease expiring at this many: failed
    max_queued_blocks: int = 64  # blocks of a tournament sent and not claimed, at most (0: no bound)

    @classmethod
    def from_settings(cls, settings) -> LeasePolicy:
        return cls(queue_timeout_s=settings.queue_timeout_s, max_attempts=settings.max_block_attempts,
                   max_queued_blocks=settings.max_queued_blocks)


@dataclass(frozen=True)
class Reclaimed:
    resent: int  # games put back for the next dispatch
    failed: int  # games marked failed (attempts used up)


def reclaim(session: Session, *, tournament_id: int | None = None, queue_timeout_s: float,
            max_attempts: int) -> Reclaimed:
    """Put back for dispatch the games of running tournaments (one, or all) whose lease expired or
    that were sent and claimed by nobody for `queue_timeout_s`; mark failed instead those whose
    lease expired with `max_attempts` attempts used. Finished and failed games are left alone."""
    expired = and_(ScheduledGame.lease_expires_at.is_not(None), ScheduledGame.lease_expires_at <= func.now())
    stale = and_(ScheduledGame.lease_owner.is_(None), ScheduledGame.dispatched_at.is_not(None),
                 ScheduledGame.dispatched_at <= func.now() - _seconds(queue_timeout_s))
    scope = [ScheduledGame.failed_at.is_(None), _not_stored(),
             ScheduledGame.tournament_id.in_(select(Tournament.id).where(Tournament.status == "running"))]
    if tournament_id is not None:
        scope.append(ScheduledGame.tournament_id == tournament_id)
    # Charge each expired lease to the worker that held it (its crash count) before clearing it.
    lost = (select(ScheduledGame.lease_owner.label("owner"), func.count().label("games"))
            .where(*scope, expired).group_by(ScheduledGame.lease_owner).subquery())
    session.execute(update(Worker).where(Worker.name == lost.c.owner)
                    .values(games_lost=Worker.games_lost + lost.c.games)
                    .execution_options(synchronize_session=False))
    failed = session.execute(
        update(ScheduledGame)
        .where(*scope, expired, ScheduledGame.attempts >= max_attempts)
        .values(failed_at=func.now(), lease_owner=None, lease_expires_at=None,
                failed_reason=func.replace(literal(FAILED_REASON, Text), "{attempts}",
                                           cast(ScheduledGame.attempts, Text)))
        .execution_options(synchronize_session=False)).rowcount
    resent = session.execute(
        update(ScheduledGame)
        .where(*scope, or_(expired, stale))
        .values(lease_owner=None, lease_expires_at=None, dispatched_at=None)
        .execution_options(synchronize_session=False)).rowcount
    return Reclaimed(resent=resent, failed=failed)


def failed_count(session: Session, tournament_id: int) -> int:
    """Games of the tournament given up on (and not stored after all by a late worker)."""
    return session.scalar(select(func.count()).select_from(ScheduledGame).where(
        ScheduledGame.tournament_id == tournament_id, ScheduledGame.failed_at.is_not(None), _not_stored()))


# ---------------------------------------------------------------------------------- workers


@dataclass(frozen=True)
class WorkerInfo:
    """What clients see of a worker: `worker-<id>`, never its host or pid (those are the
    operator's, in the `workers` table and the worker's log)."""

    worker: str  # "worker-<id>"
    started_at: datetime
    last_heartbeat_at: datetime
    alive: bool  # a heartbeat within the last lease, and not stopped
    blocks_in_hand: int
    games_in_hand: int
    games_stored: int
    games_lost: int  # games whose lease expired in its hands (crashes, hangs, lost database)
    stopped_at: datetime | None


def heartbeat(session: Session, *, name: str, hostname: str, pid: int, started_at: datetime,
              blocks_in_hand: int, games_in_hand: int, games_stored: int, stopped: bool = False) -> None:
    """Note that worker `name` is alive now and what it holds (its `workers` row, created if new)."""
    values = dict(hostname=hostname, pid=pid, started_at=started_at, last_heartbeat_at=func.now(),
                  blocks_in_hand=blocks_in_hand, games_in_hand=games_in_hand, games_stored=games_stored,
                  stopped_at=func.now() if stopped else None)
    session.execute(insert(Worker).values(name=name, **values)
                    .on_conflict_do_update(index_elements=["name"], set_=values))


def list_workers(session: Session, *, lease_s: float, limit: int = 200) -> list[WorkerInfo]:
    """Workers by most recent heartbeat first; `alive`: a heartbeat within `lease_s`, not stopped."""
    alive = and_(Worker.stopped_at.is_(None), Worker.last_heartbeat_at > func.now() - _seconds(lease_s))
    rows = session.execute(select(Worker, alive.label("alive"))
                           .order_by(Worker.last_heartbeat_at.desc(), Worker.id).limit(limit)).all()
    return [WorkerInfo(worker=f"worker-{w.id}", started_at=w.started_at,
                       last_heartbeat_at=w.last_heartbeat_at, alive=bool(live), blocks_in_hand=w.blocks_in_hand,
                       games_in_hand=w.games_in_hand, games_stored=w.games_stored, games_lost=w.games_lost,
                       stopped_at=w.stopped_at)
            for w, live in rows]
