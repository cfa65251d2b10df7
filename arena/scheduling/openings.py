"""Opening books: the moves each colour-swapped pair plays before the players take over.

An opening is a tuple of flat moves (pass = N*N) from the empty board, Black first. A book is a
list of them; pair k of every pairing plays book[k % len(book)] (see plan.py). Sources:

* none: one empty opening (every game starts on the empty board).
* random: uniformly random legal moves that fill no own eye (`search_workers.go.random_openings`,
  re-exported here), cheap variety for tiny networks.
* sgf: the first `plies` moves of every game of that board size in a directory (human or
  engine games: realistic positions). Every opening must replay legally under the
  tournament's rules, or the book is refused naming the file. A network client's directory
  (`roots` given: ARENA_IMPORT_DIRS) must resolve under a root, and so must every file read
  from it (arena.import_roots); refusals name files by name, never by server path.
* policy: the first `plies` moves sampled from a network's policy, kept only if the network
  judges the resulting position near even (|value| <= max_abs_value): positions the network
  itself would play, without handing one side a won game. Candidates are sampled in batches,
  one evaluator call per ply for the whole batch.

`format_opening` / `parse_opening` convert to and from the text stored in ScheduledGame.opening
(space-separated GTP vertices).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from arena.import_roots import importable
from search_workers.go import (GameRecord, GameState, IllegalMoveError, Rules, SgfError, random_openings, read_sgf,
                               stack_features)
from search_workers.go.coords import CoordinateError, from_gtp, to_gtp
from search_workers.search import Evaluator, check_evaluation

from .config import OpeningsSpec
from .errors import SchedulingError

__all__ = [
    "format_opening",
    "from_policy",
    "from_sgf_directory",
    "opening_book",
    "parse_opening",
    "random_openings",
    "replay_opening",
]

Opening = tuple[int, ...]


def opening_book(spec: OpeningsSpec, *, board_size: int, rules: Rules, evaluator: Evaluator | None = None,
                 max_tries: int | None = None, sgf_roots: Sequence[str | Path] | None = None) -> list[Opening]:
    """The book `spec` describes. `evaluator` (the network of `spec.checkpoint`) is for policy only.

    max_tries: policy openings sampled at most (default 20 * spec.count).
    sgf_roots: the folders an sgf `directory` must lie under (None: a trusted caller, any folder).
    """
    if spec.source == "none":
        return [()]
    if spec.source == "random":
        return random_openings(spec.count, spec.plies, board_size=board_size, rules=rules, seed=spec.seed)
    if spec.source == "sgf":
        assert spec.directory is not None
        return from_sgf_directory(spec.directory, spec.plies, board_size, rules=rules, roots=sgf_roots)
    if evaluator is None:
        raise SchedulingError(f"openings: policy openings need the evaluator of checkpoint {spec.checkpoint!r}")
    return from_policy(evaluator, spec.plies, board_size, rules, count=spec.count, max_abs_value=spec.max_abs_value,
                       seed=spec.seed, max_tries=20 * spec.count if max_tries is None else max_tries)


def replay_opening(moves: Iterable[int], board_size: int, rules: Rules) -> GameState:
    """The position after `moves` (Black first) from the empty board; SchedulingError if illegal.

    An opening that ends the game (two passes) is refused too: the players must have a game left.
    """
    state = GameState.new(board_size, rules)
    for k, move in enumerate(moves, 1):
        try:
            state = state.play(move)
        except (IllegalMoveError, CoordinateError) as exc:
            raise SchedulingError(f"opening move {k}: {exc}") from None
        if state.is_over:
            raise SchedulingError(f"opening move {k}: the game is over after it; an opening must leave a game")
    return state


def from_sgf_directory(path: str | Path, plies: int, board_size: int, *, rules: Rules | None = None,
                       roots: Sequence[str | Path] | None = None) -> list[Opening]:
    """The first `plies` moves of each `*.sgf` in `path` (sorted by name) of this board size.

    Files of another size, with setup stones (handicap) or with fewer than `plies` moves are
    skipped; a file that does not parse, or whose first `plies` moves do not replay legally
    (Black first, alternating, under `rules`), is an error naming it. Identical openings are
    kept once. Error if no file qualifies. roots: the folders `path` and every file read from
    it must resolve under (arena.import_roots.NotImportableError otherwise); None: any folder.
    """
    rules = Rules.preset("tromp-taylor") if rules is None else rules
    folder = importable(path, roots, kind="directory")
    if not folder.is_dir():
        raise SchedulingError("openings.directory: not a directory")
    files = sorted(folder.glob("*.sgf"))
    book: dict[Opening, None] = {}
    for file in files:
        record = _read_sgf(importable(file, roots))  # a symlink in the folder may not lead out of the roots
        if record.board_size != board_size or record.setup_black or record.setup_white or len(record.moves) < plies:
            continue
        book[_sgf_opening(record, plies, rules, file)] = None
    if not book:
        raise SchedulingError(f"openings.directory: none of the {len(files)} .sgf files in it is a "
                              f"{board_size}x{board_size} game without setup stones and with at least {plies} moves")
    return list(book)


def _read_sgf(file: Path) -> GameRecord:
    """The game in `file`; a SchedulingError names the file by its name only."""
    try:
        return read_sgf(file.read_bytes())
    except SgfError as exc:
        raise SchedulingError(f"{file.name}: {exc}") from None
    except OSError as exc:
        raise SchedulingError(f"{file.name}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def _sgf_opening(record: GameRecord, plies: int, rules: Rules, file: Path) -> Opening:
    moves = record.moves[:plies]
    for k, (color, _) in enumerate(moves):
        if int(color) != (1 if k % 2 == 0 else 2):
            raise SchedulingError(f"{file.name}: move {k + 1} is out of turn; an opening alternates from Black")
    opening = tuple(p for _, p in moves)
    try:
        replay_opening(opening, record.board_size, rules)
    except SchedulingError as exc:
        raise SchedulingError(f"{file.name}: {exc}") from None
    return opening


def from_policy(
    evaluator: Evaluator,
    plies: int,
    board_size: int,
    rules: Rules,
    *,
    count: int,
    max_abs_value: float,
    seed: int,
    max_tries: int,
    batch: int | None = None,
) -> list[Opening]:
    """`count` distinct openings sampled from the network's policy, each near even by its value.

    Each candidate plays `plies` moves sampled ∝ the policy over legal moves (pass only when
    nothing else is legal); the final position is evaluated and kept if |value| <= max_abs_value
    (value is for the side to move; the test is symmetric). Candidates run `batch` at a time
    (default: twice the number still wanted), one evaluate call per ply:
    features float32 [B, 17, N, N], legal bool [B, N*N+1]. Raises SchedulingError if fewer
    than `count` are kept after `max_tries` candidates.
    """
    if getattr(evaluator, "board_size", board_size) != board_size:
        raise SchedulingError(f"openings.checkpoint: the network plays {evaluator.board_size}x{evaluator.board_size}, "
                              f"not {board_size}x{board_size}")
    if count < 1 or plies < 1 or max_tries < count:
        raise SchedulingError(f"openings: need count >= 1, plies >= 1 and max_tries >= count, got "
                              f"count={count}, plies={plies}, max_tries={max_tries}")
    rng = np.random.default_rng(seed)
    kept: dict[Opening, None] = {}
    tries = 0
    while len(kept) < count and tries < max_tries:
        size = min(batch or 2 * (count - len(kept)), max_tries - tries)
        tries += size
        states = [GameState.new(board_size, rules) for _ in range(size)]
        moves: list[list[int]] = [[] for _ in range(size)]
        for _ in range(plies):
            live = [i for i, s in enumerate(states) if not s.is_over]  # two passes: dropped below
            if not live:
                break
            policy, _ = _evaluate(evaluator, [states[i] for i in live])
            for i, move in zip(live, _sample(policy, _legal([states[i] for i in live]), rng)):
                states[i] = states[i].play(int(move))
                moves[i].append(int(move))
        live = [i for i, s in enumerate(states) if not s.is_over]
        _, value = _evaluate(evaluator, [states[i] for i in live])
        for i, v in zip(live, value):
            if abs(float(v)) <= max_abs_value and len(kept) < count:
                kept[tuple(moves[i])] = None
    if len(kept) < count:
        raise SchedulingError(f"openings: only {len(kept)} of {count} distinct policy openings had "
                              f"|value| <= {max_abs_value} after {tries} tries; raise max_abs_value or "
                              f"max_tries, or ask for fewer")
    return list(kept)


def _legal(states: Sequence[GameState]) -> np.ndarray:
    return np.stack([s.legal_moves() for s in states]) if states else np.zeros((0, 0), bool)  # bool [B, N*N+1]


def _evaluate(evaluator: Evaluator, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
    """policy [B, N*N+1] and value [B] of `states`, checked against the evaluator contract."""
    if not states:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
    legal = _legal(states)
    policy, value = evaluator.evaluate(stack_features(list(states)), legal)
    policy, value = np.asarray(policy), np.asarray(value)
    check_evaluation(policy, value, legal, source="opening evaluator")
    return policy, value


def _sample(policy: np.ndarray, legal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One move per row ∝ policy over legal moves, pass excluded unless it is all that is legal."""
    weights = np.where(legal, policy, 0.0).astype(np.float64)
    weights[:, -1] = 0.0
    board_legal = legal[:, :-1].any(axis=1)
    # A network may put no mass on the legal board moves it has: fall back to uniform there.
    flat = board_legal & (weights.sum(axis=1) <= 0.0)
    weights[flat, :-1] = legal[flat, :-1]
    weights[~board_legal, -1] = 1.0
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cdf[:, -1]
    return np.minimum((cdf <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def format_opening(moves: Iterable[int], board_size: int) -> str:
    """Space-separated GTP vertices ("D4 Q16 pass"), the form ScheduledGame.opening stores."""
    return " ".join(to_gtp(int(m), board_size) for m in moves)


def parse_opening(text: str | None, board_size: int, *, rules: Rules | None = None) -> Opening:
    """The flat moves of a stored opening, checked to replay legally (default rules: tromp-taylor)."""
    if text is None or not text.strip():
        return ()
    try:
        moves = tuple(from_gtp(v, board_size) for v in text.split())
    except CoordinateError as exc:
        raise SchedulingError(f"opening {text!r}: {exc}") from None
    replay_opening(moves, board_size, Rules.preset("tromp-taylor") if rules is None else rules)
    return moves
