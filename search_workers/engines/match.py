"""Play a block of games at once: MCTS players batched across games, GTP engines in threads.

This is the arena's way of playing. Every MCTS player keeps one `BatchedMcts` over the block's
slots, so its evaluator sees one batch per step across all the games where it is to move; each
game advances on its own (`begin`/`step`), so a game whose search is done plays and starts its
next search while the others keep searching and batches stay full. External engines (GTP
processes) answer `genmove` in a thread pool meanwhile, one engine process per game.

    results = play_games([BlockGame(black=a, white=b, opening=(40, 41)), ...],
                         board_size=9, rules=rules, on_finished=store)

A game ends by two passes, a resignation, the move limit, or a forfeit: an engine that plays an
illegal move or fails beyond its restarts loses with the reason recorded. A game ended by
passes is scored by the referee when one is given (dead stones settled by an engine such as
GNU Go), else by strict Tromp-Taylor; the method is kept with the outcome (a referee that fails
leaves Tromp-Taylor). The one exception to all of this is a worker whose engine pool has no
process free (EnginePoolExhausted): its shortage, not a player's, so `play_games` raises it and
the caller gives the unfinished games back.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from search_workers.go import Color, GameState, IllegalMoveError, Rules, coords, random_openings, winner_of
from search_workers.search import BatchedMcts, Evaluator, SearchConfig

from .gtp import RESIGN  # the move value of a resignation
from .gtp_player import EnginePoolExhausted
from .referee import Settlement, tromp_taylor


@dataclass(frozen=True)
class MctsPlayer:
    """A network (through its evaluator) with the search settings it plays with."""

    name: str
    evaluator: Evaluator
    config: SearchConfig
    pipeline_groups: int = 1  # 2 for remote evaluators (Triton): see BatchedMcts


class ExternalEngine(Protocol):
    """What the block needs of an engine process (search_workers.engines.gtp_player.GtpPlayer)."""

    version: str

    def new_game(self, state: GameState) -> None: ...

    def genmove(self, state: GameState) -> int: ...  # flat move, pass = N*N, RESIGN

    def stderr_log(self) -> str: ...


@dataclass(frozen=True)
class EngineSeat:
    """An external engine as a player: `checkout()` lends a started engine for one game and
    `checkin(engine)` takes it back (an engine pool keeps processes between games)."""

    name: str
    checkout: Callable[[], ExternalEngine]
    checkin: Callable[[ExternalEngine], None]


Seat = MctsPlayer | EngineSeat


Referee = Callable[[GameState], Settlement]


@dataclass(frozen=True)
class BlockGame:
    """One game of a block: who plays which colour, from which opening."""

    black: Seat
    white: Seat
    opening: Sequence[int] = ()  # flat moves played before the players take over
    key: Any = None  # the caller's identity for the game (e.g. a scheduled game id), returned as is
    # The game's randomness (temperature, resign draw): with a seed its moves depend only on the
    # seed, players and opening, not on the rest of the block; None: the players' shared generators.
    seed: int | None = None


@dataclass(frozen=True)
class MoveStats:
    """Per-move statistics stored with every game (None where an engine does not say)."""

    move: int  # flat index, pass = N*N; RESIGN for a resignation
    visits: int | None
    root_value: float | None  # for the player who moved
    policy_entropy: float | None
    seconds: float  # wall time from the request of the move to its answer

    def as_json(self) -> dict:
        return {"visits": self.visits, "root_value": finite_or_none(self.root_value),
                "policy_entropy": finite_or_none(self.policy_entropy), "time_s": round(self.seconds, 6)}


@dataclass
class GameOutcome:
    black: str
    white: str
    final: GameState
    stats: list[MoveStats] = field(default_factory=list)
    key: Any = None
    opening_moves: int = 0
    result: str = "Void"  # SGF RE: B+3.5, W+R, B+F (forfeit), 0, Void (move limit)
    score: float | None = None  # Black's margin when scored on the board
    scoring: str = ""  # tromp-taylor | referee:<engine> | resignation | forfeit | move-limit
    # Ended by passes: strict Tromp-Taylor's score beside `score`, and whether a referee's
    # settled score names another winner (None: no referee's answer to compare).
    score_tromp_taylor: float | None = None
    scoring_disagrees: bool | None = None
    reason: str | None = None  # why a forfeit happened
    engine_versions: dict[str, str] = field(default_factory=dict)
    engine_logs: dict[str, str] = field(default_factory=dict)  # engine stderr of this game
    seconds: float = 0.0

    @property
    def winner_name(self) -> str | None:
        winner = winner_of(self.result)
        return None if winner is None else self.black if winner is Color.BLACK else self.white


class _Game:
    """A game in play in one slot."""

    def __init__(self, spec: BlockGame, state: GameState, started: float):
        self.spec = spec
        self.state = state
        self.outcome = GameOutcome(black=spec.black.name, white=spec.white.name, final=state, key=spec.key,
                                   opening_moves=state.move_number)
        self.engines: dict[Color, ExternalEngine] = {}
        self.started = started
        self.move_requested = started

    def seat(self, color: Color) -> Seat:
        return self.spec.black if color is Color.BLACK else self.spec.white


def play_games(games: Sequence[BlockGame], *, board_size: int, rules: Rules, move_limit: int | None = None,
               concurrency: int | None = None, referee: Referee | None = None,
               on_finished: Callable[[GameOutcome], None] | None = None,
               engine_threads: int | None = None, on_move: Callable[[], None] | None = None) -> list[GameOutcome]:
    """Play `games`, at most `concurrency` (default: all) at once; outcomes in the order given.

    `on_finished(outcome)` is called as each game ends (in this thread), so the caller can
    store it at once. Exceptions from it propagate: the block stops and what was stored stays.
    `on_move()` is called after every move played (in this thread; keep it cheap): the worker's
    sign that the block is not stuck (search_workers.leases). Raises EnginePoolExhausted when an
    engine seat or the referee finds no free engine process (games not yet finished are lost to
    this call: the caller plays them again).
    """
    if not games:
        return []
    return BlockRunner(games, board_size=board_size, rules=rules, move_limit=move_limit, concurrency=concurrency,
                       referee=referee, on_finished=on_finished, engine_threads=engine_threads,
                       on_move=on_move).run()


class BlockRunner:
    """One run of `play_games`: the block's slots, its searches and the engine work under way.

    A game moves through `start` (opening played, engines prepared) -> `advance` (a move asked
    of its player) -> `play` (the answer applied) -> ... -> `finish` (outcome recorded, the slot
    handed to the next waiting game). Searches answer in `run`'s loop; engine work (prepare,
    genmove, a referee's settlement) answers through `engine_done`.
    """

    def __init__(self, games: Sequence[BlockGame], *, board_size: int, rules: Rules, move_limit: int | None = None,
                 concurrency: int | None = None, referee: Referee | None = None,
                 on_finished: Callable[[GameOutcome], None] | None = None, engine_threads: int | None = None,
                 on_move: Callable[[], None] | None = None):
        self.games = games
        self.board_size = board_size
        self.referee = referee
        self.on_finished = on_finished
        self.on_move = on_move
        self.slots = len(games) if concurrency is None else min(concurrency, len(games))
        if self.slots < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.template = GameState.new(board_size, rules, move_limit=move_limit)
        players = {id(seat): seat for game in games for seat in (game.black, game.white)
                   if isinstance(seat, MctsPlayer)}
        # One search per MCTS player over all slots (keyed by the player's id).
        self.searches = {pid: BatchedMcts(p.evaluator, p.config, board_size=board_size, num_games=self.slots,
                                          move_limit=self.template.move_limit,
                                          pipeline_groups=min(p.pipeline_groups, self.slots))
                         for pid, p in players.items()}
        uses_threads = referee is not None or any(
            isinstance(seat, EngineSeat) for game in games for seat in (game.black, game.white))
        self.executor = ThreadPoolExecutor(engine_threads or max(2, self.slots), thread_name_prefix="engine") \
            if uses_threads else None
        self.outcomes: list[GameOutcome | None] = [None] * len(games)
        self.waiting = deque(range(len(games)))  # indexes in `games` not started yet
        self.in_slot: list[_Game | None] = [None] * self.slots
        self.index_of: dict[int, int] = {}  # slot -> index of its game in `games`
        self.futures: dict[Future, tuple[int, str]] = {}  # engine work under way: slot, what

    def run(self) -> list[GameOutcome]:
        """Play every game; outcomes in the order of `games`."""
        try:
            for slot in range(self.slots):
                self.start(slot)
            while any(game is not None for game in self.in_slot):
                stepped = self.step_searches()
                ready = [f for f in self.futures if f.done()]
                if not ready and not stepped:
                    if not self.futures:
                        raise RuntimeError("play_games: games in play but nothing searching or pending")
                    ready = list(wait(list(self.futures), return_when=FIRST_COMPLETED).done)
                for future in ready:
                    self.engine_done(future)
        finally:
            self.close()
        return self.outcomes

    def step_searches(self) -> bool:
        """One step of every search with work to do, playing the moves it finishes; False if none had any."""
        stepped = False
        for search in self.searches.values():
            if not search.searching:
                continue
            stepped = True
            now = time.perf_counter()
            for slot, result in search.step():
                game = self.in_slot[slot]
                stats = MoveStats(RESIGN if result.resign else result.move, result.visits, result.root_value,
                                  result.policy_entropy, now - game.move_requested)
                self.play(slot, RESIGN if result.resign else result.move, stats)
        return stepped

    def start(self, slot: int) -> None:
        """Put the next waiting game (if any) in `slot`: play its opening, prepare its engines."""
        if not self.waiting:
            return
        index = self.waiting.popleft()
        spec = self.games[index]
        state = self.template
        for move in spec.opening:
            state = state.play(move)
        game = _Game(spec, state, time.perf_counter())
        self.in_slot[slot], self.index_of[slot] = game, index
        for pid, search in self.searches.items():
            search.forget(slot, seed=_search_seed(spec, pid))
        engine_colors = [c for c in (Color.BLACK, Color.WHITE) if isinstance(game.seat(c), EngineSeat)]
        if engine_colors:
            self.futures[self.executor.submit(_prepare_engines, game, engine_colors)] = (slot, "prepare")
        else:
            self.advance(slot)

    def advance(self, slot: int) -> None:
        """Ask for the next move of the game in `slot`, or end it."""
        game = self.in_slot[slot]
        state = game.state
        if state.is_over:
            ended_by_passes = state.resigned is None and state.consecutive_passes >= 2
            if ended_by_passes and self.referee is not None:
                self.futures[self.executor.submit(self.referee, state)] = (slot, "settle")
            else:
                self.finish(slot, tromp_taylor(state) if ended_by_passes else None)
            return
        game.move_requested = time.perf_counter()
        seat = game.seat(state.to_move)
        if isinstance(seat, MctsPlayer):
            self.searches[id(seat)].begin(slot, state)
        else:
            engine = game.engines[state.to_move]
            self.futures[self.executor.submit(engine.genmove, state)] = (slot, "genmove")

    def play(self, slot: int, move: int, stats: MoveStats) -> None:
        """Apply the answer `move` of the side to move in `slot` (an illegal one forfeits)."""
        if self.on_move is not None:
            self.on_move()
        game = self.in_slot[slot]
        state, mover = game.state, game.state.to_move
        if move == RESIGN:
            game.state = state.resign()
        else:
            try:
                game.state = state.play(move)
            except (IllegalMoveError, ValueError) as exc:
                n = self.board_size
                vertex = coords.to_gtp(move, n) if 0 <= move <= n ** 2 else str(move)
                self.forfeit(slot, mover, f"{game.seat(mover).name} played an illegal move {vertex}: {exc}")
                return
        game.outcome.stats.append(stats)
        self.advance(slot)

    def forfeit(self, slot: int, loser: Color, reason: str) -> None:
        outcome = self.in_slot[slot].outcome
        outcome.result, outcome.scoring, outcome.reason = f"{loser.opponent.letter}+F", "forfeit", reason
        self.finish(slot, None)

    def finish(self, slot: int, settlement: Settlement | None) -> None:
        """Record the outcome of the game in `slot`, return its engines, start the next game there."""
        game = self.in_slot[slot]
        outcome = game.outcome
        outcome.final = game.state
        if outcome.scoring != "forfeit":
            if game.state.resigned is not None:
                outcome.result, outcome.scoring = game.state.result, "resignation"
            elif settlement is None:  # neither resigned nor ended by passes: the move limit
                outcome.result, outcome.scoring = game.state.result or "Void", "move-limit"
            else:
                outcome.result, outcome.score, outcome.scoring = settlement.result, settlement.score, settlement.method
                outcome.score_tromp_taylor, outcome.scoring_disagrees = settlement.score_tromp_taylor, \
                    settlement.disagrees
        for color, engine in game.engines.items():
            outcome.engine_versions[game.seat(color).name] = engine.version
            outcome.engine_logs[game.seat(color).name] = engine.stderr_log()
            game.seat(color).checkin(engine)
        game.engines.clear()
        outcome.seconds = time.perf_counter() - game.started
        for search in self.searches.values():
            search.forget(slot)
        self.outcomes[self.index_of[slot]] = outcome
        self.in_slot[slot] = None
        if self.on_finished is not None:
            self.on_finished(outcome)
        self.start(slot)

    def engine_done(self, future: Future) -> None:
        """Take the answer of finished engine work: a prepared game, a settlement or a move."""
        slot, what = self.futures.pop(future)
        game = self.in_slot[slot]
        error = future.exception()
        if isinstance(getattr(error, "cause", error), EnginePoolExhausted):
            # This worker's engine processes are all busy: its shortage, not a player's failure, so
            # no forfeit and no fallback scoring; the block stops and its caller gives the games back.
            raise getattr(error, "cause", error)
        if what == "prepare":
            if error is not None:
                self.forfeit(slot, error.color, f"{game.seat(error.color).name} failed to start a game: {error.cause}")
            else:
                self.advance(slot)
        elif what == "settle":
            if error is not None:  # a referee that fails leaves the strict rule
                settlement = tromp_taylor(game.state, f"tromp-taylor (referee failed: {error})")
            else:
                settlement = future.result()
            self.finish(slot, settlement)
        else:
            mover = game.state.to_move
            if error is not None:
                self.forfeit(slot, mover, f"{game.seat(mover).name} failed: {error}")
            else:
                elapsed = time.perf_counter() - game.move_requested
                self.play(slot, int(future.result()), MoveStats(int(future.result()), None, None, None, elapsed))

    def close(self) -> None:
        """Release the searches and the engine threads; engines of games cut short go back to their
        pool (which may restart them)."""
        for search in self.searches.values():
            search.close()
        if self.executor is not None:
            for future in self.futures:
                future.cancel()
            self.executor.shutdown(wait=True)
            for game in self.in_slot:
                if game is not None:
                    for color, engine in game.engines.items():
                        game.seat(color).checkin(engine)


class _EngineStartError(RuntimeError):
    def __init__(self, color: Color, cause: Exception):
        super().__init__(f"{color.name.lower()}: {cause}")
        self.color, self.cause = color, cause


def _search_seed(spec: BlockGame, player_id: int) -> tuple[int, int] | None:
    """The seed of player `player_id`'s search in the game of `spec`: the game's seed and the
    player's colour (0: Black, 1: White only), so the two players draw differently."""
    if spec.seed is None:
        return None
    return spec.seed, 0 if id(spec.black) == player_id else 1


