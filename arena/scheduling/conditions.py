"""The conditions a game is played under, as the key rating pools are kept by.

A checkpoint's strength on 9x9 says nothing about its strength on 19x19, and komi and rules move
the balance between colours: games under different conditions are never rated in one pool.

    condition_key(board_size=9, rules="chinese", komi=7.5)  # "9x9 chinese komi 7.5"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from search_workers.schemas import GameSettings

__all__ = ["condition_key", "configuration_condition"]


def condition_key(*, board_size: int, rules: str, komi: float) -> str:
    """One pool's key: `"<N>x<N> <rules> komi <komi>"` (migration 0007 wrote the same for the
    tournaments it found)."""
    return f"{board_size}x{board_size} {rules} komi {float(komi):g}"


def configuration_condition(configuration: Mapping[str, Any]) -> str:
    """The key of a stored tournament configuration, the game contract's defaults
    (search_workers.schemas.GameSettings) standing in for the fields it leaves out."""
    fields = GameSettings.model_fields
    return condition_key(board_size=int(configuration.get("board_size", fields["board_size"].default)),
                         rules=str(configuration.get("rules", fields["rules"].default)),
                         komi=float(configuration.get("komi", fields["komi"].default)))
