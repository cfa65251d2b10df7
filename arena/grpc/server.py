"""The gRPC API (`proto/arena/v1/arena.proto`): a servicer over the arena's service functions.

    server = serve(settings, port=50051)      # started; server.stop(grace) ends it
    server.wait_for_termination()

Every RPC is a thin translation: checkpoints go through `arena.checkpoints`, tournaments through
`arena.tournament_creation.create_and_dispatch` (as from HTTP and the CLI, with the arena's
context: engines, the Celery sender, the evaluator factory), ratings through the context's
`arena.leaderboards.LeaderboardService` (one cache with the HTTP API and the metrics), games
through `arena.db`. The two streams poll the database with a short interval (`poll_s`); each
holds one server thread while open and ends when the client cancels. Open streams are bounded
(`Settings.grpc_max_streams`, `grpc_max_streams_per_peer`; RESOURCE_EXHAUSTED beyond) and the
server has more threads than that, so unary calls always find one.

Every call passes its metadata and the scope it needs to one function, `authorize(metadata,
scope)` (`arena.grpc.access`): by default the HTTP API's rules, bearer tokens for writes
(`submit`) and for reads when `Settings.api_public_reads` is false. `serve(..., open_writes=True)`
accepts writes without a token; a server behind its own authentication asks for it.

A client never sees an exception's text: ids outside the tables' range and strings PostgreSQL
cannot hold are INVALID_ARGUMENT naming the field, a database outage UNAVAILABLE, anything else
INTERNAL with an id that the server's log holds with the traceback (as the HTTP API's 500).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import datetime, timedelta

import grpc
import pydantic
from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import aliased

from arena.checkpoint_store import Admission
from arena.checkpoints import CheckpointNameTaken, register_checkpoint_file
from arena.context import ArenaContext
from arena.db import condition_queries, lookup
from arena.db.connection import database_url, make_engine, session_factory, session_scope
from arena.db.models import FinishedGame, Player, Tournament
from arena.db.outage import is_database_outage
from arena.db.storable import json_string_problem, string_problem
from arena.import_roots import NotImportableError
from arena.leaderboards import Leaderboard
from arena.ratings.estimability import flag_legend
from arena.scheduling import parse_config
from arena.settings import Settings
from arena.tournament_creation import create_and_dispatch
from arena.tournaments import TournamentError
from models.checkpoint import CheckpointError

from .access import Authorize, Forbidden, StreamLimiter, Unauthenticated, allow_all, bearer_tokens
from .generated import arena_pb2, arena_pb2_grpc

__all__ = ["ArenaServicer", "Forbidden", "Unauthenticated", "allow_all", "bearer_tokens", "serve"]

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 0.5
# A finished game's `finished_at` is its transaction's start, so a game can become visible after
# one stamped later: a stream looks this far back on each poll and skips the games it sent.
VISIBILITY_LAG = timedelta(seconds=60)
WATCH_BATCH = 500  # games read per poll; a long backlog streams over several polls
ENDED = ("finished", "cancelled")
# Worded as the HTTP API's opaque 500 and 503 (arena.api.errors), which gRPC does not import.
INTERNAL_ERROR = "internal error {error_id} (the server's log has the details)"
DATABASE_DOWN = "the database did not answer; try again shortly"


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _invalid(field: str, message: str) -> _Abort:
    return _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {message}")


def _check_id(field: str, value: int) -> None:
    """INVALID_ARGUMENT for an id outside the tables' key range (the HTTP API's, lookup.MAX_DB_ID)."""
    if not 0 <= value <= lookup.MAX_DB_ID:
        raise _invalid(field, f"{value} is not an id (ids are 0 to {lookup.MAX_DB_ID})")


def _check_string(field: str, value: str) -> None:
    """INVALID_ARGUMENT for a string PostgreSQL text cannot hold (the HTTP API's check)."""
    if (problem := string_problem(value)) is not None:
        raise _invalid(field, problem)


def _unexpected(exc: Exception, method: str) -> _Abort:
    """UNAVAILABLE for a database outage, else INTERNAL with an id; the details go to the log only."""
    if is_database_outage(exc):
        log.warning("%s: database error: %s", method, exc)
        return _Abort(grpc.StatusCode.UNAVAILABLE, DATABASE_DOWN)
    error_id = uuid.uuid4().hex[:16]
    log.error("error %s answering %s", error_id, method, exc_info=exc)
    return _Abort(grpc.StatusCode.INTERNAL, INTERNAL_ERROR.format(error_id=error_id))


def _check_condition(condition: str | None) -> None:
    """INVALID_ARGUMENT for a `condition` not written as one (arena.db.condition_queries.check_condition)."""
    if condition is not None:
        try:
            condition_queries.check_condition(condition)
        except ValueError as exc:
            raise _invalid("condition", str(exc)) from None


def _validation_message(field: str, exc: pydantic.ValidationError) -> str:
    """`config_json.participants.0.visits: ...` for each error; a model-level check that names its
    field first ("games_per_pairing: must be even") is placed at that field."""
    parts = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        location = [field, *map(str, error["loc"])]
        named, sep, rest = message.partition(": ")
        if sep and named.replace("_", "").replace(".", "").isalnum() and " " not in named:
            location.append(named)
            message = rest
        parts.append(f"{'.'.join(location)}: {message}")
    return "; ".join(parts)


def _standings(board: Leaderboard) -> list[arena_pb2.PlayerStanding]:
    """The board's rows, best first; `flag` absent where the games alone rate the player."""
    return [arena_pb2.PlayerStanding(name=s.name, elo=s.elo, ci_low=s.lo, ci_high=s.hi, stderr=s.stderr, games=s.games,
                                     wins=s.wins, losses=s.losses, draws=s.draws, score=s.score or 0.0, flag=s.flag,
                                     **_reference_fields(board, s.name))
            for s in board.standings]


def _reference_fields(board: Leaderboard, name: str) -> dict:
    """`relative_elo` and `equivalent` of a PlayerStanding, where the board places the player."""
    out = {}
    if (rel := board.relative.get(name)) is not None:
        out["relative_elo"] = arena_pb2.RelativeElo(reference_point=rel.reference_point, elo=rel.elo, ci_low=rel.lo,
                                                    ci_high=rel.hi, stderr=rel.stderr)
    if (eq := board.equivalents.get(name)) is not None:
        out["equivalent"] = arena_pb2.EquivalentStrength(rung_param=eq.rung_param, value=eq.value, low=eq.low,
                                                         high=eq.high, position=eq.position, text=eq.text)
    return out


class ArenaServicer(arena_pb2_grpc.ArenaServicer):
    """The `arena.v1.Arena` service on one database (`db_engine`) and one configuration."""

    def __init__(self, settings: Settings, *, db_engine: Engine | None = None, authorize: Authorize | None = None,
                 open_writes: bool = False, poll_s: float = DEFAULT_POLL_S, engines: dict | None = None,
                 send: Callable[[dict], None] | None = None, context: ArenaContext | None = None):
        """`authorize`: who may call (default: `bearer_tokens` with the HTTP API's read policy,
        writes open only with `open_writes`); `context`: the arena's wiring (default: made from
        `settings`, with `engines` and `send` replacing the configured engines and the Celery
        sender when given)."""
        self.settings = settings
        self.context = context or ArenaContext.from_settings(settings, engines=engines, send=send)
        self.db_engine = db_engine or make_engine(database_url(settings))
        self.authorize = authorize or bearer_tokens(self.db_engine, public_reads=settings.api_public_reads,
                                                    open_writes=open_writes)
        self.streams = StreamLimiter(total=settings.grpc_max_streams, per_peer=settings.grpc_max_streams_per_peer)
        self.poll_s = poll_s

    # ------------------------------------------------------------------ plumbing

    def _check(self, context: grpc.ServicerContext, scope: str) -> int | None:
        """The id of the token that makes this call (None: none needed), or an abort saying why not."""
        try:
            return self.authorize(tuple(context.invocation_metadata() or ()), scope)
        except Unauthenticated as exc:
            raise _Abort(grpc.StatusCode.UNAUTHENTICATED, str(exc) or "a valid bearer token is required") from None
        except Forbidden as exc:
            raise _Abort(grpc.StatusCode.PERMISSION_DENIED, str(exc)) from None

    def _check_write(self, context: grpc.ServicerContext) -> int | None:
        """A write needs a `submit` token (unless writes are open): its id, the row's owner."""
        return self._check(context, "submit")

    @staticmethod
    def _wrap(method, *, reads: bool = False):
        def unary(self, request, context):
            try:
                if reads:
                    self._check(context, "read")
                return method(self, request, context)
            except _Abort as exc:
                abort = exc
            except Exception as exc:  # noqa: BLE001 -- grpcio would send str(exc): SQL, paths
                abort = _unexpected(exc, method.__name__)
            context.abort(abort.code, abort.message)
        unary.__name__, unary.__doc__ = method.__name__, method.__doc__
        return unary

    @staticmethod
    def _wrap_stream(method):
        """A read stream: access checked, then one of the bounded stream slots held until it ends
        (its callback frees the slot even when the client leaves while the stream is suspended)."""
        def stream(self, request, context):
            release = None
            try:
                self._check(context, "read")
                release = self.streams.acquire(context.peer())
                if release is None:
                    raise _Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, self.streams.refusal(context.peer()))
                context.add_callback(release)
                yield from method(self, request, context)
                return
            except _Abort as exc:
                abort = exc
            except Exception as exc:  # noqa: BLE001 -- grpcio would send str(exc): SQL, paths
                abort = _unexpected(exc, method.__name__)
            finally:
                if release is not None:
                    release()
            context.abort(abort.code, abort.message)
        stream.__name__, stream.__doc__ = method.__name__, method.__doc__
        return stream

    def _wait(self, context: grpc.ServicerContext, stop: threading.Event) -> bool:
        """Sleep one poll interval; False once the client has gone."""
        stop.wait(self.poll_s)
        return context.is_active() and not stop.is_set()

    @staticmethod
    def _stop_event(context: grpc.ServicerContext) -> threading.Event:
        stop = threading.Event()
        context.add_callback(stop.set)  # called when the RPC ends (cancelled, deadline, done)
        return stop

    # ------------------------------------------------------------------ writes

    def _register_checkpoint(self, request, context):
        token_id = self._check_write(context)
        _check_string("path", request.path)
        _check_string("name", request.name)
        if not request.path.strip():
            raise _invalid("path", "must not be empty")
        if request.name and not request.name.strip():
            raise _invalid("name", "must not be blank")
        # The HTTP API's registration: a path under ARENA_IMPORT_DIRS, data formats only, refusals
        # before anything is stored; also publishes to Triton when it is configured.
        try:
            with session_scope(self.db_engine) as session:
                registration = register_checkpoint_file(
                    session, request.path, context=self.context, admission=Admission.network(self.settings),
                    roots=self.settings.import_dirs, name=request.name or None, token_id=token_id)
                row = registration.checkpoint
                parent = None if registration.dropped_parent else registration.stored.manifest.parent
                return arena_pb2.RegisterCheckpointResponse(id=row.id, sha256=row.sha256, name=row.name,
                                                            created=registration.created, parent_sha256=parent or "")
        except NotImportableError as exc:
            raise _invalid("path", str(exc)) from None
        except CheckpointNameTaken as exc:
            raise _Abort(grpc.StatusCode.ALREADY_EXISTS, str(exc)) from None
        except CheckpointError as exc:  # ExecutableFormatError included: its message says to use the CLI
            raise _invalid("path", f"checkpoint refused, nothing stored or registered: {exc}") from None
        except OSError:  # the store's disk, not the client's input; the path stays in the log
            log.exception("registering a checkpoint failed on the server's side")
            raise _Abort(grpc.StatusCode.UNAVAILABLE, "the server could not store the checkpoint") from None

    def _schedule_tournament(self, request, context):
        token_id = self._check_write(context)
        try:
            data = json.loads(request.config_json)
        except json.JSONDecodeError as exc:
            raise _invalid("config_json", f"not JSON: {exc}") from None
        except RecursionError:
            raise _invalid("config_json", "arrays and objects nested too deeply") from None
        except ValueError:  # an integer past Python's digit limit (its text names the setting)
            raise _invalid("config_json", "a number has too many digits") from None
        if not isinstance(data, dict):
            raise _invalid("config_json", "must be a JSON object (the fields of TournamentConfig)")
        if (found := json_string_problem(data)) is not None:
            raise _invalid(".".join(map(str, ("config_json", *found[0]))), found[1])
        try:
            config = parse_config(data)
        except pydantic.ValidationError as exc:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, _validation_message("config_json", exc)) from None
        except RecursionError:
            raise _invalid("config_json", "arrays and objects nested too deeply") from None
        # A session create_and_dispatch may commit: the tournament before its first games are sent.
        with session_factory(self.db_engine)() as session:
            if session.scalar(select(Tournament.id).where(Tournament.name == config.name)) is not None:
                raise _Abort(grpc.StatusCode.ALREADY_EXISTS,
                             f"config_json.name: a tournament named {config.name!r} already exists")
            try:
                created = create_and_dispatch(session, config, self.context, token_id=token_id,  # None: writes open
                                              sgf_roots=self.settings.import_dirs,  # openings.directory: imports only
                                              send_now=not request.no_dispatch)
            except TournamentError as exc:
                raise _invalid("config_json", str(exc)) from None
            session.commit()  # no_dispatch: the tournament is this transaction's
        tid, name, scheduled, sent = created.tournament_id, created.name, created.games_scheduled, created.dispatched
        return arena_pb2.ScheduleTournamentResponse(tournament_id=tid, name=name, games_scheduled=scheduled,
                                                    games_dispatched=sent)

    # ------------------------------------------------------------------ reads

    def _tournament_status(self, session, tournament_id: int) -> str:
        status = session.scalar(select(Tournament.status).where(Tournament.id == tournament_id))
        if status is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"tournament_id: no tournament {tournament_id}")
        return status

    def _leaderboard(self, tournament_id: int | None, condition: str | None = None) -> arena_pb2.Leaderboard:
        _check_condition(condition)
        with session_scope(self.db_engine) as session:
            status = self._tournament_status(session, tournament_id) if tournament_id is not None else ""
            try:
                # The context's service: fitted only if a game was stored since any face asked.
                board = self.context.leaderboards.get(session, tournament_id=tournament_id, condition=condition).board
            except lookup.LookupFailedError as exc:
                raise _Abort(grpc.StatusCode.NOT_FOUND, str(exc)) from None
        return arena_pb2.Leaderboard(tournament_id=tournament_id, tournament_status=status,
                                     game_set_sha256=board.game_set.sha256, games=board.game_set.games,
                                     players=_standings(board), condition=board.condition,
                                     flag_legend=flag_legend(s.flag for s in board.standings),
                                     conditions=[arena_pb2.ConditionGames(condition=c.condition, games=c.games)
                                                 for c in board.conditions])

    def _get_leaderboard(self, request, context):
        if request.HasField("tournament_id"):
            _check_id("tournament_id", request.tournament_id)
        if request.HasField("condition"):
            _check_string("condition", request.condition)
        return self._leaderboard(request.tournament_id if request.HasField("tournament_id") else None,
                                 request.condition if request.HasField("condition") else None)

    # ------------------------------------------------------------------ streams

    def _games_query(self, request):
        black, white = aliased(Player), aliased(Player)
        # Finished games alone (their copies of the game's identity, migration 0009), in the order
        # of ix_finished_games_finished_at (0010): each poll reads the range of finish times it
        # asks for, not every game stored.
        query = (
            select(FinishedGame, FinishedGame.tournament_id, Tournament.name, black.name, white.name)
            .join(Tournament, Tournament.id == FinishedGame.tournament_id)
            .join(black, black.id == FinishedGame.black_player_id)
            .join(white, white.id == FinishedGame.white_player_id)
            .order_by(FinishedGame.finished_at, FinishedGame.scheduled_game_id)
        )
        if request.HasField("tournament_id"):
            query = query.where(FinishedGame.tournament_id == request.tournament_id)
        if request.player:
            query = query.where(or_(black.name == request.player, white.name == request.player))
        return query

    @staticmethod
    def _game(row, include_sgf: bool) -> arena_pb2.Game:
        game, tid, tname, black, white = row
        message = arena_pb2.Game(id=game.scheduled_game_id, tournament_id=tid, tournament=tname, black=black,
                                 white=white, result=game.result, move_count=game.move_count,
                                 duration_s=game.duration_s, sgf=game.sgf if include_sgf else "")
        message.finished_at.FromDatetime(game.finished_at)
        return message

    def _watch_games(self, request, context) -> Iterator[arena_pb2.Game]:
        has_tournament = request.HasField("tournament_id")
        if has_tournament:
            _check_id("tournament_id", request.tournament_id)
        _check_id("after_game_id", request.after_game_id)  # 0: not given
        _check_string("player", request.player)
        if request.until_finished and not has_tournament:
            raise _invalid("until_finished", "needs tournament_id")
        seen: dict[int, datetime] = {}  # games sent within VISIBILITY_LAG of the newest sent
        after: tuple[datetime, int] | None = None  # send only games stored after this (time, id)
        newest: datetime | None = None
        query = self._games_query(request)
        with session_scope(self.db_engine) as session:
            if has_tournament:
                self._tournament_status(session, request.tournament_id)
            if request.player and session.scalar(select(Player.id).where(Player.name == request.player)) is None:
                raise _Abort(grpc.StatusCode.NOT_FOUND, f"player: no player named {request.player!r}")
            if request.only_new:
                newest = session.scalar(select(func.now()))
                for row in session.execute(query.with_only_columns(FinishedGame.scheduled_game_id,
                                                                   FinishedGame.finished_at)
                                           .where(FinishedGame.finished_at >= newest - VISIBILITY_LAG)):
                    seen[row[0]] = row[1]
            elif request.after_game_id:
                stamp = session.scalar(select(FinishedGame.finished_at)
                                       .where(FinishedGame.scheduled_game_id == request.after_game_id))
                if stamp is None:
                    raise _Abort(grpc.StatusCode.NOT_FOUND,
                                 f"after_game_id: game {request.after_game_id} is not finished or does not exist")
                after, newest = (stamp, request.after_game_id), stamp
        stop = self._stop_event(context)
        while True:
            with session_scope(self.db_engine) as session:
                # The status first: a tournament finishes only after its games are stored, so
                # this poll then sees every one of them.
                ended = has_tournament and self._tournament_status(session, request.tournament_id) in ENDED
                polled = query
                if after is not None:
                    polled = polled.where(or_(FinishedGame.finished_at > after[0],
                                              and_(FinishedGame.finished_at == after[0],
                                                   FinishedGame.scheduled_game_id > after[1])))
                if newest is not None:
                    polled = polled.where(FinishedGame.finished_at >= newest - VISIBILITY_LAG)
                if seen:
                    polled = polled.where(FinishedGame.scheduled_game_id.not_in(list(seen)))
                rows = session.execute(polled.limit(WATCH_BATCH)).all()
                games = [self._game(row, request.include_sgf) for row in rows]
            for row, game in zip(rows, games):
                seen[row[0].scheduled_game_id] = row[0].finished_at
                yield game
            if rows:
                newest = max(newest or rows[-1][0].finished_at, rows[-1][0].finished_at)
                seen = {gid: at for gid, at in seen.items() if at >= newest - VISIBILITY_LAG}
            if len(rows) == WATCH_BATCH:
                continue  # more of a backlog: no sleep
            if request.until_finished and ended:
                return
            if not self._wait(context, stop):
                return

    def _watch_ratings(self, request, context) -> Iterator[arena_pb2.Leaderboard]:
        if not request.tournament_id:
            raise _invalid("tournament_id", "required")
        _check_id("tournament_id", request.tournament_id)
        _check_string("player", request.player)
        if request.HasField("condition"):
            _check_string("condition", request.condition)
        if request.until_player_games < 0:
            raise _invalid("until_player_games", "must not be negative")
        if request.until_player_games and not request.player:
            raise _invalid("player", "required with until_player_games")
        tid = request.tournament_id
        # The rated set of a tournament only grows: its count of stored games (kept with each
        # one, in its transaction) names it, read from one row.
        fingerprint = select(Tournament.games_finished).where(Tournament.id == tid)
        condition = request.condition if request.HasField("condition") else None
        _check_condition(condition)
        with session_scope(self.db_engine) as session:
            self._tournament_status(session, tid)
            try:  # a condition other than the tournament's is refused before the stream opens
                condition_queries.choose_condition(condition_queries.rating_conditions(session, tid), condition)
            except lookup.LookupFailedError as exc:
                raise _Abort(grpc.StatusCode.NOT_FOUND, str(exc)) from None
        stop = self._stop_event(context)
        last_print, last_sha = None, None
        while True:
            with session_scope(self.db_engine) as session:
                status = self._tournament_status(session, tid)
                mark = tuple(session.execute(fingerprint).one())
            if mark != last_print:
                last_print = mark
                board = self._leaderboard(tid, condition)
                if board.game_set_sha256 != last_sha:  # a Void game changes the count, not the set
                    last_sha = board.game_set_sha256
                    yield board
                    if request.player and request.until_player_games and any(
                            p.name == request.player and p.games >= request.until_player_games for p in board.players):
                        return
                if request.until_finished and board.tournament_status in ENDED:
                    return
            elif request.until_finished and status in ENDED:
                return  # ended, and its last games (read after the status) are in the last snapshot
            if not self._wait(context, stop):
                return

    RegisterCheckpoint = _wrap(_register_checkpoint)
    ScheduleTournament = _wrap(_schedule_tournament)
    GetLeaderboard = _wrap(_get_leaderboard, reads=True)
    WatchGames = _wrap_stream(_watch_games)
    WatchRatings = _wrap_stream(_watch_ratings)


