"""Prometheus metrics of the service side (the API process): every API-side metric is defined here.

- HTTP requests: `arena_http_requests_total` and `arena_http_request_duration_seconds` by route
  template, method and status, from `MetricsMiddleware` (plain ASGI, any framework);
- read from the database at each scrape by `DatabaseCollector`: games pending per running
  tournament, games failed (`arena_games_failed_total`: given up on after their attempts, see
  arena.leases; counted in the database because the scheduler that fails them serves no
  metrics), worker liveness from the heartbeats (`arena_worker_*`), and Elo with its standard
  error and 95% interval for each player of each running tournament (its pool), from the
  process's `arena.leaderboards.LeaderboardService`: the fit the API and gRPC use, refitted only
  when a game has been stored since any of them asked.

`instrument_app(app, sessions=..., leaderboards=...)` adds both to a FastAPI/Starlette app and serves
`/metrics`.

Several API processes (`arena api --workers N`): the supervisor gives them one directory in
PROMETHEUS_MULTIPROC_DIR (`multiprocess_directory`), where prometheus_client keeps each process's
request counters and histograms in files of its own, and whichever worker answers a scrape sums
them all (`MultiProcessCollector`). Each process counting only its own requests made the counters
of one scrape and the next come from different processes: totals jumped up and down with the
worker the kernel picked, and Prometheus read every drop as a counter reset. A dead worker's
files stay, so totals never go back. The process, platform and garbage-collector metrics are
left out there: they describe one process, and which one would change from scrape to scrape.

Worker-side metrics (games, moves, evaluations, ...) are defined in `search_workers.metrics` and
served by each worker process.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, make_asgi_app
from prometheus_client import multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from arena import leases
from arena.db.models import ScheduledGame, Tournament
from arena.leaderboards import Leaderboard, LeaderboardService
from arena.settings import get_settings

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
# No PlatformCollector: its python_info names the interpreter's exact version to anyone who may
# read /metrics (public when reads are), an internal a client has no use for.
GCCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter("arena_http_requests", "HTTP requests answered, by route template, method and status.",
                        ["route", "method", "status"], registry=REGISTRY)
HTTP_REQUEST_SECONDS = Histogram(
    "arena_http_request_duration_seconds", "Time to answer an HTTP request (until the response is complete).",
    ["route", "method"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0))

# Names of the gauges DatabaseCollector yields (listed for the dashboards' test).
DATABASE_METRICS = ("arena_tournament_games_pending", "arena_player_elo", "arena_player_elo_stderr",
                    "arena_player_elo_ci95_lower", "arena_player_elo_ci95_upper", "arena_player_games",
                    "arena_games_failed_total", "arena_worker_alive", "arena_worker_blocks_in_hand",
                    "arena_worker_games_in_hand", "arena_worker_heartbeat_age_seconds",
                    "arena_worker_games_lost")


class MetricsMiddleware:
    """ASGI middleware counting and timing HTTP requests.

    The route label is the matched route's template (`/games/{game_id}`, set by FastAPI in the
    scope), never the raw path, so that labels stay few; unmatched paths count as `unmatched`.
    """

    def __init__(self, app: Callable, *, skip: tuple[str, ...] = ("/metrics",)):
        self.app = app
        self.skip = skip

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is a server error

        async def send_and_note(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or getattr(route, "path_format", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(route=template, method=method, status=str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(route=template, method=method).observe(time.perf_counter() - started)


class DatabaseCollector(Collector):
    """Gauges read from the arena's database at each scrape (see the module docstring).

    `sessions` is a SQLAlchemy session factory; `leaderboards` the process's leaderboard service
    (default: one made from this process's settings). A database that does not answer yields no
    samples (and a log line) rather than failing the whole scrape.
    """

    def __init__(self, sessions: Callable[[], Any], leaderboards: LeaderboardService | None = None):
        self.sessions = sessions
        self.leaderboards = leaderboards or LeaderboardService.from_settings(get_settings())
        self._lock = threading.Lock()

    def describe(self) -> list:
        return []  # samples come from the database: nothing to describe before a scrape

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = GaugeMetricFamily("arena_tournament_games_pending",
                                    "Scheduled games of a running tournament not finished yet.", labels=["tournament"])
        # A running tournament's pool is one condition (board size, rules, komi): the label says which,
        # so that a dashboard never plots 9x9 and 19x19 Elo on one axis unawares.
        labels = ["pool", "condition", "player"]
        elo = GaugeMetricFamily("arena_player_elo", "Elo of a player in a running tournament's pool.", labels=labels)
        stderr = GaugeMetricFamily("arena_player_elo_stderr", "Standard error of that Elo.", labels=labels)
        lower = GaugeMetricFamily("arena_player_elo_ci95_lower", "Lower end of the 95% interval of that Elo.",
                                  labels=labels)
        upper = GaugeMetricFamily("arena_player_elo_ci95_upper", "Upper end of the 95% interval of that Elo.",
                                  labels=labels)
        games = GaugeMetricFamily("arena_player_games", "Finished games of a player in the pool.", labels=labels)
        try:
            with self._lock:
                for name, waiting, board in self._read():
                    pending.add_metric([name], waiting)
                    for s in board.standings if board is not None else ():
                        values = [name, board.condition or "", s.name]
                        elo.add_metric(values, s.elo)
                        stderr.add_metric(values, s.stderr)
                        lower.add_metric(values, s.lo)
                        upper.add_metric(values, s.hi)
                        games.add_metric(values, s.games)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even when the database does not
            log.warning("database metrics unavailable: %s", exc)
        yield from (pending, elo, stderr, lower, upper, games)
        yield from self._liveness()

    def _liveness(self) -> Iterator[Any]:
        """Failed games (all tournaments) and each worker's last heartbeat (arena.leases)."""
        failed = CounterMetricFamily("arena_games_failed", "Games given up on after ARENA_MAX_BLOCK_ATTEMPTS "
                                     "deliveries whose workers died or lost them.")
        alive = GaugeMetricFamily("arena_worker_alive", "1 while the worker's heartbeats arrive within a lease.",
                                  labels=["worker"])
        blocks = GaugeMetricFamily("arena_worker_blocks_in_hand", "Blocks the worker is playing.", labels=["worker"])
        in_hand = GaugeMetricFamily("arena_worker_games_in_hand", "Games the worker holds leases on.",
                                    labels=["worker"])
        age = GaugeMetricFamily("arena_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.",
                                labels=["worker"])
        lost = GaugeMetricFamily("arena_worker_games_lost", "Games whose lease expired in the worker's hands "
                                 "(it died, hung or lost the database).", labels=["worker"])
        try:
            with self.sessions() as session:
                failed.add_metric([], session.scalar(select(func.count()).select_from(ScheduledGame)
                                                     .where(ScheduledGame.failed_at.is_not(None))))
                now = session.scalar(select(func.now()))
                for w in leases.list_workers(session, lease_s=get_settings().lease_s):
                    alive.add_metric([w.worker], float(w.alive))
                    blocks.add_metric([w.worker], w.blocks_in_hand)
                    in_hand.add_metric([w.worker], w.games_in_hand)
                    age.add_metric([w.worker], (now - w.last_heartbeat_at).total_seconds())
                    lost.add_metric([w.worker], w.games_lost)
        except Exception as exc:  # noqa: BLE001
            log.warning("database metrics unavailable: %s", exc)
        yield from (failed, alive, blocks, in_hand, age, lost)

    def _read(self) -> list[tuple[str, int, Leaderboard | None]]:
        """(name, games pending, leaderboard: None before its first finished game) per running tournament."""
        out = []
        with self.sessions() as session:
            # The tournament's own counters, kept by every scheduled and stored game: a scrape
            # costs one row per running tournament, not a count of all its games.
            rows = session.execute(
                select(Tournament.id, Tournament.name, Tournament.games_scheduled, Tournament.games_finished)
                .where(Tournament.status == "running").order_by(Tournament.id)).all()
            for tid, name, scheduled, finished in rows:
                board = self.leaderboards.get(session, tournament_id=tid).board if finished else None
                out.append((name, scheduled - finished, board))
        return out


_database_collectors: dict[int, Collector] = {}  # per registry: one database behind the gauges


def register_database_collector(sessions: Callable[[], Any], registry: CollectorRegistry = REGISTRY,
                                leaderboards: LeaderboardService | None = None) -> Collector:
    """Add the pending-games and Elo gauges of the database behind `sessions` to `registry`, the
    Elo from `leaderboards` (the process's service; see DatabaseCollector).

    A registry holds one such collector: a second call (another app in the same process, as in
    tests) replaces the first instead of failing on duplicated series.
    """
    previous = _database_collectors.pop(id(registry), None)
    if previous is not None:
        registry.unregister(previous)
    collector = DatabaseCollector(sessions, leaderboards)
    registry.register(collector)
    _database_collectors[id(registry)] = collector
    return collector


MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client reads it when first imported


@contextmanager
def multiprocess_directory() -> Iterator[str]:
    """A fresh directory named in PROMETHEUS_MULTIPROC_DIR for the processes started inside the
    block (they import prometheus_client after it is set); removed afterwards. A directory kept
    from an earlier run would add its counts to this one's."""
    directory = tempfile.mkdtemp(prefix="arena-api-metrics-")
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def process_exited(pid: int) -> None:
    """Tell the shared directory that process `pid` is gone (its live gauges stop counting; its
    counters and histograms stay in the sums)."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        multiprocess.mark_process_dead(pid, directory)


def served_registry(registry: CollectorRegistry = REGISTRY) -> CollectorRegistry:
    """What `/metrics` serves: `registry` itself, or with PROMETHEUS_MULTIPROC_DIR set (several API
    processes) a registry summing every process's request metrics from that directory."""
    if registry is not REGISTRY or not os.environ.get(MULTIPROCESS_ENV):
        return registry
    shared = CollectorRegistry()
    multiprocess.MultiProcessCollector(shared)
    return shared


def metrics_app(registry: CollectorRegistry = REGISTRY) -> Callable:
    """A standalone ASGI app answering GET with the text exposition of `registry`."""
    return make_asgi_app(registry=registry)


def metrics_endpoint(registry: CollectorRegistry = REGISTRY, *, check: Callable | None = None) -> Callable:
    """A Starlette/FastAPI endpoint for `GET /metrics` (a route, not a mount: no slash redirect).
    `check(request)`, awaited first, refuses by raising (the API's read-access rule)."""
    from starlette.responses import Response

    async def metrics(request: Any) -> Response:
        if check is not None:
            await check(request)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def instrument_app(app: Any, *, sessions: Callable[[], Any] | None = None, registry: CollectorRegistry = REGISTRY,
                   check: Callable | None = None, leaderboards: LeaderboardService | None = None) -> Any:
    """Count and time `app`'s requests, serve `/metrics`, and (with `sessions`) add the database gauges.

    `app` is a FastAPI or Starlette application; call once, before it starts serving. `check`:
    an access check `/metrics` awaits with the request (see `metrics_endpoint`); `leaderboards`:
    the process's leaderboard service, which the Elo gauges read.
    """
    app.add_middleware(MetricsMiddleware)
    served = served_registry(registry)
    app.add_route("/metrics", metrics_endpoint(served, check=check), methods=["GET"], include_in_schema=False)
    if sessions is not None:
        register_database_collector(sessions, served, leaderboards)
    return app
