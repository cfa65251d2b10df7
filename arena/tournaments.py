"""The tournament service: from a validated configuration to stored games, and on to a finish.

    tournament = create_tournament(session, config, engines=specs)   # checks, plans, stores
    dispatch(session, tournament.id, send=send)                       # blocks to the workers
    advance(session, tournament.id)                                  # next batch / finished
    progress(session, tournament.id)                                 # for status and ETA

Everything a tournament can get wrong is checked before anything is stored: this server's
limits (games, players, visits, worker memory: arena.scheduling.limits, before any planning),
unknown checkpoints or engines, a board size one of them cannot play, impossible visit counts,
fewer than two players (`TournamentError` names the problem). The plan (arena.scheduling) fixes each
game's identity, colours, opening and seed before play; workers only fill in results.

The scheduler is stateless: everything it needs is in the database, so any number of
`advance`/`dispatch` calls, from any process, after any crash, converge on the same tournament.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from arena import leases
from arena.db import checkpoint_queries, lookup, tournament_queries
from arena.db.models import Checkpoint, EngineRecord, Player, ScheduledGame, Tournament
from arena.db.rating_inputs import pentanomials, rated_game_set
from arena.db.repository import GameSpec, StorageError, get_or_create_player, schedule_games
from arena.scheduling import (
    FinishedGames,
    ParticipantSpec,
    PlannedGame,
    SchedulingError,
    TournamentConfig,
    TournamentLimits,
    check_limits,
    check_references,
    decision,
    format_opening,
    next_games,
    opening_book,
    parse_config,
    parse_opening,
    split_blocks,
    with_game_cap,
)
from arena.scheduling.conditions import condition_key
from arena.scheduling.plan import pairing_players
from arena.settings import get_settings
from search_workers.schemas import BlockPayload, CheckpointPlayer, EnginePlayer, GameOrder, SearchSettings

DEFAULT_BLOCK_SIZE = 32
REFEREE_ENGINE = "gnugo"  # the referee used when one of the configured engines has this name


class TournamentError(ValueError):
    """A tournament that cannot be scheduled or run; the message names the problem."""


# ---------------------------------------------------------------------------------- lookups


def find_checkpoint(session: Session, ref: str) -> Checkpoint:
    """The registered checkpoint `ref` (a name, a sha256 or a unique prefix of one)."""
    try:
        return checkpoint_queries.find_checkpoint(session, ref)
    except lookup.LookupFailedError as exc:
        raise TournamentError(f"{exc} (arena checkpoint register PATH)") from None


def _engine_record(session: Session, name: str, spec: Any) -> EngineRecord:
    # The version an engine reports is stored with every game; the record names the configuration.
    version = f"configured:{getattr(spec, 'preset', None) or 'command'}"
    record = session.scalars(select(EngineRecord).where(EngineRecord.name == name,
                                                        EngineRecord.version == version)).first()
    if record is None:
        record = EngineRecord(name=name, version=version)
        session.add(record)
        session.flush()
    return record


# ---------------------------------------------------------------------------------- creating


def _engine_sizes(engines: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(spec.playable_sizes) for name, spec in engines.items()}


def create_tournament(session: Session, config: TournamentConfig, *, engines: Mapping[str, Any],
                      evaluator_for: Callable[[Checkpoint, int], Any] | None = None,
                      referee: str | None = None, limits: TournamentLimits | None = None,
                      sgf_roots: Sequence[str | Path] | None = None) -> Tournament:
    """Check `config` against what is registered, store its players, plan and store its first games.

    `engines`: the server's engine configuration (name -> EngineSpec). `evaluator_for(checkpoint,
    board_size)` is needed only for policy openings. `referee`: an engine that settles dead
    stones after passes (default: GNU Go when configured, else strict Tromp-Taylor). `limits`:
    this server's (default: from the process's settings), checked before anything else.
    `sgf_roots`: the folders an sgf `openings.directory` must lie under (ARENA_IMPORT_DIRS for a
    network client); None: a trusted caller (the CLI, enrolment), any folder.
    """
    limits = limits or TournamentLimits.from_settings(get_settings())
    try:
        check_limits(config, limits)
    except SchedulingError as exc:
        raise TournamentError(str(exc)) from None
    config = with_game_cap(config, limits)
    if session.scalar(select(Tournament.id).where(Tournament.name == config.name)) is not None:
        raise TournamentError(f"a tournament named {config.name!r} already exists")
    roster = config.players()
    checkpoints = {}
    for ref in {p.ref for p in roster if p.kind == "checkpoint"} | (
            {config.openings.checkpoint} if config.openings.checkpoint else set()):
        checkpoints[ref] = find_checkpoint(session, ref)
    sizes = {ref: tuple(c.manifest.get("board_sizes", ())) for ref, c in checkpoints.items()}
    try:
        check_references(config, checkpoint_sizes=sizes, engine_sizes=_engine_sizes(engines))
    except SchedulingError as exc:
        raise TournamentError(str(exc)) from None
    if referee is None and REFEREE_ENGINE in engines:
        referee = REFEREE_ENGINE
    if referee is not None and referee not in engines:
        raise TournamentError(f"referee: no engine named {referee!r} is configured")
    evaluator = None
    if config.openings.source == "policy":
        if evaluator_for is None:
            raise TournamentError("openings: policy openings need a network evaluator")
        evaluator = evaluator_for(checkpoints[config.openings.checkpoint], config.board_size)
    try:
        book = opening_book(config.openings, board_size=config.board_size, rules=config.game_rules(),
                            evaluator=evaluator, sgf_roots=sgf_roots)
    except (SchedulingError, ValueError, OSError) as exc:
        raise TournamentError(f"openings: {exc}") from None
    # Every game of a tournament shares its board, rules and komi: one rating pool.
    tournament = Tournament(name=config.name, format=config.format, configuration=config.model_dump(mode="json"),
                            opening_book=[format_opening(o, config.board_size) for o in book], referee=referee,
                            status="running", games_scheduled=0, games_finished=0,
                            condition=condition_key(board_size=config.board_size, rules=config.rules, komi=config.komi))
    _check_distinct_players(config, roster, checkpoints)
    session.add(tournament)
    session.flush()
    try:
        _store_players(session, config, roster, checkpoints, engines)
    except StorageError as exc:  # the transaction rolls back: nothing of the tournament is kept
        raise TournamentError(f"{exc}: players are global, give the same checkpoint and settings the "
                              f"name they already have") from None
    _schedule(session, tournament, next_games(config, [], {}, book))
    return tournament


def _check_distinct_players(config: TournamentConfig, roster, checkpoints) -> None:
    """Refuse two participants that are one player: a player is its checkpoint and search settings
    (or its engine), so two names for one identity would collide when stored."""
    seen: dict[tuple, ParticipantSpec] = {}
    for participant in roster:
        if participant.kind == "checkpoint":
            identity = ("checkpoint", checkpoints[participant.ref].id,
                        tuple(sorted(_search_settings(config, participant.visits).model_dump().items())))
        else:
            identity = ("engine", participant.ref)
        first = seen.setdefault(identity, participant)
        if first is not participant:
            what, fix = ((f"checkpoint {checkpoints[participant.ref].name!r} at {participant.visits} visits",
                          "give them different visits or keep one") if participant.kind == "checkpoint"
                         else (f"engine {participant.ref!r}", "keep one"))
            raise TournamentError(f"participants {first.name!r} (ref {first.ref!r}) and {participant.name!r} "
                                  f"(ref {participant.ref!r}) are the same player, {what}: {fix}")


def _store_players(session: Session, config: TournamentConfig, roster, checkpoints, engines) -> None:
    for participant in roster:
        if participant.kind == "checkpoint":
            settings = _search_settings(config, participant.visits)
            get_or_create_player(session, name=participant.name, checkpoint_id=checkpoints[participant.ref].id,
                                 search_settings=settings.model_dump())
        else:
            record = _engine_record(session, participant.ref, engines[participant.ref])
            get_or_create_player(session, name=participant.name, engine_id=record.id,
                                 search_settings={"engine": participant.ref})


def _search_settings(config: TournamentConfig, visits: int | None) -> SearchSettings:
    return SearchSettings(visits=visits, **config.resign.search_fields())


def _schedule(session: Session, tournament: Tournament, planned: list[PlannedGame]) -> int:
    if not planned:
        return 0
    config = stored_config(tournament)
    ids = {name: pid for name, pid in session.execute(select(Player.name, Player.id).where(
        Player.name.in_({g.black for g in planned} | {g.white for g in planned})))}
    specs = [GameSpec(pairing=g.pairing, game_index=g.game_index, black_player_id=ids[g.black],
                      white_player_id=ids[g.white], seed=g.seed, opening=format_opening(g.opening, config.board_size))
             for g in planned]
    schedule_games(session, tournament_id=tournament.id, games=specs)
    return len(specs)


def stored_config(tournament: Tournament) -> TournamentConfig:
    return parse_config(tournament.configuration)


# ---------------------------------------------------------------------------------- running


def _finished(session: Session, tournament_id: int) -> FinishedGames:
    """The tournament's finished games as the dynamic formats read them (arena.scheduling.finished):
    rows kept as games are stored (arena.db.rating_inputs), one per ordered pair and one per
    pairing, whatever the number of games. Paired up game by game in Python, this was 1.8-2.7 s
    per batch at 200,000 games; in one SQL aggregate, 0.8 s."""
    rated = rated_game_set(session, tournament_id)
    by_first = {}
    for pairing, (player, counts) in pentanomials(session, tournament_id).items():
        # As the pairing's first name scored (FinishedGames' convention).
        by_first[pairing] = counts if player == pairing_players(pairing)[0] else counts[::-1]
    return FinishedGames(games=rated.games, pair_counts=rated.counts, pentanomials=dict(sorted(by_first.items())))


def _scheduled(session: Session, tournament_id: int) -> dict[str, int]:
    """Games scheduled per pairing."""
    return dict(session.execute(select(ScheduledGame.pairing, func.count())
                                .where(ScheduledGame.tournament_id == tournament_id)
                                .group_by(ScheduledGame.pairing)).all())


def advance(session: Session, tournament_id: int) -> str:
    """Schedule the next games of a dynamic format when the last batch is done, or finish.

    Returns the tournament's status afterwards. Static formats finish when every game is stored.
    """
    tournament = session.get(Tournament, tournament_id, with_for_update=True)
    if tournament is None:
        raise TournamentError(f"tournament {tournament_id} does not exist")
    if tournament.status != "running":
        return tournament.status
    # The progress counters are kept in the same transactions as the games (schedule_games,
    # record_finished_game): games still in play are known without reading them.
    if tournament.games_finished < tournament.games_scheduled and (
            tournament.games_finished + leases.failed_count(session, tournament_id) < tournament.games_scheduled):
        return tournament.status  # failed games (arena.leases) are done too: they will not be played
    config = stored_config(tournament)
    played = _finished(session, tournament_id)
    scheduled = _scheduled(session, tournament_id)
    stored_book = tournament.opening_book if tournament.opening_book is not None else [""]  # None: the empty board
    book = [parse_opening(text, config.board_size) for text in stored_book]
    more = next_games(config, played, scheduled, book)
    if more:
        _schedule(session, tournament, more)
        return tournament.status
    tournament.status = "finished"
    if config.format == "sprt":
        verdict = decision(config, played, scheduled=sum(scheduled.values()))
        tournament.verdict = {"verdict": verdict.verdict, "llr": verdict.llr, "lower": verdict.lower,
                              "upper": verdict.upper, "pairs": verdict.pairs}
    return tournament.status


def block_payloads(session: Session, tournament: Tournament, games: list[ScheduledGame], *,
                   block_size: int = DEFAULT_BLOCK_SIZE, limits: TournamentLimits | None = None) -> list[dict]:
    """The payloads that play `games`, at most `block_size` games each and within the worker's
    search memory (`limits`, default: this process's settings; see arena.scheduling.split_blocks),
    grouped by pairing so that each block has few players (bigger batches per network)."""
    config = stored_config(tournament)
    limits = limits or TournamentLimits.from_settings(get_settings())
    games = sorted(games, key=lambda g: (g.pairing, g.game_index))
    players = {p.id: p for p in session.scalars(select(Player).where(Player.id.in_(
        {g.black_player_id for g in games} | {g.white_player_id for g in games})))}
    specs = {pid: _player_spec(player) for pid, player in players.items()}
    search_bytes = {pid: config.search_bytes([spec.search.visits], 1) for pid, spec in specs.items()
                    if isinstance(spec, CheckpointPlayer)}
    payloads = []
    for block in split_blocks(games, players_of=lambda g: (g.black_player_id, g.white_player_id),
                              search_bytes=search_bytes, block_size=block_size,
                              memory_bytes=limits.worker_memory_bytes):
        used = {g.black_player_id for g in block} | {g.white_player_id for g in block}
        orders = [GameOrder(scheduled_game_id=g.id, black=players[g.black_player_id].name,
                            white=players[g.white_player_id].name, seed=g.seed,
                            opening=list(parse_opening(g.opening, config.board_size))) for g in block]
        payload = BlockPayload(tournament_id=tournament.id, **config.game_settings(),
                               referee=tournament.referee,
                               players=[specs[pid] for pid in sorted(used)], games=orders)
        payloads.append(payload.model_dump(mode="json"))
    return payloads


def _player_spec(player: Player) -> CheckpointPlayer | EnginePlayer:
    if player.checkpoint_id is not None:
        return CheckpointPlayer(name=player.name, sha256=player.checkpoint.sha256,
                                search=SearchSettings.model_validate(player.search_settings))
    return EnginePlayer(name=player.name, engine=player.search_settings["engine"])


def attempt_block_size(block_size: int, attempts: int, max_attempts: int) -> int:
    """Games per block for games that already had `attempts` deliveries: halved per attempt, and
    single games on the last one, so that a game that kills its worker (arena.leases) takes fewer
    good games down with it each time and none on its last attempt."""
    if attempts <= 0:
        return block_size
    if attempts >= max_attempts - 1:
        return 1
    return max(1, block_size >> attempts)


def dispatch(session: Session, tournament_id: int, *, send: Callable[[dict], None],
             block_size: int = DEFAULT_BLOCK_SIZE, max_attempts: int | None = None,
             max_queued_blocks: int | None = None, limits: TournamentLimits | None = None) -> int:
    """Send the tournament's unsent games to the workers, in blocks sized by `block_payloads`
    (smaller for games sent before, see `attempt_block_size`). Returns the number of games sent.

    At most `max_queued_blocks` blocks' worth of the tournament's games wait in the queue
    unclaimed (default: ARENA_MAX_QUEUED_BLOCKS; 0: no bound): the rest wait here, in the
    database, so a backlog is never sent twice by a queue timeout. Games that were sent and lost
    come back unsent through `arena.leases.reclaim`.

    Games are marked sent in the same transaction; if sending fails the marks roll back with it.
    A game sent twice is harmless: only one delivery can claim it (arena.leases.claim).
    """
    settings = get_settings()
    max_attempts = settings.max_block_attempts if max_attempts is None else max_attempts
    max_queued_blocks = settings.max_queued_blocks if max_queued_blocks is None else max_queued_blocks
    tournament = session.get(Tournament, tournament_id)
    if tournament is None:
        raise TournamentError(f"tournament {tournament_id} does not exist")
    if tournament.status != "running":
        return 0
    # The open games' partial index (0010): what is still to play, not every game ever stored.
    to_play = (ScheduledGame.tournament_id == tournament_id, ScheduledGame.failed_at.is_(None),
               ScheduledGame.stored_at.is_(None))
    query = (select(ScheduledGame).where(*to_play, ScheduledGame.dispatched_at.is_(None))
             .order_by(ScheduledGame.id).with_for_update(skip_locked=True))
    if max_queued_blocks:
        queued = session.scalar(select(func.count()).select_from(ScheduledGame).where(
            *to_play, ScheduledGame.dispatched_at.is_not(None), ScheduledGame.lease_owner.is_(None)))
        room = max_queued_blocks * block_size - queued
        if room <= 0:
            return 0
        query = query.limit(room)
    games = list(session.scalars(query))
    if not games:
        return 0
    session.execute(update(ScheduledGame).where(ScheduledGame.id.in_([g.id for g in games]))
                    .values(dispatched_at=func.now()))
    by_size: dict[int, list[ScheduledGame]] = defaultdict(list)
    for game in games:
        by_size[attempt_block_size(block_size, game.attempts, max_attempts)].append(game)
    for size, group in sorted(by_size.items()):
        for payload in block_payloads(session, tournament, group, block_size=size, limits=limits):
            send(payload)
    return len(games)


def record_error(session: Session, tournament_id: int, message: str) -> None:
    """Note on the tournament why the scheduler failed it just now: `message` is read by its
    clients (Progress.error), so it is a fixed sentence, never an exception's text."""
    session.execute(update(Tournament).where(Tournament.id == tournament_id)
                    .values(last_error=message, last_error_at=func.now()))


def cancel(session: Session, tournament_id: int) -> None:
    """Stop scheduling a tournament; games already stored stay."""
    tournament = session.get(Tournament, tournament_id)
    if tournament is None:
        raise TournamentError(f"tournament {tournament_id} does not exist")
    if tournament.status in ("pending", "running"):
        tournament.status = "cancelled"


# ---------------------------------------------------------------------------------- progress


@dataclass(frozen=True)
class ScoringAgreement:
    """A tournament's games ended by passes, and how often the referee's settled score named
    another winner than strict Tromp-Taylor (a jigo against a win counts)."""

    pass_ended: int  # games ended by passes (strict Tromp-Taylor's score stored beside the result)
    refereed: int  # of those, settled by a referee's answer: the ones with a second opinion
    disagreements: int  # refereed games whose two scores name different winners
    rate: float | None  # disagreements / refereed; None before any refereed game


@dataclass(frozen=True)
class Progress:
    tournament_id: int
    name: str
    format: str
    status: str
    scheduled: int
    finished: int
    forfeits: int
    games_per_hour: float | None  # over the finished games so far
    eta_s: float | None  # for the games scheduled now (dynamic formats may schedule more)
    verdict: dict | None
    error: str | None = None  # why the scheduler last failed to advance or dispatch it (client-safe)
    error_at: datetime | None = None  # when
    failed: int = 0  # games given up on after ARENA_MAX_BLOCK_ATTEMPTS (see failed_games for why)
    scoring: ScoringAgreement | None = None  # how often the referee overturned strict Tromp-Taylor


def progress(session: Session, tournament_id: int) -> Progress:
    tournament = session.get(Tournament, tournament_id)
    if tournament is None:
        raise TournamentError(f"tournament {tournament_id} does not exist")
    session.flush()  # changes of this transaction first; then what other writers committed
    session.refresh(tournament)
    # The tournament's own counters, kept by each stored game (record_finished_game): reading
    # them costs one row however many games it has.
    finished, first, last = tournament.games_finished, tournament.first_finished_at, tournament.last_finished_at
    forfeits, pass_ended = tournament.games_forfeited, tournament.games_pass_ended
    refereed, disagreements = tournament.games_refereed, tournament.games_disagreed
    scoring = ScoringAgreement(pass_ended=pass_ended, refereed=refereed, disagreements=disagreements,
                               rate=disagreements / refereed if refereed else None)
    failed = leases.failed_count(session, tournament_id)
    rate = eta = None
    if finished >= 2 and last > first:
        rate = (finished - 1) / (last - first).total_seconds() * 3600
        left = tournament.games_scheduled - finished - failed
        eta = left / rate * 3600 if rate > 0 else None
    return Progress(tournament_id=tournament.id, name=tournament.name, format=tournament.format,
                    status=tournament.status, scheduled=tournament.games_scheduled, finished=finished,
                    forfeits=forfeits, games_per_hour=rate, eta_s=eta,
                    verdict=tournament.verdict, error=tournament.last_error,
                    error_at=tournament.last_error_at, failed=failed, scoring=scoring)


@dataclass(frozen=True)
class FailedGame:
    scheduled_game_id: int
    pairing: str
    game_index: int
    attempts: int
    failed_at: datetime
    reason: str  # client-safe words (arena.leases.FAILED_REASON)


def failed_games(session: Session, tournament_id: int, *, limit: int = 100) -> list[FailedGame]:
    """The tournament's failed games (not stored after all), oldest failure first, at most `limit`."""
    rows = session.execute(
        select(ScheduledGame.id, ScheduledGame.pairing, ScheduledGame.game_index, ScheduledGame.attempts,
               ScheduledGame.failed_at, ScheduledGame.failed_reason)
        .where(ScheduledGame.tournament_id == tournament_id, ScheduledGame.failed_at.is_not(None),
               ScheduledGame.stored_at.is_(None))
        .order_by(ScheduledGame.failed_at, ScheduledGame.id).limit(limit)).all()
    return [FailedGame(scheduled_game_id=i, pairing=p, game_index=n, attempts=a, failed_at=at, reason=r or "")
            for i, p, n, a, at, r in rows]


def find_tournament(session: Session, ref: str | int) -> Tournament:
    """The tournament row with this id or name (arena.db.tournament_queries.find_tournament);
    TournamentError if none."""
    try:
        return session.get(Tournament, tournament_queries.find_tournament(session, ref).id)
    except lookup.LookupFailedError as exc:
        raise TournamentError(str(exc)) from None


def running_tournaments(session: Session) -> list[int]:
    return list(session.scalars(select(Tournament.id).where(Tournament.status == "running").order_by(Tournament.id)))

