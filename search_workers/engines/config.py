"""Engine definitions: the server-side TOML file that says which GTP engines exist and how to run them.

Clients (API, CLI) name an engine; they never send a command line. Each `[[engine]]` table is
either a preset (`preset = "gnugo" | "katago" | "leela-zero"` plus that preset's options) or a
raw `command` (an argv list) with optional `setup_commands`. Every key is validated; unknown keys
are refused, so a typo never silently falls back to a default. See `engines.example.toml`.

A spec builds, from the rules of the game to play:

* `argv(rules)`: the command line (GNU Go takes its ko and suicide rules on the command line,
  so a player restarts it when a tournament with other rules comes along);
* `setup_commands(rules)`: GTP commands sent at every new game, after boardsize/komi/clear_board
  (KataGo's `kata-set-rules`).
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, field_validator

from search_workers.go import MAX_BOARD_SIZE, MIN_BOARD_SIZE, KoRule, Rules

# Debian installs games (GNU Go) outside the PATH of root and of services.
DEBIAN_GAMES_DIR = Path("/usr/games")

EngineName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Seconds = Annotated[float, Field(gt=0, le=86_400)]


class EngineConfigError(ValueError):
    """An engine configuration file that cannot be used; the message names the engine and field."""


class UnsupportedGame(ValueError):
    """A game (board size) the engine does not play."""


def find_binary(binary: str) -> str:
    """`binary` itself if it names a path, else its location on PATH or in /usr/games.

    Falls back to the bare name, so that a missing engine fails where it is started, with
    the engine's name in the error, rather than where the configuration is read.
    """
    if "/" in binary:
        return binary
    return shutil.which(binary) or shutil.which(binary, path=str(DEBIAN_GAMES_DIR)) or binary


class EngineSpec(BaseModel):
    """What every engine has, whatever runs it. Subclasses say how to run it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default_board_sizes: ClassVar[tuple[int, ...]] = tuple(range(MIN_BOARD_SIZE, MAX_BOARD_SIZE + 1))

    name: EngineName  # how the API, CLI and stored games refer to it
    working_directory: Path | None = None  # cwd of the process (relative model paths resolve here)
    command_timeout: Seconds = 10.0  # seconds for any answer but genmove's
    move_timeout: Seconds = 120.0  # seconds for genmove
    startup_timeout: Seconds = 120.0  # seconds for the first answer (loading a network, tuning)
    max_failures: int = Field(default=3, ge=1, le=100)  # crashes/hangs tolerated in one game
    # Sizes it plays; empty: GNU Go and KataGo up to 19x19, Leela Zero 19x19, a command any size.
    board_sizes: tuple[int, ...] = ()

    @field_validator("board_sizes")
    @classmethod
    def _check_sizes(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        for size in sizes:
            if not MIN_BOARD_SIZE <= size <= MAX_BOARD_SIZE:
                raise ValueError(f"board size {size} is not between {MIN_BOARD_SIZE} and {MAX_BOARD_SIZE}")
        if len(set(sizes)) != len(sizes):
            raise ValueError(f"board sizes listed twice: {list(sizes)}")
        return tuple(sorted(sizes))

    @property
    def playable_sizes(self) -> tuple[int, ...]:
        return self.board_sizes or self.default_board_sizes

    def check_board_size(self, board_size: int) -> None:
        """Raise UnsupportedGame unless this engine plays `board_size`."""
        sizes = self.playable_sizes
        if board_size not in sizes:
            if len(sizes) > 2 and sizes == tuple(range(sizes[0], sizes[-1] + 1)):
                plays = f"{sizes[0]}x{sizes[0]} to {sizes[-1]}x{sizes[-1]}"
            else:
                plays = ", ".join(f"{n}x{n}" for n in sizes)
            raise UnsupportedGame(f"engine {self.name!r} plays {plays} only; asked for {board_size}x{board_size}")

    def argv(self, rules: Rules) -> list[str]:
        """The command line that starts the engine for games under `rules`."""
        raise NotImplementedError

    def setup_commands(self, rules: Rules) -> list[str]:
        """GTP commands sent at each new game after boardsize, komi and clear_board."""
        return []

    def referee_score_command(self) -> str | None:
        """As a referee (engines.referee.settle): the GTP command whose reply is the final score
        (`B+3.5`, `W+0.5`, `0`), or None to list dead stones with `final_status_list dead`."""
        return None


class CommandEngine(EngineSpec):
    """Any GTP engine, run as given. Its rules are whatever its command line sets."""

    command: list[str] = Field(min_length=1)  # argv; the first item is the program
    setup_commands_: list[str] = Field(default_factory=list, alias="setup_commands")

    @field_validator("command", "setup_commands_")
    @classmethod
    def _one_line_each(cls, items: list[str]) -> list[str]:
        for item in items:
            if not item or "\n" in item or "\r" in item:
                raise ValueError(f"items must be non-empty single lines, got {item!r}")
        return items

    def argv(self, rules: Rules) -> list[str]:
        return [find_binary(self.command[0]), *self.command[1:]]

    def setup_commands(self, rules: Rules) -> list[str]:
        return list(self.setup_commands_)


class GnuGoEngine(EngineSpec):
    """GNU Go in GTP mode, Chinese (area) rules, with the game's ko and suicide rules."""

    default_board_sizes: ClassVar[tuple[int, ...]] = tuple(range(MIN_BOARD_SIZE, 20))  # its MAX_BOARD

    preset: Literal["gnugo"]
    binary: str = "gnugo"  # found on PATH or in /usr/games
    level: int = Field(default=10, ge=0, le=10)  # GNU Go strength, 10 its strongest
    # The arena scores by area: a player that leaves dead stones on the board loses them.
    capture_all_dead: bool = True

    def argv(self, rules: Rules) -> list[str]:
        argv = [find_binary(self.binary), "--mode", "gtp", "--level", str(self.level), "--chinese-rules"]
        if self.capture_all_dead:
            argv.append("--capture-all-dead")
        argv.append({KoRule.SIMPLE: "--simple-ko", KoRule.POSITIONAL: "--positional-superko",
                     KoRule.SITUATIONAL: "--situational-superko"}[rules.ko])
        # GNU Go's --allow-suicide forbids single-stone suicide, exactly as our rules do.
        argv.append("--allow-suicide" if rules.suicide_allowed else "--forbid-suicide")
        return argv


class KataGoEngine(EngineSpec):
    """KataGo's GTP engine with a fixed number of visits and no pondering."""

    default_board_sizes: ClassVar[tuple[int, ...]] = tuple(range(MIN_BOARD_SIZE, 20))  # unless built bigger

    preset: Literal["katago"]
    binary: str = "katago"
    model: Path  # the network file (.bin.gz)
    config: Path  # a GTP config file (gtp_example.cfg); the overrides below take precedence
    max_visits: int = Field(default=400, ge=1)
    search_threads: int = Field(default=1, ge=1, le=1024)
    allow_resignation: bool = True
    resign_threshold: float = Field(default=-0.9, ge=-1.0, le=1.0)  # on KataGo's [-1, 1] win/loss utility
    # More `-override-config` keys (e.g. nnMaxBatchSize); may not repeat the ones set above.
    override_config: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # As a referee: its own final score under the game's rules (set by kata-set-rules) rather
    # than a dead-stone list; "dead-stones" asks `final_status_list dead` as of GNU Go.
    referee_score: Literal["final_score", "kata-raw-final-score", "dead-stones"] = "final_score"

    _OWN_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"maxVisits", "numSearchThreads", "ponderingEnabled", "allowResignation", "resignThreshold"})

    @field_validator("override_config")
    @classmethod
    def _check_overrides(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        for key, value in overrides.items():
            if key in cls._OWN_KEYS:
                raise ValueError(f"{key} is set by the preset's own options; set it there")
            if not key.isidentifier() or any(c in str(value) for c in ",=\n\r"):
                raise ValueError(f"override {key}={value!r} cannot be passed in -override-config")
        return overrides

    def argv(self, rules: Rules) -> list[str]:
        overrides: dict[str, Any] = {
            "maxVisits": self.max_visits,
            "numSearchThreads": self.search_threads,
            "ponderingEnabled": False,
            "allowResignation": self.allow_resignation,
            "resignThreshold": self.resign_threshold,
            **self.override_config,
        }
        text = ",".join(f"{key}={str(value).lower() if isinstance(value, bool) else value}"
                        for key, value in overrides.items())
        return [find_binary(self.binary), "gtp", "-model", str(self.model), "-config", str(self.config),
                "-override-config", text]

    def setup_commands(self, rules: Rules) -> list[str]:
        return [f"kata-set-rules {katago_rules(rules)}"]

    def referee_score_command(self) -> str | None:
        return None if self.referee_score == "dead-stones" else self.referee_score


class LeelaZeroEngine(EngineSpec):
    """Leela Zero: 19x19 only (its networks are trained on nothing else), no pondering."""

    default_board_sizes: ClassVar[tuple[int, ...]] = (19,)

    preset: Literal["leela-zero"]
    binary: str = "leelaz"
    weights: Path  # the network file
    visits: int = Field(default=800, ge=1)
    threads: int | None = Field(default=None, ge=1, le=1024)  # Leela Zero's own default if unset
    resign_percent: int | None = Field(default=None, ge=0, le=100)  # 0 never resigns; unset: its default

    @field_validator("board_sizes")
    @classmethod
    def _only_19(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if any(size != 19 for size in sizes):
            raise ValueError(f"Leela Zero plays 19x19 only, got {list(sizes)}")
        return sizes

    def argv(self, rules: Rules) -> list[str]:
        argv = [find_binary(self.binary), "--gtp", "--noponder", "-w", str(self.weights), "-v", str(self.visits)]
        if self.threads is not None:
            argv += ["-t", str(self.threads)]
        if self.resign_percent is not None:
            argv += ["--resignpct", str(self.resign_percent)]
        return argv


def katago_rules(rules: Rules) -> str:
    """The `kata-set-rules` argument for `rules`, in KataGo's explicit form.

    Explicit rather than named because names differ: KataGo's "chinese" is simple ko, ours is
    situational superko. Only area scoring exists here, so there is never a tax.
    """
    return f"ko{rules.ko.value.upper()}scoreAREAtaxNONEsui{int(rules.suicide_allowed)}"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("preset", "command"))
    return getattr(value, "preset", "command")


AnyEngineSpec = Annotated[
    Union[Annotated[CommandEngine, Tag("command")], Annotated[GnuGoEngine, Tag("gnugo")],
          Annotated[KataGoEngine, Tag("katago")], Annotated[LeelaZeroEngine, Tag("leela-zero")]],
    Discriminator(_kind, custom_error_type="unknown_preset",
                  custom_error_message="preset must be one of gnugo, katago, leela-zero (or give a command)"),
]
_SPEC = TypeAdapter(AnyEngineSpec)
_TAGS = ("command", "gnugo", "katago", "leela-zero")


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    engine: list[dict[str, Any]] = Field(default_factory=list)


def parse_engine_config(data: dict[str, Any], *, source: str = "engine configuration") -> dict[str, EngineSpec]:
    """Validate parsed TOML (`{"engine": [{...}, ...]}`) into specs by name; see load_engine_config."""
    try:
        tables = _ConfigFile.model_validate(data).engine
    except ValidationError as exc:
        raise EngineConfigError(f"{source}: {_describe(exc)}") from None
    specs: dict[str, EngineSpec] = {}
    for index, table in enumerate(tables):
        label = f"engine {table['name']!r}" if isinstance(table.get("name"), str) else f"engine #{index + 1}"
        if ("command" in table) == ("preset" in table):
            raise EngineConfigError(f"{source}: {label}: give either a `command` or a `preset`")
        try:
            spec = _SPEC.validate_python(table)
        except ValidationError as exc:
            raise EngineConfigError(f"{source}: {label}: {_describe(exc)}") from None
        if spec.name in specs:
            raise EngineConfigError(f"{source}: {label} is defined twice")
        specs[spec.name] = spec
    return specs


def load_engine_config(path: str | Path) -> dict[str, EngineSpec]:
    """Read the engines TOML file at `path`: `{name: spec}`, or EngineConfigError naming what is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EngineConfigError(f"{path}: {exc}") from None
    return parse_engine_config(data, source=str(path))


def _describe(exc: ValidationError) -> str:
    """Pydantic's errors as `field: message; ...`, without the tag names of the union."""
    parts = []
    for error in exc.errors():
        loc = error["loc"]
        if loc and loc[0] in _TAGS:
            loc = loc[1:]
        field = ".".join(str(item) for item in loc) or "preset"  # only the union's choice has no location
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"field {field!r}: {message}")
    return "; ".join(parts)
