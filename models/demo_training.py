"""The demo checkpoints: one reproducible supervised run of small 9x9 networks on GNU Go games.

    python -m models.demo_training --out models/demo_checkpoints --workdir WORKDIR

1. Data (`models.gnugo_selfplay`): GNU Go level-1 self-play (`--capture-all-dead`) with 2-4
   random opening moves and, in half the games, one random middle-game pass; cached as JSON
   lines in the workdir and replayed through our `GameState`.
2. Training: policy target = GNU Go's move (pass included), value target = GNU Go's final
   score from the side to move's view; random dihedral augmentation; one seeded,
   deterministic, single-threaded run; 10% of the games held out for validation.
3. Checkpoints: several snapshots along that one run, saved with `save_checkpoint`, each
   naming its predecessor as parent, so the arena gets players of clearly rising strength.
4. Evidence (`evaluate_strength`): raw-policy matches between the checkpoints and against
   GNU Go, written to RESULTS.md beside the checkpoints.

The same arguments give the same games and, on the same torch version, the same weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.gnugo_selfplay import (
    BOARD_SIZE,
    DATA_VERSION,
    RANDOM_PASS_GAMES,
    GameRecord,
    demo_rules,
    generate_games,
    play_against_gnugo,
    replay,
)
from models.network import NetworkConfig, PolicyValueNet, parameter_count
from search_workers.go import Color, GameState, coords, stack_features

SCRIPT_VERSION = 2
RUN_NAME = "demo-9x9"
# ~83k parameters, ~0.35 MB as float32 safetensors: small enough to commit several and to
# train on one CPU core in minutes, large enough to learn GNU Go's shape moves.
CONFIG = NetworkConfig(blocks=4, channels=32, value_hidden=32)
BATCH = 256
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-2  # AdamW's decoupled decay: the data is only a few hundred games
VALUE_WEIGHT = 0.5  # game outcomes are noisy and shared by a whole game's positions: easy to overfit
# Checkpoints as fractions of the run: early ones far apart in steps, later ones further
# still, because strength grows roughly with log(steps). Raw-policy matches between nets that
# are close in strength are noisy: (1/40, 1/20, 1/4, 1) gave step 2000 only 58/100 against step
# 500 (although 13/40 against GNU Go to 500's 1/40), so the committed run uses these.
SAVE_FRACTIONS = (1 / 40, 1 / 8, 1 / 2, 1.0)
VALIDATION_EVERY = 10  # game index % 10 == 9 is held out


# ---------------------------------------------------------------------------- data

@dataclass
class Positions:
    features: torch.Tensor  # float16 [P, 17, N, N]: every plane value (0, 1, +-0.5) is exact in half
    policy: torch.Tensor  # int64 [P]: GNU Go's move, pass = N*N
    value: torch.Tensor  # float32 [P]: result for the side to move, +1/-1 (0 jigo)

    def __len__(self) -> int:
        return len(self.policy)


def build_positions(records: list[GameRecord]) -> Positions:
    """Positions before each GNU Go move; the random moves are not GNU Go's, so they are no target."""
    features, policy, value = [], [], []
    for record in records:
        states = replay(record)
        for_black = record.value_for_black()
        for i in range(len(record.moves)):
            if not record.is_gnugo_move(i):
                continue
            state = states[i]
            features.append(state.features())
            policy.append(coords.from_gtp(record.moves[i], BOARD_SIZE))
            value.append(for_black if state.to_move is Color.BLACK else -for_black)
    return Positions(torch.from_numpy(np.stack(features)).half(), torch.tensor(policy, dtype=torch.int64),
                     torch.tensor(value, dtype=torch.float32))


