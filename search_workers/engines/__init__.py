"""Players (layer 4): MCTS over an evaluator, and the block of games they play together."""

from .match import (
    RESIGN,
    BlockGame,
    EngineSeat,
    GameOutcome,
    MctsPlayer,
    MoveStats,
    Settlement,
    paired_openings,
    play_block,
    play_games,
    tromp_taylor,
)

__all__ = [
    "RESIGN",
    "BlockGame",
    "EngineSeat",
    "GameOutcome",
    "MctsPlayer",
    "MoveStats",
    "Settlement",
    "paired_openings",
    "play_block",
    "play_games",
    "tromp_taylor",
]
