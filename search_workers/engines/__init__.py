"""Players (layer 4): MCTS over an evaluator, and the block of games they play together."""

from .match import GameOutcome, MctsPlayer, MoveStats, paired_openings, play_block

__all__ = ["GameOutcome", "MctsPlayer", "MoveStats", "paired_openings", "play_block"]
