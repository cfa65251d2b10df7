"""What the client returns and takes: frozen dataclasses, converted from the protobuf messages of
`proto/arena/v1/arena.proto` (so callers never handle generated code).

    board.standing("run7-s100k@64v").ci_half_width   # Elo, half the 95% interval
    Participant.checkpoint("run7-s100k", visits=64)  # player "run7-s100k@64v"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from arena.grpc.generated import arena_pb2

__all__ = ["ConditionGames", "EquivalentStrength", "Leaderboard", "Participant", "RatingWait", "RegisteredCheckpoint",
           "RelativeElo", "ScheduledTournament", "Standing", "gauntlet_config"]

ENDED_STATUSES = ("finished", "cancelled")


def _optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


@dataclass(frozen=True)
class RegisteredCheckpoint:
    """A checkpoint the arena has recorded; `sha256` (of the weights) is its identity."""

    id: int
    sha256: str
    name: str
    created: bool  # False: these weights were already registered, nothing changed
    parent_sha256: str | None  # None: no parent recorded

    @classmethod
    def from_proto(cls, message: arena_pb2.RegisterCheckpointResponse) -> RegisteredCheckpoint:
        return cls(id=message.id, sha256=message.sha256, name=message.name, created=message.created,
                   parent_sha256=message.parent_sha256 or None)


@dataclass(frozen=True)
class ScheduledTournament:
    """A tournament the arena has stored."""

    tournament_id: int
    name: str
    games_scheduled: int  # so far: adaptive and sprt formats schedule more later
    games_dispatched: int  # sent to the workers by the scheduling call

    @classmethod
    def from_proto(cls, message: arena_pb2.ScheduleTournamentResponse) -> ScheduledTournament:
        return cls(tournament_id=message.tournament_id, name=message.name, games_scheduled=message.games_scheduled,
                   games_dispatched=message.games_dispatched)


@dataclass(frozen=True)
class RelativeElo:
    """A rating on the server's reference scale: Elo relative to `reference_point` (at 0)."""

    reference_point: str
    elo: float
    ci_low: float  # 95% interval
    ci_high: float
    stderr: float


@dataclass(frozen=True)
class EquivalentStrength:
    """Where a rating lies on the reference ladder, e.g. "plays like gnugo at level 7.3 [6.1, 8.4]"."""

    rung_param: str  # "level" or "visits"
    value: float | None  # None: above the top rung or below the lowest (see position)
    low: float | None  # 95% interval; None: it reaches past that end of the ladder
    high: float | None
    position: str  # "inside", "above" or "below"
    text: str


@dataclass(frozen=True)
class Standing:
    """One player's rating in one pool: Elo with its 95% interval, and its record."""

    name: str
    elo: float  # relative to the fit's anchor (the pool's mean when none)
    ci_low: float  # 95% interval
    ci_high: float
    stderr: float
    games: int
    wins: int
    losses: int
    draws: int
    score: float  # (wins + draws / 2) / games
    # None: no ladder; or its reference point has no games here, is flagged, or is not linked to the player
    relative_elo: RelativeElo | None = None
    equivalent: EquivalentStrength | None = None
    # None: the games rate the player; else "unbeaten", "winless", "separated" or "disconnected" (the prior
    # set part of elo and of the interval: Leaderboard.flag_legend says which)
    flag: str | None = None

    @property
    def ci_half_width(self) -> float:
        """Half the 95% interval, in Elo: how precisely the rating is known."""
        return (self.ci_high - self.ci_low) / 2

    @classmethod
    def from_proto(cls, message: arena_pb2.PlayerStanding) -> Standing:
        relative = equivalent = None
        if message.HasField("relative_elo"):
            r = message.relative_elo
            relative = RelativeElo(reference_point=r.reference_point, elo=r.elo, ci_low=r.ci_low, ci_high=r.ci_high,
                                   stderr=r.stderr)
        if message.HasField("equivalent"):
            e = message.equivalent
            equivalent = EquivalentStrength(rung_param=e.rung_param, value=_optional(e, "value"),
                                            low=_optional(e, "low"), high=_optional(e, "high"), position=e.position,
                                            text=e.text)
        return cls(name=message.name, elo=message.elo, ci_low=message.ci_low, ci_high=message.ci_high,
                   stderr=message.stderr, games=message.games, wins=message.wins, losses=message.losses,
                   draws=message.draws, score=message.score, relative_elo=relative, equivalent=equivalent,
                   flag=_optional(message, "flag"))


