"""Our networks as a GTP engine: MCTS over an evaluator, speaking GTP version 2.

Sabaki, GoGui, gogui-twogtp or another arena drive it over stdin/stdout (`arena gtp`).
`GtpServer.handle(line)` answers one command line, so tests drive it without a process;
`serve(stdin, stdout)` is the loop around it.

Framing (GTP v2 spec, sections 2.x): control characters other than tab and newline are
dropped, tabs become spaces, `#` starts a comment, blank lines get no answer; an optional
numeric id is echoed back; answers are `=[id] text` or `?[id] message`, each ending with a
blank line. No input crashes the server: every error, ours included, is a `?` answer.

Rules and scoring are the arena's own (`search_workers.go`): area scoring, the superko rule
of the current `Rules` (default: Chinese, which forbids suicide as most GTP engines do).
Two consecutive passes end a game under these rules; after that `genmove` answers `pass`
and `play` accepts only passes, so a controller that keeps asking stays in step.

Strength is fixed by `SearchConfig.visits`: time controls are accepted and ignored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import TextIO

from search_workers.go import Color, GameState, IllegalMoveError, Rules, RulesError, coords, format_score, to_ascii
from search_workers.search import BatchedMcts, Evaluator, SearchConfig

__all__ = ["GtpError", "GtpServer", "PROTOCOL_VERSION"]

PROTOCOL_VERSION = "2"

log = logging.getLogger(__name__)

# Control characters the spec says to discard: all but HT (turned into a space) and LF.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# The shape of a vertex, so that "play b zz" is a syntax error and "play b T19" on 9x9 an illegal move.
_VERTEX = re.compile(r"(?i)pass|[a-hj-z][0-9]{1,2}")


class GtpError(Exception):
    """A command that fails; its message is the text of the `?` answer."""


class GtpServer:
    """One GTP session over a network.

    `evaluators` maps each board size the network plays to its evaluator (an evaluator
    serves one size); `boardsize` refuses the others with "unacceptable size". The session
    starts on `board_size` (default: the largest size the network plays) with `rules`.
    The evaluators belong to the caller; `close` releases only the searches.
    """

    def __init__(self, evaluators: Mapping[int, Evaluator], config: SearchConfig, *, name: str = "Go Arena",
                 version: str = "", rules: Rules | None = None, board_size: int | None = None):
        if not evaluators:
            raise ValueError("a GTP server needs an evaluator for at least one board size")
        self.evaluators = dict(evaluators)
        self.config = config
        self.name = name
        self.version = version
        self.finished = False  # set by `quit`: serve() stops reading
        self._searches: dict[int, BatchedMcts] = {}  # built on first genmove for each size
        size = max(self.evaluators) if board_size is None else board_size
        if size not in self.evaluators:
            raise ValueError(f"board size {size} is not one of the network's sizes {sorted(self.evaluators)}")
        rules = Rules.preset("chinese") if rules is None else rules
        # history[-1] is the current position; one entry per GTP move, so `undo` pops one.
        self.history: list[GameState] = [GameState.new(size, rules)]
        self._commands: dict[str, Callable[[list[str]], str]] = {
            "protocol_version": lambda args: PROTOCOL_VERSION,
            "name": lambda args: self.name,
            "version": lambda args: self.version,
            "known_command": self._known_command,
            "list_commands": lambda args: "\n".join(self._commands),
            "quit": self._quit,
            "boardsize": self._boardsize,
            "clear_board": self._clear_board,
            "komi": self._komi,
            "kata-set-rules": self._set_rules,
            "play": self._play,
            "genmove": self._genmove,
            "reg_genmove": self._reg_genmove,
            "undo": self._undo,
            "final_score": lambda args: format_score(self.state.score()),
            "final_status_list": self._final_status_list,
            "showboard": lambda args: "\n" + to_ascii(self.state.stones()),
            "time_settings": self._time_settings,
            "time_left": self._time_left,
        }

    @property
    def state(self) -> GameState:
        """The current position."""
        return self.history[-1]

    # ------------------------------------------------------------------ protocol

    def handle(self, line: str) -> str | None:
        """The full answer (ending in a blank line) to one command line; None for a line that
        is blank or only a comment, which the spec says to ignore."""
        text = _CONTROL.sub("", line.replace("\t", " ").split("#", 1)[0]).strip()
        if not text:
            return None
        words = text.split()
        cid = ""
        if words[0].isascii() and words[0].isdigit():
            cid, words = words[0], words[1:]
        if not words:
            return _answer(False, cid, "missing command")
        command = self._commands.get(words[0])
        if command is None:
            return _answer(False, cid, "unknown command")
        try:
            return _answer(True, cid, command(words[1:]))
        except GtpError as err:
            return _answer(False, cid, str(err))
        except Exception as err:  # a bug of ours must not end a game the controller is running
            log.exception("GTP command %r failed", text)
            return _answer(False, cid, f"internal error: {type(err).__name__}: {err}")

    def serve(self, stdin: TextIO, stdout: TextIO) -> None:
        """Answer commands from `stdin` on `stdout` until `quit` or the end of input."""
        while not self.finished:
            line = stdin.readline()
            if not line:
                break
            answer = self.handle(line)
            if answer is not None:
                stdout.write(answer)
                stdout.flush()  # the controller waits for each answer before its next command

    def close(self) -> None:
        """Stop the searches' threads; the evaluators are the caller's to close."""
        for search in self._searches.values():
            search.close()
        self._searches.clear()

    # ------------------------------------------------------------------ administrative commands

    def _known_command(self, args: list[str]) -> str:
        _arity(args, 1)
        return "true" if args[0] in self._commands else "false"

    def _quit(self, args: list[str]) -> str:
        self.finished = True
        return ""

    def _boardsize(self, args: list[str]) -> str:
        _arity(args, 1)
        size = _integer(args[0])
        if size not in self.evaluators:
            raise GtpError("unacceptable size")
        self.history = [GameState.new(size, self.state.rules)]
        return ""

    def _clear_board(self, args: list[str]) -> str:
        self.history = [GameState.new(self.state.board_size, self.state.rules)]
        return ""

    def _komi(self, args: list[str]) -> str:
        _arity(args, 1)
        try:
            komi = float(args[0])
            rules = Rules(komi=komi, ko=self.state.rules.ko, suicide_allowed=self.state.rules.suicide_allowed)
        except (ValueError, RulesError) as err:  # RulesError: not a multiple of 0.5, or absurd
            raise GtpError(f"syntax error: {err}") from None
        self._replay(rules)
        return ""

    def _set_rules(self, args: list[str]) -> str:
        """`kata-set-rules NAME`: any rules name an SGF RU property may hold (chinese, japanese,
        tromp-taylor, KataGo's compact strings); scoring stays area scoring."""
        _arity(args, 1)
        try:
            rules = Rules.from_sgf(args[0], komi=self.state.rules.komi)
        except RulesError as err:
            raise GtpError(f"unknown rules: {err}") from None
        self._replay(rules)
        return ""

    def _replay(self, rules: Rules) -> None:
        """Replay the game under new rules (komi or ko changes mid-game), keeping every undo
        step; refuse, changing nothing, if a move played so far is illegal under them."""
        lengths = {len(state.moves) for state in self.history}
        first = self.history[0]
        state = GameState.new(first.board_size, rules).with_setup(
            black=first.setup_stones[0], white=first.setup_stones[1], to_move=first.to_move)
        at_length = {0: state}
        try:
            for i, (color, move) in enumerate(self.state.moves, start=1):
                state = state.play(move, color)
                if i in lengths:
                    at_length[i] = state
        except IllegalMoveError as err:
            raise GtpError(f"the game so far is illegal under those rules ({err})") from None
        self.history = [at_length[len(old.moves)] for old in self.history]
        for search in self._searches.values():
            search.forget(0)  # its terminal values were scored under the old rules

    def _time_settings(self, args: list[str]) -> str:
        """Accepted and ignored: `visits` fixes the strength, not the clock."""
        _arity(args, 3)
        for arg in args:
            _integer(arg)
        return ""

    def _time_left(self, args: list[str]) -> str:
        """Accepted and ignored, like time_settings."""
        _arity(args, 3)
        _color(args[0])
        _integer(args[1])
        _integer(args[2])
        return ""

    # ------------------------------------------------------------------ moves

    def _play(self, args: list[str]) -> str:
        _arity(args, 2)
        color, vertex = _color(args[0]), args[1]
        if _VERTEX.fullmatch(vertex) is None:
            raise GtpError(f"syntax error: {vertex!r} is not a vertex")
        state = self.state
        if state.is_over and vertex.lower() == "pass":
            self.history.append(state)  # a pass after the end changes nothing; keep undo in step
            return ""
        try:
            self.history.append(state.play(vertex, color))
        except IllegalMoveError as err:
            log.info("refused %s", err)  # the reason goes to stderr; the spec fixes the answer
            raise GtpError("illegal move") from None
        return ""

    def _genmove(self, args: list[str]) -> str:
        move, state = self._search(args)
        if move != "resign":
            self.history.append(state)
        return move

    def _reg_genmove(self, args: list[str]) -> str:
        """Like genmove but plays nothing (GoGui's regression tests use it)."""
        return self._search(args)[0]

    def _search(self, args: list[str]) -> tuple[str, GameState]:
        """(GTP move for `color`, the state after it) from a search of the current position.

        Asking for the colour not to move inserts a pass by the other side (or, before the
        first move, makes `color` the side to move), as GNU Go does; the undo history keeps
        it as part of the same GTP move.
        """
        _arity(args, 1)
        color = _color(args[0])
        state = self.state
        if state.to_move is not color and not state.is_over:
            if state.move_number == 0:
                state = state.with_setup(to_move=color)
            else:
                state = state.play(coords.pass_move(state.board_size), color.opponent)
        if state.is_over:
            return "pass", state  # two passes ended the game under our rules: nothing to search
        result = self._search_for(state.board_size).search([state])[0]
        assert result is not None
        if result.resign:
            return "resign", state
        return coords.to_gtp(result.move, state.board_size), state.play(result.move, color)

    def _search_for(self, board_size: int) -> BatchedMcts:
        search = self._searches.get(board_size)
        if search is None:
            search = BatchedMcts(self.evaluators[board_size], self.config, board_size=board_size, num_games=1)
            self._searches[board_size] = search
        return search

    def _undo(self, args: list[str]) -> str:
        if len(self.history) == 1:
            raise GtpError("cannot undo")
        self.history.pop()
        return ""

    def _final_status_list(self, args: list[str]) -> str:
        """Without a model of dead stones every stone is reported alive and none dead or in
        seki: the score is the Tromp-Taylor score of the position as it stands."""
        _arity(args, 1)
        status = args[0].lower()
        if status not in ("alive", "dead", "seki"):
            raise GtpError(f"syntax error: status must be alive, dead or seki, not {args[0]!r}")
        if status != "alive":
            return ""
        n = self.state.board_size
        stones = self.state.stones().reshape(-1)
        return " ".join(coords.to_gtp(p, n) for p in range(n * n) if stones[p])


# ---------------------------------------------------------------------- helpers

def _answer(ok: bool, cid: str, text: str) -> str:
    # A blank line inside an answer would end it early for the controller.
    body = re.sub(r"\n\s*\n", "\n", text).rstrip("\n")
    head = ("=" if ok else "?") + cid
    return f"{head} {body}\n\n" if body else f"{head}\n\n"


def _arity(args: list[str], count: int) -> None:
    if len(args) != count:
        raise GtpError(f"syntax error: expected {count} argument{'s' if count != 1 else ''}, got {len(args)}")


def _integer(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise GtpError(f"syntax error: {text!r} is not a non-negative integer")
    return int(text)


def _color(text: str) -> Color:
    try:
        return Color.parse(text)
    except ValueError:
        raise GtpError(f"syntax error: {text!r} is not a colour") from None