def dihedral(x: torch.Tensor, t: int) -> torch.Tensor:
    """The t-th of the 8 symmetries of the square (t % 4 quarter turns, then a flip if t >= 4)."""
    x = torch.rot90(x, t % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if t >= 4 else x


def dihedral_move_tables(n: int) -> torch.Tensor:
    """int64 [8, n*n+1]: where move p goes under symmetry t; pass stays pass."""
    grid = torch.arange(n * n).reshape(n, n)
    tables = []
    for t in range(8):
        source = dihedral(grid, t).flatten()  # source[q]: the old point now at q
        tables.append(torch.cat([torch.argsort(source), torch.tensor([n * n])]))
    return torch.stack(tables)


def augment(x: torch.Tensor, y: torch.Tensor, symmetries: torch.Tensor, tables: torch.Tensor):
    """Apply symmetry symmetries[i] to sample i: feature planes and policy target together."""
    x, y = x.clone(), tables[symmetries, y]
    for t in range(1, 8):
        chosen = symmetries == t
        if chosen.any():
            x[chosen] = dihedral(x[chosen], t)
    return x, y


# ---------------------------------------------------------------------------- training

@dataclass
class Snapshot:
    step: int
    state_dict: dict
    validation: dict


@torch.no_grad()
def validate(net: PolicyValueNet, data: Positions) -> dict:
    net.eval()
    hits, ce, mse = 0.0, 0.0, 0.0
    for start in range(0, len(data), 1024):
        x = data.features[start:start + 1024].float()
        logits, value = net(x)
        y, z = data.policy[start:start + 1024], data.value[start:start + 1024]
        hits += (logits.argmax(1) == y).sum().item()
        ce += F.cross_entropy(logits, y, reduction="sum").item()
        mse += (value - z).square().sum().item()
    net.train()
    n = len(data)
    return {"policy_accuracy": round(hits / n, 4), "policy_loss": round(ce / n, 4), "value_mse": round(mse / n, 4)}


def save_steps(steps: int) -> list[int]:
    """The steps that become checkpoints."""
    return sorted({max(1, round(f * steps)) for f in SAVE_FRACTIONS})


def snapshot_steps(steps: int) -> list[int]:
    """The steps snapshotted and validated: the checkpoints' plus every 1/20 of the run, which
    logs the learning curve and lets SAVE_FRACTIONS change without retraining."""
    return sorted(set(save_steps(steps)) | {max(1, round(k * steps / 20)) for k in range(1, 21)})


def train(train_data: Positions, val_data: Positions, *, steps: int, seed: int, log=print) -> list[Snapshot]:
    """One seeded run; returns the snapshots at `snapshot_steps(steps)` with their validation metrics."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = PolicyValueNet(CONFIG)
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    # Short warm-up (BatchNorm statistics start from nothing), then cosine decay to 5%.
    warmup = max(1, steps // 50)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * (
        0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))))
    tables = dihedral_move_tables(BOARD_SIZE)
    wanted = snapshot_steps(steps)
    snapshots: list[Snapshot] = []
    order, cursor = rng.permutation(len(train_data)), 0
    running, t0 = None, time.perf_counter()
    for step in range(1, steps + 1):
        if cursor + BATCH > len(order):  # a fresh permutation each epoch
            order, cursor = rng.permutation(len(train_data)), 0
        index = torch.from_numpy(order[cursor:cursor + BATCH])
        cursor += BATCH
        symmetries = torch.from_numpy(rng.integers(0, 8, size=BATCH))
        x, y = augment(train_data.features[index].float(), train_data.policy[index], symmetries, tables)
        logits, value = net(x)
        policy_loss = F.cross_entropy(logits, y)
        value_loss = F.mse_loss(value, train_data.value[index])
        loss = policy_loss + VALUE_WEIGHT * value_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        current = np.array([policy_loss.item(), value_loss.item()])
        running = current if running is None else 0.98 * running + 0.02 * current
        if step in wanted:
            metrics = validate(net, val_data)
            snapshots.append(Snapshot(step, {k: v.clone() for k, v in net.state_dict().items()}, metrics))
            log(f"  step {step}: train policy {running[0]:.3f} value {running[1]:.3f}; validation {metrics}; "
                f"{time.perf_counter() - t0:.0f} s")
    return snapshots


def net_from(state_dict: dict) -> PolicyValueNet:
    net = PolicyValueNet(CONFIG)
    net.load_state_dict(state_dict)
    return net.eval()


# ---------------------------------------------------------------------------- strength

def choose_moves(net: PolicyValueNet, states: list[GameState], rng: np.random.Generator,
                 sample_moves: int = 4) -> list[int]:
    """Raw policy: argmax over legal moves; the first `sample_moves` moves sampled at temperature 1."""
    with torch.no_grad():
        logits, _ = net(torch.from_numpy(stack_features(states)))
    legal = torch.from_numpy(np.stack([s.legal_moves() for s in states]))
    logits = logits.double().masked_fill(~legal, -math.inf)
    probs = torch.softmax(logits, dim=1).numpy()
    moves = []
    for state, row, p in zip(states, logits, probs):
        if state.move_number < sample_moves:
            moves.append(int(rng.choice(len(p), p=p / p.sum())))
        else:
            moves.append(int(row.argmax()))
    return moves


def raw_policy_player(net: PolicyValueNet, rng: np.random.Generator):
    """A player for `play_against_gnugo`: state -> the raw policy's move."""
    return lambda state: choose_moves(net, [state], rng)[0]


def game_over(state: GameState, max_moves: int) -> bool:
    return state.consecutive_passes >= 2 or state.move_number >= max_moves


def play_match(net_a: PolicyValueNet, net_b: PolicyValueNet, games: int, *, seed: int,
               max_moves: int = 150) -> int:
    """Raw-policy games, A Black in the even games and White in the odd ones; returns A's wins.

    All games advance together so each network move is one batched forward pass. A game ends at
    two passes or `max_moves`, and is scored by Tromp-Taylor area (komi 7.5: no draws).
    """
    rng = np.random.default_rng(seed)
    states = [GameState.new(BOARD_SIZE, demo_rules()) for _ in range(games)]
    a_colour = [Color.BLACK if g % 2 == 0 else Color.WHITE for g in range(games)]
    while not all(game_over(s, max_moves) for s in states):
        for net, a_to_move in ((net_a, True), (net_b, False)):
            group = [g for g in range(games) if not game_over(states[g], max_moves)
                     and (states[g].to_move is a_colour[g]) == a_to_move]
            if group:
                for g, move in zip(group, choose_moves(net, [states[g] for g in group], rng)):
                    states[g] = states[g].play(move)
    return sum((s.score() > 0) == (c is Color.BLACK) for s, c in zip(states, a_colour))


def binomial_interval(wins: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a win rate, by bisection on the binomial tail."""
    def tail(k_from: int, p: float) -> float:  # P(X >= k_from) for X ~ Binomial(n, p)
        return sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(k_from, n + 1))

    def solve(f, target: float) -> float:  # f increasing in p
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
        return (lo + hi) / 2

    alpha = 1 - confidence
    lower = 0.0 if wins == 0 else solve(lambda p: tail(wins, p), alpha / 2)
    upper = 1.0 if wins == n else solve(lambda p: tail(wins + 1, p), 1 - alpha / 2)
    return lower, upper


def evaluate_strength(players: list, *, games: int = 200, gnugo_games: int = 40, gnugo_level: int = 1,
                      seed: int = 0, log=print) -> list[dict]:
    """Consecutive checkpoints and first vs last with the raw policy; then each against GNU Go.

    `players`: (name, network) pairs or checkpoint paths, oldest first. Returns rows
    {player, opponent, games, wins, win_rate, low, high} from the first (newer) player's side.
    """
    from models.checkpoint import load_checkpoint

    # The caller's own checkpoint files (exports included).
    players = [p if isinstance(p, tuple) else (Path(p).stem, load_checkpoint(p, allow_executable=True).module)
               for p in players]
    pairings = [(i, i + 1) for i in range(len(players) - 1)]
    if len(players) > 2:
        pairings.append((0, len(players) - 1))
    rows = []

    def row(player: str, opponent: str, wins: int, n: int) -> None:
        low, high = binomial_interval(wins, n)
        rows.append({"player": player, "opponent": opponent, "games": n, "wins": int(wins),
                     "win_rate": wins / n, "low": low, "high": high})
        log(f"  {player} vs {opponent}: {wins}/{n}")

    for k, (i, j) in enumerate(pairings):
        # The later checkpoint is the first player, so every row reads "newer beats older".
        row(players[j][0], players[i][0], play_match(players[j][1], players[i][1], games, seed=seed + k), games)
    if gnugo_games:
        for k, (name, net) in enumerate(players):
            player = raw_policy_player(net, np.random.default_rng([seed, 100 + k]))
            wins = play_against_gnugo(player, gnugo_games, level=gnugo_level, seed=seed + 100 + k)
            row(name, f"GNU Go level {gnugo_level}", wins, gnugo_games)
    return rows


def strength_table(rows: list[dict]) -> str:
    lines = ["| player | opponent | games | wins | win rate | 95% interval |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['player']} | {r['opponent']} | {r['games']} | {r['wins']} | {r['win_rate']:.0%} "
                     f"| {r['low']:.0%}-{r['high']:.0%} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- the run

def _cached_training(cache: Path, train_data: Positions, val_data: Positions, *, steps: int, seed: int,
                     log=print) -> tuple[list[Snapshot], float]:
    """Train, or read back the snapshots of an identical earlier run (`cache` is named by a hash of
    every input of the run; the snapshot steps do not change the weights, only which are kept)."""
    if cache.exists():
        saved = torch.load(cache, weights_only=True)
        if set(save_steps(steps)) <= {s["step"] for s in saved["snapshots"]}:
            log(f"training: reusing {cache}")
            return [Snapshot(s["step"], s["state_dict"], s["validation"]) for s in saved["snapshots"]], saved["seconds"]
    t0 = time.perf_counter()
    snapshots = train(train_data, val_data, steps=steps, seed=seed, log=log)
    seconds = time.perf_counter() - t0
    torch.save({"seconds": seconds, "snapshots": [s.__dict__ for s in snapshots]}, cache)
    return snapshots, seconds


def run(out: Path, workdir: Path, *, games: int, steps: int, seed: int, level: int = 1, eval_games: int = 200,
        gnugo_games: int = 40, log=print) -> list[dict]:
    """The whole pipeline: games -> positions -> one training run -> checkpoints -> RESULTS.md."""
    from models.checkpoint import load_checkpoint, save_checkpoint
    from models.gnugo_selfplay import read_timing

    torch.set_num_threads(1)  # the machine is shared; one core also keeps the run deterministic
    torch.use_deterministic_algorithms(True)
    workdir.mkdir(parents=True, exist_ok=True)
    games_path = workdir / f"games-v{DATA_VERSION}-level{level}-seed{seed}.jsonl"
    records = generate_games(games_path, games, level=level, seed=seed, log=log)
    timing = read_timing(games_path)
    held_out = [r for r in records if r.index % VALIDATION_EVERY == VALIDATION_EVERY - 1]
    train_data = build_positions([r for r in records if r.index % VALIDATION_EVERY != VALIDATION_EVERY - 1])
    val_data = build_positions(held_out)
    log(f"positions: {len(train_data)} training, {len(val_data)} validation ({len(held_out)} games held out)")

    key = hashlib.sha256(json.dumps([SCRIPT_VERSION, games, level, seed, steps, CONFIG.to_dict(), BATCH,
                                     LEARNING_RATE, WEIGHT_DECAY, VALUE_WEIGHT,
                                     torch.__version__]).encode()).hexdigest()[:16]
    snapshots, train_seconds = _cached_training(workdir / f"snapshots-{key}.pt", train_data, val_data,
                                                steps=steps, seed=seed, log=log)
    out.mkdir(parents=True, exist_ok=True)
    for stale in list(out.glob(f"{RUN_NAME}-s*.json")) + list(out.glob(f"{RUN_NAME}-s*.safetensors")):
        stale.unlink()  # a run with other --steps must not leave checkpoints of another run behind
    players, parent, rows_ckpt = [], None, []
    for snap in [s for s in snapshots if s.step in save_steps(steps)]:
        name = f"{RUN_NAME}-s{snap.step:06d}"
        metadata = {
            "script": f"models.demo_training v{SCRIPT_VERSION}", "torch": torch.__version__,
            "data": {"source": "GNU Go self-play, --capture-all-dead", "gnugo_level": level, "games": len(records),
                     "data_version": DATA_VERSION, "random_pass_games": RANDOM_PASS_GAMES,
                     "validation_games": len(held_out), "training_positions": len(train_data),
                     "random_opening_moves": "2-4", "max_moves": 150, "rules": "chinese, komi 7.5", "seed": seed},
            "training": {"steps": steps, "batch": BATCH, "optimizer": "AdamW", "learning_rate": LEARNING_RATE,
                         "schedule": "warm-up then cosine to 5%", "weight_decay": WEIGHT_DECAY,
                         "value_weight": VALUE_WEIGHT, "augmentation": "random dihedral", "seed": seed},
            "validation": snap.validation,
        }
        path = save_checkpoint(net_from(snap.state_dict), out, name, board_sizes=[BOARD_SIZE],
                               training_step=snap.step, run_name=RUN_NAME, parent=parent, metadata=metadata)
        loaded = load_checkpoint(path)  # evaluate what was written, not what is in memory
        parent = loaded.sha256
        players.append((name, loaded.module))
        size = path.stat().st_size + loaded.weights_path.stat().st_size
        rows_ckpt.append({"name": name, "step": snap.step, "bytes": size, **snap.validation})
        log(f"saved {name} ({size} bytes with its manifest)")
    log("strength (raw policy):")
    t0 = time.perf_counter()
    rows = evaluate_strength(players, games=eval_games, gnugo_games=gnugo_games, gnugo_level=level, seed=seed,
                             log=log)
    eval_seconds = time.perf_counter() - t0
    write_results(out / "RESULTS.md", rows_ckpt, rows, games=len(records), level=level, seed=seed, steps=steps,
                  positions=len(train_data), timing=timing, train_seconds=train_seconds, eval_seconds=eval_seconds)
    return rows


def write_results(path: Path, checkpoints: list[dict], rows: list[dict], *, games: int, level: int, seed: int,
                  steps: int, positions: int, timing: dict, train_seconds: float, eval_seconds: float) -> None:
    params = parameter_count(PolicyValueNet(CONFIG))
    generation = f"{timing['seconds']:.0f} s for {timing['games']} games" if timing["games"] else "not recorded"
    command = (f"python -m models.demo_training --out models/demo_checkpoints --workdir WORKDIR "
               f"--games {games} --steps {steps} --seed {seed}")
    how = [
        (f"**Data:** {games} GNU Go 3.8 level-{level} self-play games on 9x9 (Chinese rules, situational superko, "
         "komi 7.5, `--capture-all-dead`), each opened with 2-4 uniformly random legal moves, half of them with one "
         "random middle-game pass, played to two passes, a resignation or 150 moves, and scored by GNU Go's "
         "`final_score`; see `models/gnugo_selfplay.py` for why. Every game was replayed through `GameState`; no "
         f"move was refused. Generation: {generation} on one core."),
        (f"**Targets:** GNU Go's move (one-hot, pass included) and the result from the side to move (+1/-1); "
         f"{positions} training positions from 90% of the games, the other 10% held out; random dihedral "
         "augmentation (one of 8, drawn per sample)."),
        (f"**Network:** `NetworkConfig(blocks={CONFIG.blocks}, channels={CONFIG.channels}, "
         f"value_hidden={CONFIG.value_hidden})`, {params:,} parameters."),
        (f"**Training:** one run of {steps} steps, batch {BATCH}, AdamW (lr {LEARNING_RATE}, weight decay "
         f"{WEIGHT_DECAY}, warm-up then cosine), loss = policy cross-entropy + {VALUE_WEIGHT} x value MSE; "
         f"{train_seconds:.0f} s on one core. Each checkpoint's `parent` is the sha256 of the previous one's weights."),
    ]
    strength = ("Raw policy, no search: the most probable legal move, except the first 4 moves of a game, sampled "
                "at temperature 1 so that games differ. Colours alternate game by game. A game ends at two passes "
                "or 150 moves and is scored by Tromp-Taylor area (`GameState.score()`), also against GNU Go (a GNU "
                "Go resignation is a GNU Go loss). Win rates are the first player's, with exact (Clopper-Pearson) "
                "95% intervals. Greedy games between neighbouring checkpoints are noisy; the GNU Go rows are a "
                f"second, external yardstick. Evaluation took {eval_seconds:.0f} s.")
    lines = [f"# Demo checkpoints: run `{RUN_NAME}`", "",
             f"Produced by `models/demo_training.py` (v{SCRIPT_VERSION}); reproduce with", "",
             "```", command, "```", "",
             ("The same arguments give the same games and, on the same torch version, the same weights (one "
              "thread, deterministic algorithms); manifests differ only in their `created` time."), "",
             "## How", "", *[f"* {item}" for item in how], "",
             "## Checkpoints (validation on the held-out games)", "",
             "| checkpoint | step | size (weights + manifest) | policy accuracy | policy loss | value MSE |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| `{c['name']}` | {c['step']} | {c['bytes'] / 1024:.0f} KiB | {c['policy_accuracy']:.1%} "
              f"| {c['policy_loss']:.3f} | {c['value_mse']:.3f} |" for c in checkpoints]
    lines += ["", "## Strength", "", strength, "", strength_table(rows), ""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("models/demo_checkpoints"))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "go-arena-demo-training",
                        help="cache of the raw games and trained snapshots (not committed)")
    parser.add_argument("--games", type=int, default=700)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gnugo-level", type=int, default=1)
    parser.add_argument("--eval-games", type=int, default=200, help="games per pairing of checkpoints")
    parser.add_argument("--gnugo-games", type=int, default=40, help="games of each checkpoint against GNU Go")
    args = parser.parse_args(argv)
    rows = run(args.out, args.workdir, games=args.games, steps=args.steps, seed=args.seed, level=args.gnugo_level,
               eval_games=args.eval_games, gnugo_games=args.gnugo_games)
    print(strength_table(rows))


if __name__ == "__main__":
    main()