# Threads kept for unary calls beyond the stream bound: open streams never hold them all.
UNARY_THREADS = 16


def serve(settings: Settings, port: int, *, host: str = "127.0.0.1", **servicer_options) -> grpc.Server:
    """Start the Arena service on `host:port` (port 0: a free one, read it from `server.port`):
    loopback by default, TLS when `settings.grpc_tls_cert` and `grpc_tls_key` are set.

    Open streams are bounded by `settings.grpc_max_streams`, and the server has UNARY_THREADS
    threads more. `servicer_options` go to ArenaServicer (`open_writes=True`: writes need no token).
    """
    credentials = tls_credentials(settings)
    workers = settings.grpc_max_streams + UNARY_THREADS
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="arena-grpc"))
    servicer = ArenaServicer(settings, **servicer_options)
    arena_pb2_grpc.add_ArenaServicer_to_server(servicer, server)
    address = f"{host}:{port}"
    bound = server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    server.port = bound
    server.servicer = servicer
    server.start()
    return server


def tls_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The server's TLS credentials from ARENA_GRPC_TLS_CERT/KEY (PEM files); None when neither is
    set. ValueError naming the setting when only one is, or a file cannot be read."""
    cert, key = settings.grpc_tls_cert, settings.grpc_tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        missing = "ARENA_GRPC_TLS_CERT" if cert is None else "ARENA_GRPC_TLS_KEY"
        raise ValueError(f"{missing}: TLS needs both a certificate and a key")
    pem = {}
    for name, path in (("ARENA_GRPC_TLS_CERT", cert), ("ARENA_GRPC_TLS_KEY", key)):
        try:
            pem[name] = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"{name}: cannot read {path}: {exc.strerror}") from None
    return grpc.ssl_server_credentials([(pem["ARENA_GRPC_TLS_KEY"], pem["ARENA_GRPC_TLS_CERT"])])
