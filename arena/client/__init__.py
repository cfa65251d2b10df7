"""A typed Python client for the arena's gRPC API (`proto/arena/v1/arena.proto`), for training
pipelines: register a checkpoint, schedule its gauntlet, wait for its rating on the WatchRatings
stream, read leaderboards. Results are frozen dataclasses, refusals `ArenaError` subclasses.

    from arena.client import ArenaClient, Participant

    with ArenaClient("arena.internal:50051", token=TOKEN, root_certificates="ca.pem") as arena:
        # The run wrote run7-s100k.json + .safetensors into a folder of the server's ARENA_IMPORT_DIRS.
        ckpt = arena.register_checkpoint(import_dir / "run7-s100k.json")
        me = Participant.checkpoint(ckpt.name, visits=64)
        gauntlet = arena.schedule_gauntlet(f"{ckpt.name}-gauntlet", me,
                                           [Participant.checkpoint("run7-s050k", visits=64),
                                            Participant.engine("gnugo-l1")], games_per_pairing=20)
        wait = arena.wait_for_rating(gauntlet.tournament_id, me.name, max_ci_half_width=50, timeout=3600)
        print(wait.reason, wait.standing.elo, wait.standing.ci_half_width)
        print(arena.get_leaderboard().standings[:5])

Imports only `grpc` and the generated code: no database, web or worker libraries.
"""

from .arena_client import DEFAULT_TIMEOUT_S, ArenaClient
from .errors import (AlreadyExists, ArenaError, DeadlineExceeded, InvalidArgument, NotFound, PermissionDenied,
                     ResourceExhausted, Unauthenticated, Unavailable)
from .results import (ConditionGames, EquivalentStrength, Leaderboard, Participant, RatingWait, RegisteredCheckpoint,
                      RelativeElo, ScheduledTournament, Standing, gauntlet_config)

__all__ = ["DEFAULT_TIMEOUT_S", "AlreadyExists", "ArenaClient", "ArenaError", "ConditionGames", "DeadlineExceeded",
           "EquivalentStrength", "InvalidArgument", "Leaderboard", "NotFound", "Participant", "PermissionDenied",
           "RatingWait", "RegisteredCheckpoint", "RelativeElo", "ResourceExhausted", "ScheduledTournament", "Standing",
           "Unauthenticated", "Unavailable", "gauntlet_config"]
