"""Tournament formats as pure planning: no database, no queue (the service layer stores and runs plans).

* `config`: `TournamentConfig` (one model per format, built with `parse_config`) and its parts,
  validated before anything is scheduled.
* `plan`: `PlannedGame` (identity fixed before play), colour-swapped pairs, deterministic seeds.
* `formats`: `initial_games` / `next_games` for round-robin, gauntlet, visits ladder, adaptive
  and SPRT; `decision` for the SPRT gate.
* `finished`: `FinishedGames`, what the dynamic formats read of the results so far (counts).
* `openings`: opening books (none, random, SGF directory, network policy) and their stored text.
* `limits`: a server's limits on tournaments (games, players, visits, worker memory) and blocks
  sized to the worker's memory budget.
"""

from .config import (
    FORMAT_MODELS,
    AdaptiveConfig,
    GauntletConfig,
    OpeningsSpec,
    ParticipantSpec,
    ResignSpec,
    RoundRobinConfig,
    SprtConfig,
    TournamentConfig,
    VisitsLadderConfig,
    check_references,
    expand_visits_ladder,
    ladder_name,
    parse_config,
)
from .errors import SchedulingError
from .formats import GateDecision, decision, initial_games, next_games, static_pairings
from .limits import TournamentLimits, check_limits, planned_games, split_blocks, with_game_cap
from .openings import (
    format_opening,
    from_policy,
    from_sgf_directory,
    opening_book,
    parse_opening,
    random_openings,
    replay_opening,
)
from .finished import FinishedGames
from .plan import PlannedGame, PlayedGame, game_seed, pair_games, pairing_name

__all__ = [
    "FORMAT_MODELS",
    "AdaptiveConfig",
    "GauntletConfig",
    "OpeningsSpec",
    "ParticipantSpec",
    "ResignSpec",
    "RoundRobinConfig",
    "SprtConfig",
    "TournamentConfig",
    "VisitsLadderConfig",
    "check_references",
    "expand_visits_ladder",
    "ladder_name",
    "parse_config",
    "SchedulingError",
    "GateDecision",
    "FinishedGames",
    "decision",
    "initial_games",
    "next_games",
    "static_pairings",
    "TournamentLimits",
    "check_limits",
    "planned_games",
    "split_blocks",
    "with_game_cap",
    "format_opening",
    "from_policy",
    "from_sgf_directory",
    "opening_book",
    "parse_opening",
    "random_openings",
    "replay_opening",
    "PlannedGame",
    "PlayedGame",
    "game_seed",
    "pair_games",
    "pairing_name",
]
