"""Players (layer 4): MCTS over an evaluator, GTP engine processes, and the block of games they play."""

from .config import (
    CommandEngine,
    EngineConfigError,
    EngineSpec,
    GnuGoEngine,
    KataGoEngine,
    LeelaZeroEngine,
    UnsupportedGame,
    load_engine_config,
)
from .gtp import GtpClient, GtpCrash, GtpEngineError, GtpError, GtpFailure, GtpProtocolError, GtpTimeout
from .gtp_player import EngineFailure, EnginePool, EnginePoolExhausted, GtpPlayer, UnknownEngine
from .match import (
    RESIGN,
    BlockGame,
    BlockRunner,
    EngineSeat,
    GameOutcome,
    MctsPlayer,
    MoveStats,
    Settlement,
    paired_openings,
    play_games,
    play_seats,
)
from .referee import RefereeError, settle, tromp_taylor

__all__ = [
    "RESIGN",
    "BlockGame",
    "BlockRunner",
    "EngineSeat",
    "GameOutcome",
    "MctsPlayer",
    "MoveStats",
    "Settlement",
    "paired_openings",
    "play_games",
    "play_seats",
    "tromp_taylor",
    # GTP engines
    "CommandEngine",
    "EngineConfigError",
    "EngineFailure",
    "EnginePool",
    "EnginePoolExhausted",
    "EngineSpec",
    "GnuGoEngine",
    "GtpClient",
    "GtpCrash",
    "GtpEngineError",
    "GtpError",
    "GtpFailure",
    "GtpPlayer",
    "GtpProtocolError",
    "GtpTimeout",
    "KataGoEngine",
    "LeelaZeroEngine",
    "RefereeError",
    "UnknownEngine",
    "UnsupportedGame",
    "load_engine_config",
    "settle",
]
