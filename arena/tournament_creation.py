"""Creating a tournament from any face: the one create-and-dispatch every entry point calls.

    created = create_and_dispatch(session, config, context, token_id=token.id, sgf_roots=roots)

The HTTP router, gRPC ScheduleTournament, `arena tournament create`, the demo and automatic
enrolment all come here, so they share the refusals, the limits, the owner and the evaluator
factory (policy openings work from every one of them). The tournament is committed before its
first games are sent: it stands even when the broker is down (the scheduler sends them later),
and games are marked sent only when sending worked.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from arena.context import ArenaContext
from arena.db.models import Checkpoint, Tournament
from arena.scheduling import TournamentConfig, TournamentLimits
from arena.tournaments import TournamentError, create_tournament, dispatch
from models.checkpoint import CheckpointError

log = logging.getLogger(__name__)

__all__ = ["DISPATCH_FAILED", "Created", "create_and_dispatch", "create_in_transaction"]

# What a client reads when the first dispatch fails; the exception goes to the log only (it may
# name hosts, paths or credentials of the broker).
DISPATCH_FAILED = "sending the first games to the workers failed; the scheduler will send them later"


@dataclass(frozen=True)
class Created:
    """A stored tournament and what happened to its first games."""

    tournament_id: int
    name: str
    games_scheduled: int
    dispatched: int  # games sent to the workers now (the scheduler sends the rest, and retries)
    dispatch_error: str | None = None  # DISPATCH_FAILED, or None


def create_in_transaction(session: Session, config: TournamentConfig, context: ArenaContext, *,
                          token_id: int | None = None,
                          sgf_roots: Sequence[str | Path] | None = None) -> Tournament:
    """Check, plan and store the tournament in the caller's transaction (nothing committed, nothing
    sent): with the context's engines, limits and evaluator factory. `token_id`: its owner (None:
    the operator). `sgf_roots`: where an sgf `openings.directory` must lie (a network client's
    ARENA_IMPORT_DIRS; None: a trusted caller). Raises TournamentError (nothing stored)."""
    tournament = create_tournament(session, config, engines=context.engines,
                                   evaluator_for=lambda row, size: _evaluator(context, row, size),
                                   limits=TournamentLimits.from_settings(context.settings), sgf_roots=sgf_roots)
    tournament.created_by_token_id = token_id
    return tournament


def create_and_dispatch(session: Session, config: TournamentConfig, context: ArenaContext, *,
                        token_id: int | None = None, sgf_roots: Sequence[str | Path] | None = None,
                        send_now: bool = True) -> Created:
    """`create_in_transaction`, committed, then its first games sent; `session` must be one this
    function may commit (not inside `session.begin()`).

    A failed send is logged and reported (`Created.dispatch_error`); the tournament stands.
    `send_now=False`: nothing sent and nothing committed, the caller's transaction holds the
    tournament (the scheduler sends its games)."""
    tournament = create_in_transaction(session, config, context, token_id=token_id, sgf_roots=sgf_roots)
    created = Created(tournament_id=tournament.id, name=tournament.name,
                      games_scheduled=tournament.games_scheduled, dispatched=0)
    if not send_now:
        return created
    session.commit()
    try:
        sent = dispatch(session, created.tournament_id, send=context.send,
                        limits=TournamentLimits.from_settings(context.settings))
        session.commit()
    except Exception:  # noqa: BLE001 -- any broker failure: the tournament stands, the scheduler sends later
        session.rollback()
        log.exception("tournament %s: dispatch failed, left to the scheduler", created.tournament_id)
        return dataclasses.replace(created, dispatch_error=DISPATCH_FAILED)
    return dataclasses.replace(created, dispatched=sent)


def _evaluator(context: ArenaContext, checkpoint: Checkpoint, board_size: int):
    """The context's evaluator of `checkpoint`; a store that cannot give it is a TournamentError
    naming the checkpoint only (the details, which name server paths, go to the log)."""
    try:
        return context.evaluator_for(checkpoint, board_size)
    except (LookupError, CheckpointError, ValueError, OSError) as exc:
        log.warning("openings.checkpoint %s: %s", checkpoint.sha256[:12], exc)
        raise TournamentError(f"openings.checkpoint: the network of {checkpoint.name!r} cannot be loaded from "
                              f"this server's checkpoint store (see the server's log)") from None
