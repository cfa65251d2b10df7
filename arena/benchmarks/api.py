"""The HTTP API under load: `arena bench api`.

A fresh database (on `server_url`, or on an embedded PostgreSQL in a temporary directory) is
migrated and filled by `load_games` with `games` finished games in a few seconds, set-based in
SQL rather than through `record_finished_game` one by one: 20 players (16 checkpoints of one
training run and 4 GNU Go levels; `--players` changes the checkpoints' count) with hidden
strengths, 5 tournaments on 9x9, colour-swapped pairs, results drawn from the strength model
(resignations, scores, a few draws, forfeits and Voids), an SGF and per-move statistics (visits, root value, policy entropy, time) of 30-110
moves per game, finish times spread over 60 days in id order. The per-move statistics and
move lists come from a pool of 256 generated games and are copied on the server, so the
stored rows are full size while loading stays fast.

The real API process (`python -m arena.cli api`) is then started against it and `clients`
concurrent HTTP clients (`http_load`: asyncio, one keep-alive connection each, no think time)
send requests back to back for `seconds`: half to GET /ratings/leaderboard (every game, or one
tournament), half to GET /games with filters (player, player+opponent, tournament, result kind,
since) following next_cursor for up to 3 pages. Latency is measured per request at the client,
from send to the whole body read. Before timing, each leaderboard the clients ask for is requested
once (`first_leaderboard_ms`: the slowest of those cold fits); that is the only warm-up. After the
load, one more game is stored and every game's leaderboard fitted again in the bench process as a
server does (`leaderboard_after_game_ms`): the cost of a new game, which reads the kept pair counts
(`arena.db.rating_inputs`), never the games.

Keys of the result: bench, games, clients, seconds, api_workers, load_s, requests, errors
(non-200 answers or transport failures), rps, leaderboard_p50_ms, leaderboard_p99_ms,
games_p50_ms, games_p99_ms, first_leaderboard_ms, players, leaderboard_after_game_ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from arena.db.connection import session_scope
from arena.db.rating_inputs import rebuild_pentanomials, rebuild_rating_pairs
from arena.db.repository import GameSpec, record_finished_game, recount_progress, schedule_games
from arena.leaderboards import LeaderboardService
from arena.leaderboards.policy import RatingPolicy
from arena.ports import free_port
from arena.scheduling.conditions import condition_key

from .http_load import HttpLoadClient, HttpLoadError, run

__all__ = ["LoadedData", "benchmark_api", "load_games", "percentile_ms", "run_clients"]

CHECKPOINTS = 16  # the default pool: 16 checkpoints and 4 engine levels, 20 players
ENGINE_LEVELS = (1, 4, 7, 10)
TOURNAMENTS = 5
POOL = 256
BOARD_SIZE = 9
SPAN_DAYS = 60


class LoadedData:
    """What `load_games` stored: names the load clients filter on."""

    def __init__(self, players: list[str], tournaments: list[str], games: int, seconds: float, first: datetime):
        self.players = players
        self.tournaments = tournaments
        self.games = games
        self.seconds = seconds
        self.first_finished_at = first


def _pool(rng: random.Random) -> list[tuple[int, str, str]]:
    """(move count, SGF move list, move_stats JSON) of POOL generated games."""
    letters = "abcdefghi"
    out = []
    for _ in range(POOL):
        moves = rng.randint(30, 110)
        body = "".join(f";{'BW'[i % 2]}[{rng.choice(letters)}{rng.choice(letters)}]" for i in range(moves))
        stats = [{"visits": 64, "root_value": round(rng.uniform(-1, 1), 4),
                  "policy_entropy": round(rng.uniform(0.2, 3.5), 4), "time_s": round(rng.uniform(0.01, 0.2), 4)}
                 for _ in range(moves)]
        out.append((moves, body, json.dumps(stats)))
    return out


def load_games(url: str, games: int, *, seed: int = 0,
               player_count: int = CHECKPOINTS + len(ENGINE_LEVELS)) -> LoadedData:
    """Store `games` finished games (see the module doc) in the migrated, empty database at `url`,
    between `player_count` players (all but 4 of them checkpoints)."""
    checkpoints = player_count - len(ENGINE_LEVELS)
    if checkpoints < 2:
        raise ValueError(f"players: at least {len(ENGINE_LEVELS) + 2}")
    rng = random.Random(seed)
    start = time.perf_counter()
    engine = sa.create_engine(url)
    players: list[tuple[str, float]] = []
    try:
        with engine.begin() as conn:
            if conn.scalar(sa.text("SELECT count(*) FROM finished_games")):
                raise ValueError("the database already holds games; the load needs an empty one")
            conn.execute(sa.text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000.0})
            for i in range(checkpoints):
                sha = f"{rng.getrandbits(256):064x}"
                name = f"bench-s{(i + 1) * 10_000:06d}"
                cid = conn.scalar(sa.text(
                    "INSERT INTO checkpoints (sha256, name, manifest, run_name, training_step) "
                    "VALUES (:sha, :name, CAST(:manifest AS jsonb), 'bench-run', :step) RETURNING id"),
                    {"sha": sha, "name": name, "step": (i + 1) * 10_000,
                     "manifest": json.dumps({"name": name, "board_sizes": [BOARD_SIZE]})})
                player = f"{name}@64v"
                conn.execute(sa.text("INSERT INTO players (name, checkpoint_id, search_settings) "
                                     "VALUES (:n, :c, CAST(:s AS jsonb))"),
                             {"n": player, "c": cid, "s": json.dumps({"visits": 64})})
                # Spread over 750 Elo whatever their number (50 apart for the default 16).
                players.append((player, -400.0 + 750.0 * i / (checkpoints - 1)))
            for level in ENGINE_LEVELS:
                eid = conn.scalar(sa.text("INSERT INTO engines (name, version) VALUES (:n, '3.8') RETURNING id"),
                                  {"n": f"gnugo-l{level}"})
                player = f"gnugo-l{level}"
                conn.execute(sa.text("INSERT INTO players (name, engine_id, search_settings) "
                                     "VALUES (:n, :e, '{}'::jsonb)"), {"n": player, "e": eid})
                players.append((player, -300.0 + 40.0 * level))
            tournaments = [f"bench-t{i + 1}" for i in range(TOURNAMENTS)]
            per_tournament = [games // TOURNAMENTS + (1 if i < games % TOURNAMENTS else 0) for i in range(TOURNAMENTS)]
            for name, count in zip(tournaments, per_tournament, strict=True):
                conn.execute(sa.text(
                    "INSERT INTO tournaments (name, format, configuration, status, games_scheduled, games_finished, "
                    "condition) VALUES (:n, 'round-robin', CAST(:c AS jsonb), 'finished', :g, :g, :k)"),
                    {"n": name, "g": count, "k": condition_key(board_size=BOARD_SIZE, rules="tromp-taylor", komi=7.5),
                     "c": json.dumps({"board_size": BOARD_SIZE, "komi": 7.5, "rules": "tromp-taylor"})})
            # Helper tables: players with hidden Elo, the pool of games.
            conn.execute(sa.text("CREATE TEMP TABLE bench_players (k int PRIMARY KEY, id int, name text, elo float)"))
            conn.execute(sa.text(
                "INSERT INTO bench_players SELECT row_number() OVER (ORDER BY p.id) - 1, p.id, p.name, v.elo "
                "FROM players p JOIN (SELECT unnest(CAST(:names AS text[])) AS name, "
                "unnest(CAST(:elos AS float8[])) AS elo) v ON v.name = p.name"),
                {"names": [p for p, _ in players], "elos": [e for _, e in players]})
            conn.execute(sa.text("CREATE TEMP TABLE bench_pool (k int PRIMARY KEY, moves int, body text, stats jsonb)"))
            conn.execute(sa.text("INSERT INTO bench_pool VALUES (:k, :m, :b, CAST(:s AS jsonb))"),
                         [{"k": k, "m": m, "b": b, "s": s} for k, (m, b, s) in enumerate(_pool(rng))])
            conn.execute(sa.text("CREATE TEMP TABLE bench_tournaments (k int PRIMARY KEY, id int)"))
            conn.execute(sa.text("INSERT INTO bench_tournaments SELECT row_number() OVER (ORDER BY id) - 1, id "
                                 "FROM tournaments WHERE name = ANY(:names)"), {"names": tournaments})
            # Game g: pair index g/2 picks two distinct players; odd g swaps the colours.
            n = len(players)
            first = datetime.now(UTC) - timedelta(days=SPAN_DAYS)
            conn.execute(sa.text(
                "CREATE TEMP TABLE bench_games AS SELECT g, (g / 2) % :t AS tk, "
                "a, (a + 1 + b) % :n AS b_, floor(random() * :pool)::int AS pk, random() AS u, random() AS v, "
                "CAST(:first AS timestamptz) + (g * CAST(:span AS float8) / :games) * interval '1 second' AS at "
                "FROM (SELECT g, (hashint4(g / 2) & 2147483647) % :n AS a, "
                "(hashint4(g / 2 + 7919) & 2147483647) % (:n - 1) AS b FROM generate_series(0, :games - 1) g) s"),
                {"t": TOURNAMENTS, "n": n, "pool": POOL, "games": games, "first": first,
                 "span": SPAN_DAYS * 86400.0})
            conn.execute(sa.text(
                "INSERT INTO scheduled_games (id, tournament_id, pairing, game_index, black_player_id, "
                "white_player_id, opening, seed, dispatched_at, stored_at, created_at) "
                "SELECT g + 1, t.id, least(pa.name, pb.name) || ' vs ' || greatest(pa.name, pb.name), g, "
                "CASE WHEN g % 2 = 0 THEN pa.id ELSE pb.id END, CASE WHEN g % 2 = 0 THEN pb.id ELSE pa.id END, "
                "NULL, g, at - interval '5 minutes', at, at - interval '10 minutes' "
                "FROM bench_games JOIN bench_tournaments t ON t.k = tk "
                "JOIN bench_players pa ON pa.k = a JOIN bench_players pb ON pb.k = b_"))
            # Black wins with the Elo model (colour advantage 30); R/score/draw/forfeit/Void by v.
            conn.execute(sa.text(
                "INSERT INTO finished_games (scheduled_game_id, tournament_id, black_player_id, white_player_id, "
                "result, score, move_count, duration_s, sgf, move_stats, worker, software_version, model_versions, "
                "finished_at) "
                "SELECT g + 1, s.tournament_id, s.black_player_id, s.white_player_id, r.result, r.score, p.moves, 0.05 * p.moves + 2 * u, "
                "'(;GM[1]FF[4]CA[UTF-8]AP[go-arena:bench]SZ[9]KM[7.5]RU[tromp-taylor]PB[' || pb.name || "
                "']PW[' || pw.name || ']RE[' || r.result || ']' || p.body || ')', "
                "p.stats, 'bench-worker-' || (g % 8), 'bench', '{}'::jsonb, at "
                "FROM bench_games JOIN scheduled_games s ON s.id = g + 1 "
                "JOIN players pb ON pb.id = s.black_player_id JOIN players pw ON pw.id = s.white_player_id "
                "JOIN bench_players eb ON eb.id = pb.id JOIN bench_players ew ON ew.id = pw.id "
                "JOIN bench_pool p ON p.k = pk, LATERAL (SELECT "
                "CASE WHEN v < 0.005 THEN 'Void' WHEN v < 0.02 THEN '0' "
                "ELSE (CASE WHEN u < 1 / (1 + power(10, (ew.elo - eb.elo - 30) / 400)) THEN 'B+' ELSE 'W+' END) || "
                "CASE WHEN v < 0.03 THEN 'F' WHEN v < 0.6 THEN 'R' ELSE (floor(v * 40) + 0.5)::text END END AS result, "
                "CASE WHEN v >= 0.6 THEN (CASE WHEN u < 1 / (1 + power(10, (ew.elo - eb.elo - 30) / 400)) "
                "THEN 1 ELSE -1 END) * (floor(v * 40) + 0.5) WHEN v >= 0.005 AND v < 0.02 THEN 0 END AS score) r"))
            # Games written in bulk bypass record_finished_game, which counts each into its pair
            # and its tournament's progress.
            rebuild_rating_pairs(conn)
            rebuild_pentanomials(conn)
            recount_progress(conn)
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('scheduled_games', 'id'), "
                                 "(SELECT coalesce(max(id), 1) FROM scheduled_games))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return LoadedData(players=[p for p, _ in players], tournaments=tournaments, games=games,
                      seconds=time.perf_counter() - start, first=first)


def percentile_ms(samples: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) of latencies in seconds, in ms; None without samples."""
    return round(float(np.percentile(np.asarray(samples), q)) * 1000.0, 2) if samples else None