def _prepare_engines(game: _Game, colors: list[Color]) -> None:
    """Lend each engine seat of `game` an engine and set it up for the game (in a thread)."""
    for color in colors:
        try:
            engine = game.seat(color).checkout()
            game.engines[color] = engine
            engine.new_game(game.state)
        except Exception as exc:  # a failure to start forfeits the game for that side (but see engine_done)
            raise _EngineStartError(color, exc) from exc


def play_seats(black: Sequence[Seat], white: Sequence[Seat], *, board_size: int, rules: Rules,
               openings: Sequence[Sequence[int]] | None = None, move_limit: int | None = None,
               referee: Referee | None = None) -> list[GameOutcome]:
    """Play len(black) games at once: game i is black[i] (Black) against white[i] (White).

    openings[i], if given, is a list of flat moves played before the players take over (the
    same opening for both colours of a pair keeps the comparison fair).
    """
    if len(black) != len(white):
        raise ValueError(f"{len(black)} black players for {len(white)} white players")
    if openings is not None and len(openings) != len(black):
        raise ValueError(f"{len(openings)} openings for {len(black)} games")
    games = [BlockGame(black=b, white=w, opening=tuple(openings[i]) if openings is not None else ())
             for i, (b, w) in enumerate(zip(black, white))]
    return play_games(games, board_size=board_size, rules=rules, move_limit=move_limit, referee=referee)


def paired_openings(pairs: int, plies: int, *, board_size: int, rules: Rules, seed: int) -> list[list[int]]:
    """`pairs` random openings (`search_workers.go.random_openings`) of `plies` moves, each listed
    twice in a row: game 2k and 2k+1 of a block play the same opening with colours swapped, which
    cancels the opening's bias."""
    return [list(opening) for opening in random_openings(pairs, plies, board_size=board_size, rules=rules, seed=seed)
            for _ in range(2)]


def finite_or_none(value: float | None) -> float | None:
    """JSON (and JSONB) has no NaN: an undefined statistic is stored as null."""
    return None if value is None or not math.isfinite(value) else value
