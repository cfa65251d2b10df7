"""SGF (FF[4]) game records: read what other programs write, write what they read.

sgfmill parses the grammar; points go through `coords` (sgfmill's own move coordinates
count rows from the bottom, ours from the top). Only the main line is kept (the first
variation at every branch): the arena rates games, it does not store analyses. Errors name
the node (0 = root) and property, or the byte offset, line and column of a syntax error.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from os import PathLike
from pathlib import Path

from sgfmill import sgf_grammar

from . import coords
from ._layout import default_move_limit
from .results import DRAW, VOID
from .rules import Rules, check_board_size
from .state import Color, GameState, IllegalMoveError, SetupError

_RESULT = re.compile(r"([BW])\+(R|Resign|T|Time|F|Forfeit|[0-9]+(?:\.[0-9]*)?|\.[0-9]+)?", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")  # ASCII only: SGF Number/Real
_SIZE = re.compile(r"([0-9]+)(?::([0-9]+))?")
_LINE_BREAK = re.compile(r"\r\n|\n\r|\r|\n")
# SGF readers map tabs and other whitespace to spaces (and SimpleText line breaks too), so a
# record holds its text already mapped that way and a write/read round trip is exact.
_SPACES = str.maketrans({"\t": " ", "\v": " ", "\f": " "})


class SgfError(ValueError):
    """SGF data or a GameRecord that cannot be used; the message says exactly where and why."""


def normalize_result(text: str) -> str:
    """The canonical RE value: "B+3.5", "W+R", "B+T", "W+F", "B+" (winner only), "0", "Void" or "?".

    Accepts FF[4]'s spellings in any case (Draw, B+Resign, B+Time, W+Forfeit, B+6.50); raises
    ValueError on anything else. Scores are kept as written: GNU Go's estimates read B+41.4.
    Every value but "B+"/"W+" and "?" is then in the stored form `results.parse_result` reads.
    """
    key = text.strip()
    named = {"0": DRAW, "draw": DRAW, "void": VOID, "?": "?"}
    if key.lower() in named:
        return named[key.lower()]
    m = _RESULT.fullmatch(key)
    if m is None:
        raise ValueError(f"{text!r} is not an SGF result (expected e.g. B+3.5, W+R, B+T, 0, Draw, Void or ?)")
    winner, how = m.group(1).upper(), m.group(2)
    if how is None:
        return f"{winner}+"
    if how[0].isalpha():
        return f"{winner}+{how[0].upper()}"
    return f"{winner}+{format(Decimal(how).normalize(), 'f')}"


class _ReadOnlyDict(dict):
    """GameRecord.comments: a dict that refuses changes, and pickles (MappingProxyType does not)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("GameRecord.comments is read-only; build a new record with dataclasses.replace")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return type(self), (dict(self),)


def _simple_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise SgfError(f"{name} must be a str, got {value!r}")
    return _LINE_BREAK.sub(" ", value).translate(_SPACES)