@dataclass(frozen=True)
class ConditionGames:
    """A rating pool ("9x9 chinese komi 7.5") and its finished games."""

    condition: str
    games: int


@dataclass(frozen=True)
class Leaderboard:
    """Ratings over one tournament's finished games (or all of them), best first."""

    tournament_id: int | None  # None: every finished game
    tournament_status: str | None  # pending, running, finished, cancelled; None without a tournament
    game_set_sha256: str  # names the exact games the ratings were fitted on
    games: int  # rated games
    standings: tuple[Standing, ...]
    condition: str | None  # the rating pool; None: no games at all
    conditions: tuple[ConditionGames, ...]  # every pool with its games, most games first
    flag_legend: dict[str, str] = field(default_factory=dict)  # each Standing.flag present: what it means

    def standing(self, player: str) -> Standing | None:
        """The player's standing; None when it has no rated game here."""
        return next((s for s in self.standings if s.name == player), None)

    @property
    def ended(self) -> bool:
        """The tournament has finished or was cancelled: no more games will be rated."""
        return self.tournament_status in ENDED_STATUSES

    @classmethod
    def from_proto(cls, message: arena_pb2.Leaderboard) -> Leaderboard:
        return cls(tournament_id=_optional(message, "tournament_id"),
                   tournament_status=message.tournament_status or None, game_set_sha256=message.game_set_sha256,
                   games=message.games, standings=tuple(Standing.from_proto(p) for p in message.players),
                   condition=_optional(message, "condition"),
                   conditions=tuple(ConditionGames(condition=c.condition, games=c.games) for c in message.conditions),
                   flag_legend=dict(message.flag_legend))


@dataclass(frozen=True)
class RatingWait:
    """How `wait_for_rating` ended: the last leaderboard, the player's standing in it, and why."""

    leaderboard: Leaderboard
    standing: Standing | None  # None: the player has no rated game
    reason: Literal["condition", "finished"]  # the asked condition was met / the tournament ended first

    @property
    def met(self) -> bool:
        return self.reason == "condition"


@dataclass(frozen=True)
class Participant:
    """A tournament player: a registered checkpoint at a visit count, or a server-configured engine."""

    name: str  # the name its ratings are reported under
    kind: Literal["checkpoint", "engine"]
    ref: str  # the checkpoint's or engine's name
    visits: int | None = None  # checkpoints only

    @classmethod
    def checkpoint(cls, ref: str, visits: int, *, name: str | None = None) -> Participant:
        """`ref` searched with `visits` playouts a move; named "<ref>@<visits>v" unless `name`."""
        return cls(name=name or f"{ref}@{visits}v", kind="checkpoint", ref=ref, visits=visits)

    @classmethod
    def engine(cls, ref: str, *, name: str | None = None) -> Participant:
        """An engine of the server's engine configuration (e.g. "gnugo-l1")."""
        return cls(name=name or ref, kind="engine", ref=ref)

    def to_config(self) -> dict[str, Any]:
        """Its entry of a tournament configuration's `participants`."""
        entry: dict[str, Any] = {"name": self.name, "kind": self.kind, "ref": self.ref}
        if self.visits is not None:
            entry["visits"] = self.visits
        return entry


def gauntlet_config(name: str, candidate: Participant, opponents: list[Participant] | tuple[Participant, ...], *,
                    games_per_pairing: int = 2, board_size: int = 9, **settings: Any) -> dict[str, Any]:
    """A gauntlet tournament's configuration: `candidate` plays every opponent `games_per_pairing`
    games (colour-swapped pairs); `settings` are further TournamentConfig fields (rules, komi,
    openings, seed, ...), checked by the server."""
    return {"name": name, "format": "gauntlet", "board_size": board_size, "games_per_pairing": games_per_pairing,
            "participants": [candidate.to_config(), *(o.to_config() for o in opponents)],
            "candidates": [candidate.name], **settings}
