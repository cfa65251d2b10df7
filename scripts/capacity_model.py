"""Capacity model of Go Arena: the arithmetic behind the tables of docs/capacity.md.

Every input is named and carries its source: `measured` here (with the command and the machine's
load), `cited` (a public URL), `code` (a constant of this repository) or `assumed` (a planning
choice, to be replaced by a measurement). The model is plain arithmetic over those inputs:

    evals per game      = moves per game x visits per move       (every playout one leaf evaluation:
                                                                   an upper bound, no tree reuse)
    games/h per device  = evals/s per device x 3600 / evals per game
    leaves per request  = block size / players per block / pipeline groups
    search cores/device = evals/s per device x (search us per playout
                          + gRPC client us per request / leaves per request, served profiles) / 1e6
    workers per GPU     = max(search cores, batch target / leaves per request), rounded up
    PG bytes per game   = fixed bytes + bytes per move x moves per game

Usage (prints markdown; `--check` compares with the tables embedded in a document):

    python scripts/capacity_model.py
    python scripts/capacity_model.py --inputs overrides.json     # {"name": value, ...}
    python scripts/capacity_model.py --check docs/capacity.md    # exit 1 if the doc is stale
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

BEGIN = "<!-- capacity-model:begin -->"
END = "<!-- capacity-model:end -->"
LOAD = "2-core dev machine, load avg ~11 (3 other helpers' test suites)"


@dataclass(frozen=True)
class Input:
    value: float
    unit: str
    source: str  # "measured: ...", "cited: URL ...", "code: ...", "assumed: ..."

    @property
    def kind(self) -> str:
        return self.source.split(":", 1)[0]


KATAGO_4090 = "https://github.com/lightvector/KataGo/issues/1041"
KATAGO_4060 = "https://github.com/lightvector/KataGo/issues/852"
KATAGO_A100 = "https://github.com/lightvector/KataGo/issues/452"
LZ_V100 = "https://github.com/leela-zero/leela-zero/issues/2452"
OGS_LENGTH = "https://forums.online-go.com/t/average-game-length-on-different-board-sizes/35042/1"

DEFAULT_INPUTS: dict[str, Input] = {
    # Networks on one device: evaluations per second.
    "cpu_demo_evals_b64": Input(4148, "evals/s", "measured: demo b4c32 9x9, bare `TorchEvaluator.evaluate`, "
                                "batch 64, 1 torch thread, machine otherwise idle"),
    "cpu_demo_evals_b1": Input(1093, "evals/s", "measured: same, batch 1"),
    "cpu_b6c96_9_evals_b64": Input(73, "evals/s", "measured: b6c96 9x9 (random weights), batch 64, "
                                   f"1 thread; {LOAD}: the demo net read 7x slower under that load than idle"),
    "cpu_b6c96_19_evals_b64": Input(32, "evals/s", "measured: b6c96 19x19, batch 64, 1 thread; same load"),
    "gpu_b28_4090_evals": Input(2158, "evals/s", f"cited: {KATAGO_4090} RTX 4090, b28, 40 threads, avg batch 19.2"),
    "gpu_b40_4060ti_evals": Input(1781, "evals/s", f"cited: {KATAGO_4060} RTX 4060 Ti, 40 blocks, TensorRT"),
    "gpu_kata1_a100_visits": Input(4375, "visits/s", f"cited: {KATAGO_A100} ~35k visits/s on 8xA100, kata1 s708, /8"),
    "gpu_b20c256_v100_visits": Input(5350, "visits/s", f"cited: {LZ_V100} V100, 20x256 (LZ170), 24 threads, "
                                     "~53.5k visits in 10 s"),
    # Search cost on one CPU core.
    "search_us_9": Input(3.857, "us/playout", "measured: `arena bench search --board-size 9 --visits 200 "
                         "--games 64`, load avg ~1"),
    "search_us_19": Input(19.18, "us/playout", "measured: same with --board-size 19, load avg ~2"),
    # A served network's request costs its worker CPU too: the gRPC client's.
    "grpc_client_us": Input(450, "us/request", "measured: `TritonEvaluator.evaluate` client CPU per request, "
                            "loopback, serial: 430-500 us at 9x9 for 1-64 rows, 320-410 us at 19x19 for 1-8 rows "
                            "(64 rows of 19x19, 1.6 MB: 3,300 us, 1,400-1,600 us with workers keeping freed memory)"),
    # Games.
    "moves_9": Input(43.1, "moves/game", "measured: 1,380 moves in the 32 demo games of `today_games_per_hour` "
                     "(the api loader's games: 71)"),
    "moves_19": Input(257, "moves/game", f"cited: {OGS_LENGTH} pro games played to counting"),
    "today_games_per_hour": Input(11716.2, "games/h", "measured: `arena bench throughput --board-size 9 --visits 32 "
                                  "--games 32 --baseline-games 1`, demo nets in process, mean batch 10, "
                                  "machine otherwise idle"),
    # The scale tiers start from a research group's evaluation load, not from this machine's speed.
    "today_games_per_day": Input(10_000, "games/day", "assumed: ~20 new checkpoints a day, each rated by a "
                                 "500-game gauntlet (a 2-core machine plays 9x9 demo games at "
                                 "`today_games_per_hour` x 24 = 281k a day)"),
    # Dispatch (arena/tournaments.py, search_workers/tasks.py).
    "block_size": Input(32, "games/message", "code: arena/tournaments.py DEFAULT_BLOCK_SIZE"),
    "players_per_block": Input(2, "networks", "code: blocks are grouped by pairing (block_payloads)"),
    "pipeline_groups": Input(2, "groups", "code: ARENA_TRITON_PIPELINE_GROUPS's default (arena/settings.py)"),
    "lease_extend_s": Input(7.5, "s", "code: lease_s 30 / 4 (search_workers/leases.py): lease UPDATE + heartbeat"),
    "batch_target_big": Input(19.2, "leaves/batch", f"cited: {KATAGO_4090} avg batch of the 2,158 evals/s figure"),
    "batch_target_small": Input(256, "leaves/batch", "assumed: a small net needs a large batch to fill a GPU; measure"),
    # PostgreSQL, measured on 100,000 loader games in a scratch database (created and dropped).
    "pg_fixed_bytes": Input(910, "bytes/game", "measured: finished + scheduled rows, indexes, TOAST, "
                            "less sgf and move_stats; 1M loader games after migration 0009 (661 before)"),
    "pg_bytes_per_move": Input(40.4, "bytes/move", "measured: sgf 6.2 + move_stats 34.2 (full-precision floats)"),
    # Ratings: one compute_ratings fit over PairCounts (its cost depends on players and pairs, not
    # games: the counts are kept as games are stored), machine otherwise idle, median of 3.
    "fit_s_10": Input(0.003, "s", "measured: 10 players, 90 pairs"),
    "fit_s_100": Input(0.073, "s", "measured: 100 players, 9,900 pairs"),
    "fit_s_300": Input(0.86, "s", "measured: 300 players, 89,700 pairs"),
    "fit_s_1000": Input(1.69, "s", "measured: 1,000 players in a ladder (4 neighbours each, 4,000 pairs); "
                        "all 999,000 pairs took 79 s under load"),
    # Planning thresholds.
    "gpu_utilisation": Input(0.7, "fraction", "assumed: share of the day a GPU's batch is full"),
    "gpus_per_triton": Input(8, "GPUs", "assumed: one Triton instance per 8-GPU host"),
    "fit_budget_s": Input(2.0, "s", "code: docs/benchmarks.md target, fit < 2 s"),
    "pg_tb_per_year": Input(1.0, "TB/year", "assumed: beyond this, partition and archive finished_games"),
    "pg_writes_per_s": Input(5000, "writes/s", "assumed: small writes one PG primary takes comfortably; "
                             "measure with pgbench"),
}


@dataclass(frozen=True)
class Profile:
    """One way of playing games: a network on a device, a board, visits per move."""

    name: str
    board: int
    visits: int
    evals_per_s: float
    batch_target: float | None  # None: the network runs in the worker's process (CPU)
    source: str


def flop_scaled(inputs: dict[str, Input], blocks: int, channels: int, board: int) -> float:
    """Evals/s of a (blocks x channels) net on `board`, scaled by trunk FLOPs (blocks * channels^2 *
    points) from the cited V100 20x256 19x19 figure: a ceiling, since small batches are latency-bound."""
    base = inputs["gpu_b20c256_v100_visits"].value
    return base * (20 * 256 ** 2 * 361) / (blocks * channels ** 2 * board ** 2)


def profiles(inputs: dict[str, Input]) -> list[Profile]:
    v = {k: i.value for k, i in inputs.items()}
    small_gpu, small_batch = "b6c96, 1 GPU (V100, ceiling)", v["batch_target_small"]
    return [
        Profile("demo b4c32, CPU 1 thread", 9, 64, v["cpu_demo_evals_b64"], None, "measured"),
        Profile("b6c96, CPU 1 thread", 19, 200, v["cpu_b6c96_19_evals_b64"], None, "measured"),
        Profile(small_gpu, 9, 64, flop_scaled(inputs, 6, 96, 9), small_batch, "derived"),
        Profile(small_gpu, 19, 200, flop_scaled(inputs, 6, 96, 19), small_batch, "derived"),
        Profile("b20c256, V100", 19, 400, v["gpu_b20c256_v100_visits"], v["batch_target_big"], "cited"),
        Profile("kata1 s708 (UEC 2021), A100", 19, 400, v["gpu_kata1_a100_visits"], v["batch_target_big"], "cited"),
        Profile("b28, RTX 4090", 19, 400, v["gpu_b28_4090_evals"], v["batch_target_big"], "cited"),
        Profile("b40, RTX 4060 Ti (TensorRT)", 19, 400, v["gpu_b40_4060ti_evals"], v["batch_target_big"], "cited"),
    ]


@dataclass(frozen=True)
class ProfileRow:
    profile: Profile
    evals_per_game: float
    games_per_hour: float
    search_cores: float
    workers: int | None  # search worker processes per GPU; None for in-process CPU


def profile_row(inputs: dict[str, Input], p: Profile) -> ProfileRow:
    v = {k: i.value for k, i in inputs.items()}
    moves = v[f"moves_{p.board}"]
    evals_per_game = moves * p.visits
    games_per_hour = p.evals_per_s * 3600 / evals_per_game
    if p.batch_target is None:  # in-process: no requests, the worker count is not a question
        return ProfileRow(p, evals_per_game, games_per_hour, p.evals_per_s * v[f"search_us_{p.board}"] / 1e6, None)
    leaves = v["block_size"] / v["players_per_block"] / v["pipeline_groups"]
    search_cores = p.evals_per_s * (v[f"search_us_{p.board}"] + v["grpc_client_us"] / leaves) / 1e6
    workers = max(math.ceil(search_cores), math.ceil(p.batch_target / leaves))
    return ProfileRow(p, evals_per_game, games_per_hour, search_cores, workers)


def pg_bytes_per_game(inputs: dict[str, Input], board: int) -> float:
    return inputs["pg_fixed_bytes"].value + inputs["pg_bytes_per_move"].value * inputs[f"moves_{board}"].value


@dataclass(frozen=True)
class Tier:
    factor: int
    games_per_day: float
    players: int
    gpus_9: float  # b6c96 9x9 V=64 (ceiling)
    gpus_19: float  # b20c256 19x19 V=400 on V100
    workers_19: float
    rows_per_s: float
    pg_gb_per_day_19: float
    broker_msgs_per_s: float
    lease_updates_per_s: float
    fit_s: float
    bottlenecks: tuple[str, ...]


TIER_PLAYERS = {1: 10, 10: 100, 100: 300, 1000: 1000}  # assumed pool sizes (the measured fits)


def tier(inputs: dict[str, Input], factor: int) -> Tier:
    v = {k: i.value for k, i in inputs.items()}
    rows = {(r.profile.name, r.profile.board): r for r in map(lambda p: profile_row(inputs, p), profiles(inputs))}
    small, big = rows[("b6c96, 1 GPU (V100, ceiling)", 9)], rows[("b20c256, V100", 19)]
    games_day = v["today_games_per_day"] * factor
    per_gpu_day = 24 * v["gpu_utilisation"]
    gpus_19 = games_day / (big.games_per_hour * per_gpu_day)
    workers_19 = gpus_19 * big.workers
    games_s = games_day / 86400
    gb_day = games_day * pg_bytes_per_game(inputs, 19) / 1e9
    fit = v[f"fit_s_{TIER_PLAYERS[factor]}"]
    lease_writes = workers_19 * 2 / v["lease_extend_s"]  # lease extend + worker heartbeat per tick
    checks = (
        (math.ceil(gpus_19) > v["gpus_per_triton"], "GPUs > one Triton host"),
        (fit > v["fit_budget_s"], "leaderboard fit > budget"),
        (gb_day * 365 / 1000 > v["pg_tb_per_year"], "PG storage > TB/year budget"),
        (lease_writes + 2 * games_s > v["pg_writes_per_s"], "PG writes/s > one primary"),
    )
    return Tier(factor, games_day, TIER_PLAYERS[factor], games_day / (small.games_per_hour * per_gpu_day), gpus_19,
                workers_19, 2 * games_s, gb_day, games_s / v["block_size"], lease_writes, fit,
                tuple(text for hit, text in checks if hit))


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}" if x >= 0.01 else f"{x:.1g}"


def render(inputs: dict[str, Input]) -> str:
    """The markdown tables of docs/capacity.md."""
    out = ["**Inputs**", "", "| input | value | unit | source |", "|---|---:|---|---|"]
    for name, i in inputs.items():
        out.append(f"| `{name}` | {i.value:,.6g} | {i.unit} | {i.source} |")
    out += ["", "**Per device**", "",
            "| network, device | board | visits | evals/s | evals/game | games/h | search cores | workers/GPU "
            "| source |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in map(lambda p: profile_row(inputs, p), profiles(inputs)):
        p = r.profile
        workers = "in-process" if r.workers is None else str(r.workers)
        out.append(f"| {p.name} | {p.board}x{p.board} | {p.visits} | {_num(p.evals_per_s)} | {_num(r.evals_per_game)} "
                   f"| {_num(r.games_per_hour)} | {_num(r.search_cores)} | {workers} | {p.source} |")
    out += ["", "**Scale tiers** (today = `today_games_per_day`)", "",
            "| load | games/day | players | GPUs 9x9 b6c96 | GPUs 19x19 b20c256 | search workers 19x19 "
            "| PG rows/s | PG GB/day 19x19 | broker msg/s | lease writes/s | fit s | limits first hit |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    seen: set[str] = set()
    for factor in TIER_PLAYERS:
        t = tier(inputs, factor)
        hits = "; ".join(b for b in t.bottlenecks if b not in seen) or "-"
        seen.update(t.bottlenecks)
        out.append(f"| {factor}x | {_num(t.games_per_day)} | {t.players} | {_num(t.gpus_9)} | {_num(t.gpus_19)} "
                   f"| {_num(t.workers_19)} | {_num(t.rows_per_s)} | {_num(t.pg_gb_per_day_19)} "
                   f"| {_num(t.broker_msgs_per_s)} | {_num(t.lease_updates_per_s)} | {_num(t.fit_s)} | {hits} |")
    return "\n".join(out) + "\n"


def embedded_tables(document: str) -> str:
    """The text between the BEGIN and END markers of `document`."""
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    return document[start:end].strip("\n") + "\n"


def load_inputs(path: Path | None) -> dict[str, Input]:
    """The default inputs, with values from the JSON object at `path` ({"name": number}) replacing theirs."""
    inputs = dict(DEFAULT_INPUTS)
    if path is not None:
        for name, value in json.loads(path.read_text()).items():
            if name not in inputs:
                raise SystemExit(f"unknown input {name!r}; known: {', '.join(inputs)}")
            inputs[name] = replace(inputs[name], value=float(value), source=f"override: {path.name}")
    return inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=Path, help="JSON object of input overrides {name: value}")
    parser.add_argument("--check", type=Path, help="document whose embedded tables must equal the output")
    args = parser.parse_args(argv)
    tables = render(load_inputs(args.inputs))
    if args.check is not None:
        if embedded_tables(args.check.read_text()) != tables:
            print(f"{args.check}: tables differ from the model's output; regenerate them", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