@dataclass(frozen=True)
class GameRecord:
    """One game as SGF stores it: header, root setup, the main line of moves, comments.

    Points are flat indices (row * N + col, row 0 at the top; pass = N*N), as in `coords`.
    `comments[0]` is the root (game) comment and `comments[k]` the one on the node of move k;
    a comment on a node without a move joins the one before it. `rules_text` is RU as read
    (e.g. "Japanese": simple ko, no suicide, still scored by area) or `rules.to_sgf()` when
    absent; it must mean `rules`. Text is stored as SGF reads it back (tabs become spaces,
    line breaks "\\n", and in one-line fields spaces).
    """

    board_size: int
    rules: Rules
    black: str = ""  # PB
    white: str = ""  # PW
    result: str | None = None  # RE, see normalize_result; None when absent
    date: str | None = None  # DT
    setup_black: tuple[int, ...] = ()  # AB before the first move (handicap stones)
    setup_white: tuple[int, ...] = ()  # AW before the first move
    first_player: Color | None = None  # PL: who plays first after the setup
    moves: tuple[tuple[Color, int], ...] = ()  # main line; out-of-turn moves kept as given
    comments: Mapping[int, str] = field(default_factory=dict, hash=False)  # C, see above
    game_name: str | None = None  # GN
    rules_text: str | None = None  # RU
    handicap: int = 0  # HA: declared handicap stones, 0 for an even game
    application: str | None = None  # AP: the program that wrote the file

    def __post_init__(self) -> None:
        put = object.__setattr__

        def checked(name: str, parse, *args):
            try:
                return parse(*args)
            except ValueError as exc:  # RulesError and CoordinateError are ValueErrors
                raise SgfError(f"{name}: {exc}") from None

        if not isinstance(self.rules, Rules):
            raise SgfError(f"rules must be a Rules, got {self.rules!r}")
        n = checked("board_size", check_board_size, self.board_size)
        text = self.rules.to_sgf() if self.rules_text is None else _simple_text("rules_text", self.rules_text)
        meant = checked("rules_text", lambda: Rules.from_sgf(text, komi=self.rules.komi))
        if meant != self.rules:
            raise SgfError(f"rules_text {text!r} means {meant.describe()}, but rules are {self.rules.describe()}")
        put(self, "rules_text", text)
        for name in ("black", "white", "date", "game_name", "application", "result"):
            if getattr(self, name) is not None:
                put(self, name, _simple_text(name, getattr(self, name)))
        put(self, "result", None if self.result is None else checked("result", normalize_result, self.result))
        seen: set[int] = set()
        for name in ("setup_black", "setup_white"):
            points = checked(name, lambda ps: tuple(coords.check_flat(p, n) for p in ps), getattr(self, name))
            for p in points:
                if p == n * n or p in seen:
                    raise SgfError(f"{name}: {'pass' if p == n * n else coords.to_gtp(p, n)} is not a free point")
                seen.add(p)
            put(self, name, points)
        if self.first_player is not None:
            put(self, "first_player", checked("first_player", Color, self.first_player))
        put(self, "moves", checked("moves", lambda: tuple((Color(c), coords.check_flat(p, n)) for c, p in self.moves)))
        comments = {}
        for k, text in dict(self.comments).items():
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(self.moves):
                raise SgfError(f"comments: key {k!r} is neither 0 (root) nor a move number 1..{len(self.moves)}")
            if not isinstance(text, str):
                raise SgfError(f"comments[{k}] must be a str, got {text!r}")
            comments[k] = _LINE_BREAK.sub("\n", text).translate(_SPACES)
        put(self, "comments", _ReadOnlyDict(sorted(comments.items())))
        if isinstance(self.handicap, bool) or not isinstance(self.handicap, int) or self.handicap < 0:
            raise SgfError(f"handicap must be a non-negative int, got {self.handicap!r}")

    @property
    def komi(self) -> float:
        return self.rules.komi

    @classmethod
    def from_state(cls, state: GameState, *, black: str = "", white: str = "", date: str | None = None,
                   comments: Mapping[int, str] | None = None, game_name: str | None = None,
                   handicap: int = 0) -> GameRecord:
        """The record of `state`'s game; the result is `state.result` (None while it is not over)."""
        moves = tuple(state.moves)
        setup_black, setup_white = state.setup_stones
        # PL only when White starts (after handicap stones, or a setup position with White to move).
        starter = moves[0][0] if moves else (state.to_move if setup_black or setup_white else Color.BLACK)
        return cls(board_size=state.board_size, rules=state.rules, black=black, white=white,
                   result=state.result, date=date, setup_black=setup_black, setup_white=setup_white,
                   first_player=Color.WHITE if starter is Color.WHITE else None, moves=moves,
                   comments=dict(comments or {}), game_name=game_name, handicap=handicap)

    def replay(self) -> GameState:
        """The position after the setup and every move, played by the rules core.

        A resignation or time result is not a move: the state is the one after the last move.
        Raises SgfError naming the move number, colour, vertex and reason of an illegal move.
        """
        n = self.board_size
        state = GameState.new(n, self.rules, move_limit=max(default_move_limit(n), len(self.moves)))
        if self.setup_black or self.setup_white or self.first_player is not None:
            to_move = self.first_player or (self.moves[0][0] if self.moves else None)
            try:
                state = state.with_setup(black=self.setup_black, white=self.setup_white, to_move=to_move)
            except SetupError as exc:
                raise SgfError(f"root, properties AB/AW: {exc}") from None
        for k, (color, p) in enumerate(self.moves, 1):
            try:
                state = state.play(p, color)
            except IllegalMoveError as exc:
                vertex = coords.to_gtp(p, n)
                raise SgfError(f"move {k} ({color.letter} {vertex}): illegal: {exc.reason.value}") from None
        return state


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def write_sgf(record: GameRecord) -> str:
    """FF[4] SGF text, UTF-8 (CA[UTF-8]): the root on the first line, then twelve moves a line."""
    n = record.board_size
    root = [f"FF[4]GM[1]CA[UTF-8]SZ[{n}]KM[{record.komi:g}]"]
    for ident, value in (("RU", record.rules_text), ("RE", record.result), ("PB", record.black or None),
                         ("PW", record.white or None), ("DT", record.date), ("GN", record.game_name),
                         ("AP", record.application), ("HA", record.handicap or None)):
        if value is not None:
            root.append(f"{ident}[{_escape(str(value))}]")
    for ident, points in (("AB", record.setup_black), ("AW", record.setup_white)):
        if points:
            root.append(ident + "".join(f"[{coords.to_sgf(p, n)}]" for p in points))
    if record.first_player is not None:
        root.append(f"PL[{record.first_player.letter}]")
    if 0 in record.comments:
        root.append(f"C[{_escape(record.comments[0])}]")
    nodes = []
    for k, (color, p) in enumerate(record.moves, 1):
        comment = f"C[{_escape(record.comments[k])}]" if k in record.comments else ""
        nodes.append(f";{color.letter}[{coords.to_sgf(p, n)}]{comment}")
    lines = ["(;" + "".join(root)] + ["".join(nodes[i:i + 12]) for i in range(0, len(nodes), 12)]
    return "\n".join(lines) + ")\n"