def _requests(data: LoadedData, rng: random.Random) -> Iterator[tuple[str, dict]]:
    """An endless mix of (endpoint kind, query parameters)."""
    since = (data.first_finished_at + timedelta(days=SPAN_DAYS - 7)).isoformat()
    while True:
        if rng.random() < 0.5:
            params = {} if rng.random() < 0.5 else {"tournament": rng.choice(data.tournaments)}
            yield "leaderboard", params
            continue
        kind = rng.randrange(5)
        if kind == 0:
            params = {"player": rng.choice(data.players)}
        elif kind == 1:
            a, b = rng.sample(data.players, 2)
            params = {"player": a, "opponent": b}
        elif kind == 2:
            params = {"tournament": rng.choice(data.tournaments)}
        elif kind == 3:
            params = {"result": rng.choice(["black", "white", "resign", "draw", "B+R"]),
                      "tournament": rng.choice(data.tournaments)}
        else:
            params = {"since": since, "player": rng.choice(data.players)}
        yield "games", params


async def run_clients(base_url: str, data: LoadedData, *, clients: int, seconds: float,
                      seed: int = 0) -> dict[str, object]:
    """`clients` concurrent clients for `seconds` (see the module doc): latencies per kind, errors."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    latencies: dict[str, list[float]] = {"leaderboard": [], "games": []}
    errors: list[str] = []
    # Warm-up: each leaderboard the clients ask for, once (its first fit is reported); games are
    # not added during the run, so after this the leaderboards are served from the cache, as
    # they are between games in service.
    first = {}
    async with HttpLoadClient(host, port) as conn:
        for params in ({}, *({"tournament": t} for t in data.tournaments)):
            t0 = time.perf_counter()
            status, body = await conn.get("/ratings/leaderboard", params)
            first[json.dumps(params)] = time.perf_counter() - t0
            if status != 200:
                errors.append(f"leaderboard {params}: {status} {body[:200]!r}")
    deadline = time.perf_counter() + seconds

    async def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        conn = await HttpLoadClient(host, port).__aenter__()
        try:
            for kind, params in _requests(data, rng):
                pages = 1 if kind == "leaderboard" else rng.randint(1, 3)
                path = "/ratings/leaderboard" if kind == "leaderboard" else "/games"
                for _ in range(pages):
                    if time.perf_counter() >= deadline:
                        return
                    t0 = time.perf_counter()
                    try:
                        status, body = await conn.get(path, params)
                    except HttpLoadError as exc:
                        errors.append(f"{path} {params}: {exc}")
                        await conn.__aexit__()
                        conn = await HttpLoadClient(host, port).__aenter__()
                        break
                    latencies[kind].append(time.perf_counter() - t0)
                    if status != 200:
                        errors.append(f"{path} {params}: {status} {body[:200]!r}")
                        break
                    if kind == "games":
                        # orjson: the client's cost is taken from the server it measures (http_load).
                        cursor = orjson.loads(body).get("next_cursor")
                        if cursor is None:
                            break
                        params = {**params, "cursor": cursor}
        finally:
            await conn.__aexit__()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    requests = sum(len(v) for v in latencies.values())
    return {"latencies": latencies, "errors": errors, "requests": requests, "elapsed": elapsed,
            "first_leaderboard_s": max(first.values())}


@contextlib.contextmanager
def api_server(url: str, *, workers: int = 1, log: Path | None = None) -> Iterator[str]:
    """The real API process (`python -m arena.cli api`) on a free loopback port; its base URL."""
    import httpx

    port = free_port()
    env = {**os.environ, "ARENA_DATABASE_URL": url, "ARENA_API_PUBLIC_READS": "true"}
    out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "arena.cli", "api", "--port", str(port),
                             "--workers", str(workers)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API process exited with {proc.returncode}"
                                   + (f" (log: {log})" if log else ""))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the API process did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not None:
            out.close()


@contextlib.contextmanager
def fresh_database(server_url: str | None) -> Iterator[str]:
    """A new migrated database on `server_url` (a URL allowed to create databases), dropped after;
    None: on an embedded PostgreSQL in a temporary directory, stopped and removed after."""
    from arena.db import embedded, migrate
    from arena.db.connection import normalize_url

    with contextlib.ExitStack() as stack:
        if server_url is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arena-bench-")))
            server_url = embedded.start(tmp)
            stack.callback(embedded.stop, tmp)
        server_url = normalize_url(server_url)
        name = f"arena_bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        stack.callback(admin.dispose)
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        stack.callback(drop)
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        yield url


def leaderboard_after_a_game(url: str) -> float:
    """Seconds from a new game being stored to its leaderboard (every game's pool) being fitted,
    in this process as a server does it (`LeaderboardService.get`): the key, the game set from the
    kept pair counts, and the fit, which the API processes have not made yet."""
    engine = sa.create_engine(url)
    try:
        service = LeaderboardService(RatingPolicy())
        with session_scope(engine) as session:
            service.get(session)  # the current one (the API stored its fit)
            tournament_id, black, white = session.execute(sa.text(
                "SELECT tournament_id, black_player_id, white_player_id FROM scheduled_games ORDER BY id LIMIT 1")).one()
            [game_id] = schedule_games(session, tournament_id=tournament_id, games=[GameSpec(
                pairing="bench after-game", game_index=10**8, black_player_id=black, white_player_id=white, seed=0)])
            record_finished_game(session, scheduled_game_id=game_id, result="B+R", move_count=0, duration_s=0.0,
                                 sgf="(;GM[1]FF[4]SZ[9]RE[B+R])")
        start = time.perf_counter()
        with session_scope(engine) as session:
            service.get(session)
        return time.perf_counter() - start
    finally:
        engine.dispose()


def benchmark_api(*, games: int = 100_000, clients: int = 50, seconds: float = 20.0, api_workers: int = 1,
                  server_url: str | None = None, seed: int = 0, log: Path | None = None,
                  players: int = CHECKPOINTS + len(ENGINE_LEVELS)) -> dict:
    """Load `games` into a fresh database, serve it, drive `clients` for `seconds` (module doc)."""
    with fresh_database(server_url) as url:
        data = load_games(url, games, seed=seed, player_count=players)
        with api_server(url, workers=api_workers, log=log) as base:
            result = run(run_clients(base, data, clients=clients, seconds=seconds, seed=seed))
        after_game_s = leaderboard_after_a_game(url)
    lat = result["latencies"]
    return {
        "bench": "api",
        "games": games,
        "clients": clients,
        "seconds": seconds,
        "api_workers": api_workers,
        "load_s": round(data.seconds, 2),
        "requests": result["requests"],
        "errors": len(result["errors"]),
        "error_samples": result["errors"][:5],
        "rps": round(result["requests"] / result["elapsed"], 1),
        "leaderboard_requests": len(lat["leaderboard"]),
        "leaderboard_p50_ms": percentile_ms(lat["leaderboard"], 50),
        "leaderboard_p99_ms": percentile_ms(lat["leaderboard"], 99),
        "games_requests": len(lat["games"]),
        "games_p50_ms": percentile_ms(lat["games"], 50),
        "games_p99_ms": percentile_ms(lat["games"], 99),
        "first_leaderboard_ms": round(result["first_leaderboard_s"] * 1000.0, 1),
        "players": len(data.players),
        "leaderboard_after_game_ms": round(after_game_s * 1000.0, 1),
    }
