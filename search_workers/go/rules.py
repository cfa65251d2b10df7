"""Rule variants as a small frozen value, with presets named as KataGo names them.

Only area scoring exists here (Tromp-Taylor counting): territory rules change who wins a
finished game in ways a referee cannot settle without agreement on dead stones, which is
exactly what an automatic evaluator must not depend on.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from enum import Enum

MIN_BOARD_SIZE = 2
# GTP letters skip "I", leaving 25 columns; SGF letters would allow 52 but nothing plays there.
MAX_BOARD_SIZE = 25

DEFAULT_KOMI = 7.5
# |komi| at most: beyond half the largest area difference of a 19x19 board (361 points), the
# largest board the arena's networks and reference engines play. The one komi bound: the rules,
# the game contract (search_workers.schemas) and tournament configurations all check `check_komi`.
MAX_KOMI = 150


class RulesError(ValueError):
    """A rules option or board size that this referee cannot play under."""


def check_komi(komi: object) -> float:
    """`komi` as a float if it is a finite multiple of 0.5 within ±MAX_KOMI, else RulesError."""
    if isinstance(komi, bool) or not isinstance(komi, numbers.Real):
        raise RulesError(f"komi must be a number, got {komi!r}")
    value = float(komi)
    if not math.isfinite(value) or value * 2 != round(value * 2) or abs(value) > MAX_KOMI:
        raise RulesError(f"komi must be a finite multiple of 0.5 within ±{MAX_KOMI}, got {komi!r}")
    return value


class KoRule(str, Enum):
    """How repetition is forbidden.

    SIMPLE       only the immediate recapture of a single-stone ko is illegal.
    POSITIONAL   no move may recreate any earlier board position (stones only).
    SITUATIONAL  no move may recreate an earlier position with the same player to move next.
    """

    SIMPLE = "simple"
    POSITIONAL = "positional"
    SITUATIONAL = "situational"


# The order of this tuple is the integer code the compiled core uses.
KO_RULE_CODES = (KoRule.SIMPLE, KoRule.POSITIONAL, KoRule.SITUATIONAL)


@dataclass(frozen=True)
class Rules:
    """The rules one game is played and scored under.

    Build one through `Rules.preset("tromp-taylor")` or directly; every field is checked here
    so that a bad value never reaches the compiled core.
    """

    komi: float = DEFAULT_KOMI  # points added to White's area score; a multiple of 0.5
    ko: KoRule = KoRule.POSITIONAL  # repetition rule, see KoRule
    suicide_allowed: bool = True  # may a move remove its own chain? (never a lone stone)
    scoring: str = "area"  # Tromp-Taylor area scoring; the only kind refereed automatically

    def __post_init__(self) -> None:
        object.__setattr__(self, "komi", check_komi(self.komi))
        try:
            object.__setattr__(self, "ko", KoRule(self.ko))
        except ValueError:
            choices = ", ".join(k.value for k in KoRule)
            raise RulesError(f"ko rule must be one of {choices}, got {self.ko!r}") from None
        if not isinstance(self.suicide_allowed, bool):
            raise RulesError(f"suicide_allowed must be a bool, got {self.suicide_allowed!r}")
        if self.scoring != "area":
            raise RulesError(f"only area scoring is supported, got scoring={self.scoring!r}")

    @classmethod
    def preset(cls, name: str, *, komi: float = DEFAULT_KOMI) -> Rules:
        """The named rule set (`tromp-taylor` or `chinese`) with the given komi."""
        key = name.strip().lower()
        if key not in PRESETS:
            raise RulesError(f"unknown rules preset {name!r}; known: {', '.join(PRESETS)}")
        return replace(PRESETS[key], komi=komi)

    @property
    def name(self) -> str | None:
        """The preset name these rules match (ignoring komi), or None for a custom mix."""
        for preset_name, preset in PRESETS.items():
            if replace(preset, komi=self.komi) == self:
                return preset_name
        return None

    @property
    def ko_code(self) -> int:
        return KO_RULE_CODES.index(self.ko)

    def describe(self) -> str:
        """A one-line description, also used as the SGF RU value for custom mixes."""
        if self.name is not None:
            return self.name
        sui = "1" if self.suicide_allowed else "0"
        # KataGo's rules string shape, so KataGo can read our SGFs back.
        return f"ko{self.ko.value.upper()}score{self.scoring.upper()}taxNONEsui{sui}"

    def to_sgf(self) -> str:
        """The SGF RU property value."""
        return {"tromp-taylor": "tromp-taylor", "chinese": "Chinese"}.get(self.name or "", self.describe())

    @classmethod
    def from_sgf(cls, text: str, *, komi: float = DEFAULT_KOMI) -> Rules:
        """Rules for an SGF RU value, as other programs write it.

        Territory rule sets (Japanese, Korean) are replayed with their own ko and suicide
        conventions but are still scored by area: the referee never scores territory.
        """
        key = text.strip().lower().replace("_", "-").replace(" ", "-")
        if key in ("", "tromp-taylor", "tromptaylor", "tt"):
            return cls.preset("tromp-taylor", komi=komi)
        if key in ("chinese", "cn", "chinese-ogs", "chinese-kgs"):
            return cls.preset("chinese", komi=komi)
        if key in ("japanese", "jp", "korean", "ko", "gnugo"):
            return cls(komi=komi, ko=KoRule.SIMPLE, suicide_allowed=False)
        if key in ("aga", "bga"):
            return cls(komi=komi, ko=KoRule.SITUATIONAL, suicide_allowed=False)
        if key in ("new-zealand", "nz"):
            return cls(komi=komi, ko=KoRule.SITUATIONAL, suicide_allowed=True)
        if key.startswith("ko"):
            return cls._from_katago_string(text.strip(), komi)
        raise RulesError(f"unknown rules in SGF RU[{text}]")

    @classmethod
    def _from_katago_string(cls, text: str, komi: float) -> Rules:
        """Parse KataGo's compact form, e.g. `koPOSITIONALscoreAREAtaxNONEsui1`.

        Territory scoring (KataGo's Japanese-like rules) is replayed like `Japanese` above:
        its ko and suicide options are honoured, its scoring is not. KataGo's SPIGHT ko rule
        differs from simple ko only in how the game ends after passes, so it replays as SIMPLE.
        """
        upper = text.upper()
        ko = None
        for name, rule in (("SIMPLE", KoRule.SIMPLE), ("SPIGHT", KoRule.SIMPLE),
                           ("POSITIONAL", KoRule.POSITIONAL), ("SITUATIONAL", KoRule.SITUATIONAL)):
            if upper.startswith("KO" + name):
                ko = rule
        if ko is None:
            raise RulesError(f"unknown ko rule in SGF RU[{text}]")
        if "SCOREAREA" not in upper and "SCORETERRITORY" not in upper:
            raise RulesError(f"unknown scoring rule in SGF RU[{text}]")
        suicide = "SUI1" in upper
        return cls(komi=komi, ko=ko, suicide_allowed=suicide)


PRESETS: dict[str, Rules] = {
    "tromp-taylor": Rules(ko=KoRule.POSITIONAL, suicide_allowed=True),
    "chinese": Rules(ko=KoRule.SITUATIONAL, suicide_allowed=False),
}


def check_board_size(board_size: object) -> int:
    """Return `board_size` as an int, or raise RulesError naming the bad value."""
    if isinstance(board_size, bool) or not isinstance(board_size, int):
        raise RulesError(f"board size must be an integer, got {board_size!r}")
    if not MIN_BOARD_SIZE <= board_size <= MAX_BOARD_SIZE:
        raise RulesError(f"board size must be between {MIN_BOARD_SIZE} and {MAX_BOARD_SIZE}, got {board_size}")
    return board_size