# sgfmill's tokeniser pattern, repeated only to locate the errors it reports without a position.
_TOKEN = re.compile(rb"\s*(?:(?P<V>\[(?:[^\\\]]|\\.)*\])|(?P<I>[A-Za-z]{1,64})|(?P<D>[;()]))", re.DOTALL)


def _syntax_error(bb: bytes, reason: str) -> SgfError:
    """Where sgfmill's parser failed: walk the same tokens and stop at the first one it refuses."""
    start = re.search(rb"\(\s*;", bb)
    if start is None:
        return SgfError("not SGF: no game tree ('(;') in the data")
    pos, prev, prev_at, nodes, depth, problem = start.start(), None, 0, None, 0, None
    while (m := _TOKEN.match(bb, pos)) is not None:
        kind = m.lastgroup if m.lastgroup != "D" else m.group("D").decode()
        at, pos = m.start(m.lastgroup), m.end()
        if prev == "I" and kind != "V":
            at, problem = prev_at, "property without a value"
        elif kind == "V" and prev not in ("I", "V"):
            problem = "value without a property name"
        elif kind == "I" and prev not in (";", "V"):
            problem = "property outside a node"
        elif kind == ";" and nodes is None:
            problem = "node after a variation (nodes must come before variations)"
        elif kind in ("(", ")") and nodes == 0:
            problem = "game tree without a node"
        if problem:
            break
        if kind == ";":
            nodes += 1
        elif kind in ("(", ")"):
            depth += 1 if kind == "(" else -1
            nodes = 0 if kind == "(" else None
        prev, prev_at = kind, at
        if depth == 0:
            return SgfError(f"SGF syntax error: {reason}")  # not expected: the scan found nothing wrong
    else:  # the tokens ran out before the game tree closed
        rest = bb[pos:].lstrip()
        at = len(bb) - len(rest)
        if not rest:
            problem = "unexpected end of data (truncated?)"
        elif rest.startswith(b"["):
            problem = "unterminated property value"
        else:
            problem = f"unexpected {rest[:12].decode('utf-8', 'replace')!r}"
    line, column = bb.count(b"\n", 0, at) + 1, at - bb.rfind(b"\n", 0, at)
    return SgfError(f"SGF syntax error at byte {at} (line {line}, column {column}): {problem}")


def _fail(i: int, ident: str, message: str) -> SgfError:
    return SgfError(f"node {i}, property {ident}: {message}")


def _checked(i: int, ident: str, parse, *args):
    """parse(*args), its ValueError (RulesError, CoordinateError, ...) told as node i's property."""
    try:
        return parse(*args)
    except ValueError as exc:
        raise _fail(i, ident, str(exc)) from None


def _komi(text: str) -> float:
    if _NUMBER.fullmatch(text) is None:  # float() would also take "nan", "1e3" and "1_0"
        raise ValueError(f"{text!r} is not a number")
    return Rules(komi=float(text)).komi  # whole or half points only, as Rules checks


