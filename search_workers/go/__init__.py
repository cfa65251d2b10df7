"""Go rules as arrays: the lowest layer of the arena.

Imports nothing from the layers above it, nor torch, grpc or celery. The public surface is
value-like: `GameState.play` returns a new state. The compiled kernels (`_board`, `_features`,
`_playout`) mutate flat buffers in place and are for the search layer's hot loops.
"""

from ._jit import configure_cache

configure_cache()  # before any kernel module is imported: see _jit.py

from .coords import CoordinateError  # noqa: E402
from .features import FEATURE_SET_VERSION, NUM_FEATURE_PLANES, PLANE_NAMES, compute_features, stack_features  # noqa: E402
from .playout import RulesBenchmark, benchmark_rules, random_game, random_move, random_openings  # noqa: E402
from .results import RESULT_PATTERN, ParsedResult, ResultError, format_score, parse_result, winner_of  # noqa: E402
from .rules import MAX_BOARD_SIZE, MIN_BOARD_SIZE, PRESETS, KoRule, Rules, RulesError, check_board_size  # noqa: E402
from .sgf import GameRecord, SgfError, read_sgf, read_sgf_file, write_sgf  # noqa: E402
from .state import Color, GameState, IllegalMoveError, IllegalReason, SetupError, to_ascii  # noqa: E402

__all__ = [
    "CoordinateError",
    "FEATURE_SET_VERSION",
    "NUM_FEATURE_PLANES",
    "PLANE_NAMES",
    "compute_features",
    "stack_features",
    "RulesBenchmark",
    "benchmark_rules",
    "random_game",
    "random_move",
    "random_openings",
    "RESULT_PATTERN",
    "ParsedResult",
    "ResultError",
    "parse_result",
    "winner_of",
    "MAX_BOARD_SIZE",
    "MIN_BOARD_SIZE",
    "PRESETS",
    "KoRule",
    "Rules",
    "RulesError",
    "check_board_size",
    "GameRecord",
    "SgfError",
    "read_sgf",
    "read_sgf_file",
    "write_sgf",
    "Color",
    "GameState",
    "IllegalMoveError",
    "IllegalReason",
    "SetupError",
    "format_score",
    "to_ascii",
]