def _encoding(bb: bytes, root: dict) -> str:
    """CA's codec; without CA, UTF-8 if the data is valid UTF-8 (KataGo and most current programs
    write UTF-8 and no CA; such bytes are almost never meant as Latin-1), else FF[4]'s Latin-1."""
    if "CA" in root:
        name = sgf_grammar.simpletext_value(root["CA"][0]).decode("ascii", "replace").strip()
        try:
            return codecs.lookup(name).name
        except LookupError:
            raise _fail(0, "CA", f"unknown charset {name!r}") from None
    try:
        bb.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def read_sgf(data: str | bytes) -> GameRecord:
    """The first game of an SGF collection; `bytes` are decoded by CA (see _encoding)."""
    if isinstance(data, str):
        bb, encoding = data.encode("utf-8"), "utf-8"
    elif isinstance(data, (bytes, bytearray, memoryview)):
        bb, encoding = bytes(data), None
    else:
        raise TypeError(f"SGF data must be str or bytes, got {type(data).__name__}")
    try:
        nodes = list(sgf_grammar.main_sequence_iter(sgf_grammar.parse_sgf_game(bb)))
    except ValueError as exc:
        raise _syntax_error(bb, str(exc)) from None
    root = nodes[0]
    encoding = encoding or _encoding(bb, root)

    def text(props: dict, ident: str, strip: bool = True) -> str | None:
        if ident not in props:
            return None
        value = sgf_grammar.simpletext_value(props[ident][0]).decode(encoding, "replace")
        return value.strip() if strip else value  # names, dates, RU: kept as written

    if text(root, "GM") not in (None, "1"):
        raise _fail(0, "GM", f"game {text(root, 'GM')!r} is not Go (GM[1])")
    size = text(root, "SZ") or "19"
    if (m := _SIZE.fullmatch(size)) is None:
        raise _fail(0, "SZ", f"{size!r} is not a board size")
    if m.group(2) not in (None, m.group(1)):
        raise _fail(0, "SZ", f"rectangular boards ({size}) are not supported, only square ones")
    n = _checked(0, "SZ", check_board_size, int(m.group(1)))
    komi = _checked(0, "KM", _komi, text(root, "KM") or "0")  # no KM means no komi, as sgfmill reads it
    rules_text, result, handicap = text(root, "RU", False), text(root, "RE"), text(root, "HA") or "0"
    rules = _checked(0, "RU", lambda: Rules.from_sgf(rules_text or "", komi=komi))
    result = None if result is None else _checked(0, "RE", normalize_result, result)
    if not re.fullmatch(r"[0-9]+", handicap):  # str.isdigit would take "²", which int() refuses
        raise _fail(0, "HA", f"{handicap!r} is not a number of stones")

    def point(i: int, ident: str, raw: bytes) -> int:
        return _checked(i, ident, coords.from_sgf, raw.decode("latin-1").strip(), n)

    setup: dict[str, list[int]] = {"AB": [], "AW": []}
    moves: list[tuple[Color, int]] = []
    comments: dict[int, str] = {}
    first_player = None
    for i, props in enumerate(nodes):
        if "AE" in props:
            raise _fail(i, "AE", "removing stones is not supported")
        for ident in (key for key in setup if key in props):
            if moves:  # e.g. a Sabaki edit-mode node mid-game: the record could not replay it
                raise _fail(i, ident, f"setup stones after move {len(moves)} are not supported")
            for raw in props[ident]:
                ends = [point(i, ident, part) for part in raw.split(b":", 1)]
                if n * n in ends:
                    raise _fail(i, ident, f"{raw.decode('latin-1')!r} is a pass, not a point")
                (r0, c0), (r1, c1) = divmod(ends[0], n), divmod(ends[-1], n)
                for r in range(min(r0, r1), max(r0, r1) + 1):  # a compressed list: AB[aa:cc] is a rectangle
                    for c in range(min(c0, c1), max(c0, c1) + 1):
                        if r * n + c in setup["AB"] + setup["AW"]:
                            raise _fail(i, ident, f"{coords.to_sgf(r * n + c, n)!r} is set up twice")
                        setup[ident].append(r * n + c)
        if "PL" in props and not moves:  # a later PL only repeats what the moves say
            first_player = _checked(i, "PL", Color.parse, text(props, "PL") or "")
        if "B" in props and "W" in props:
            raise SgfError(f"node {i}, properties B and W: a node holds at most one move")
        for ident in (key for key in ("B", "W") if key in props):
            if len(props[ident]) != 1:
                raise _fail(i, ident, f"a move has one value, got {len(props[ident])}")
            moves.append((Color.parse(ident), point(i, ident, props[ident][0])))
        if "C" in props:
            comment = "\n".join(sgf_grammar.text_value(v).decode(encoding, "replace") for v in props["C"])
            k = len(moves)
            comments[k] = f"{comments[k]}\n\n{comment}" if k in comments else comment
    return GameRecord(board_size=n, rules=rules, black=text(root, "PB", False) or "",
                      white=text(root, "PW", False) or "", result=result, date=text(root, "DT", False),
                      setup_black=tuple(setup["AB"]), setup_white=tuple(setup["AW"]), first_player=first_player,
                      moves=tuple(moves), comments=comments, game_name=text(root, "GN", False),
                      rules_text=rules_text, handicap=int(handicap), application=text(root, "AP", False))


def read_sgf_file(path: str | PathLike) -> GameRecord:
    """read_sgf of the file's bytes; errors start with the path."""
    try:
        return read_sgf(Path(path).read_bytes())
    except SgfError as exc:
        raise SgfError(f"{path}: {exc}") from None


__all__ = ["GameRecord", "SgfError", "normalize_result", "read_sgf", "read_sgf_file", "write_sgf"]
