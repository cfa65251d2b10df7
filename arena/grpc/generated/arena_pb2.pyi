import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterCheckpointRequest(_message.Message):
    __slots__ = ("path", "name")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RegisterCheckpointResponse(_message.Message):
    __slots__ = ("id", "sha256", "name", "created", "parent_sha256")
    ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    PARENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    id: int
    sha256: str
    name: str
    created: bool
    parent_sha256: str
    def __init__(self, id: _Optional[int] = ..., sha256: _Optional[str] = ..., name: _Optional[str] = ..., created: _Optional[bool] = ..., parent_sha256: _Optional[str] = ...) -> None: ...

class ScheduleTournamentRequest(_message.Message):
    __slots__ = ("config_json", "no_dispatch")
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    NO_DISPATCH_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    no_dispatch: bool
    def __init__(self, config_json: _Optional[str] = ..., no_dispatch: _Optional[bool] = ...) -> None: ...

class ScheduleTournamentResponse(_message.Message):
    __slots__ = ("tournament_id", "name", "games_scheduled", "games_dispatched")
    TOURNAMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GAMES_SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    GAMES_DISPATCHED_FIELD_NUMBER: _ClassVar[int]
    tournament_id: int
    name: str
    games_scheduled: int
    games_dispatched: int
    def __init__(self, tournament_id: _Optional[int] = ..., name: _Optional[str] = ..., games_scheduled: _Optional[int] = ..., games_dispatched: _Optional[int] = ...) -> None: ...

class GetLeaderboardRequest(_message.Message):
    __slots__ = ("tournament_id", "condition")
    TOURNAMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    tournament_id: int
    condition: str
    def __init__(self, tournament_id: _Optional[int] = ..., condition: _Optional[str] = ...) -> None: ...

class PlayerStanding(_message.Message):
    __slots__ = ("name", "elo", "ci_low", "ci_high", "stderr", "games", "wins", "losses", "draws", "score", "relative_elo", "equivalent", "flag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ELO_FIELD_NUMBER: _ClassVar[int]
    CI_LOW_FIELD_NUMBER: _ClassVar[int]
    CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    GAMES_FIELD_NUMBER: _ClassVar[int]
    WINS_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_ELO_FIELD_NUMBER: _ClassVar[int]
    EQUIVALENT_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    elo: float
    ci_low: float
    ci_high: float
    stderr: float
    games: int
    wins: int
    losses: int
    draws: int
    score: float
    relative_elo: RelativeElo
    equivalent: EquivalentStrength
    flag: str
    def __init__(self, name: _Optional[str] = ..., elo: _Optional[float] = ..., ci_low: _Optional[float] = ..., ci_high: _Optional[float] = ..., stderr: _Optional[float] = ..., games: _Optional[int] = ..., wins: _Optional[int] = ..., losses: _Optional[int] = ..., draws: _Optional[int] = ..., score: _Optional[float] = ..., relative_elo: _Optional[_Union[RelativeElo, _Mapping]] = ..., equivalent: _Optional[_Union[EquivalentStrength, _Mapping]] = ..., flag: _Optional[str] = ...) -> None: ...

class RelativeElo(_message.Message):
    __slots__ = ("reference_point", "elo", "ci_low", "ci_high", "stderr")
    REFERENCE_POINT_FIELD_NUMBER: _ClassVar[int]
    ELO_FIELD_NUMBER: _ClassVar[int]
    CI_LOW_FIELD_NUMBER: _ClassVar[int]
    CI_HIGH_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    reference_point: str
    elo: float
    ci_low: float
    ci_high: float
    stderr: float
    def __init__(self, reference_point: _Optional[str] = ..., elo: _Optional[float] = ..., ci_low: _Optional[float] = ..., ci_high: _Optional[float] = ..., stderr: _Optional[float] = ...) -> None: ...

class EquivalentStrength(_message.Message):
    __slots__ = ("rung_param", "value", "low", "high", "position", "text")
    RUNG_PARAM_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    rung_param: str
    value: float
    low: float
    high: float
    position: str
    text: str
    def __init__(self, rung_param: _Optional[str] = ..., value: _Optional[float] = ..., low: _Optional[float] = ..., high: _Optional[float] = ..., position: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Leaderboard(_message.Message):
    __slots__ = ("tournament_id", "tournament_status", "game_set_sha256", "games", "players", "condition", "conditions", "flag_legend")
    class FlagLegendEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOURNAMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOURNAMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    GAME_SET_SHA256_FIELD_NUMBER: _ClassVar[int]
    GAMES_FIELD_NUMBER: _ClassVar[int]
    PLAYERS_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    FLAG_LEGEND_FIELD_NUMBER: _ClassVar[int]
    tournament_id: int
    tournament_status: str
    game_set_sha256: str
    games: int
    players: _containers.RepeatedCompositeFieldContainer[PlayerStanding]
    condition: str
    conditions: _containers.RepeatedCompositeFieldContainer[ConditionGames]
    flag_legend: _containers.ScalarMap[str, str]
    def __init__(self, tournament_id: _Optional[int] = ..., tournament_status: _Optional[str] = ..., game_set_sha256: _Optional[str] = ..., games: _Optional[int] = ..., players: _Optional[_Iterable[_Union[PlayerStanding, _Mapping]]] = ..., condition: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[ConditionGames, _Mapping]]] = ..., flag_legend: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ConditionGames(_message.Message):
    __slots__ = ("condition", "games")
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    GAMES_FIELD_NUMBER: _ClassVar[int]
    condition: str
    games: int
    def __init__(self, condition: _Optional[str] = ..., games: _Optional[int] = ...) -> None: ...

class WatchGamesRequest(_message.Message):
    __slots__ = ("after_game_id", "only_new", "tournament_id", "player", "until_finished", "include_sgf")
    AFTER_GAME_ID_FIELD_NUMBER: _ClassVar[int]
    ONLY_NEW_FIELD_NUMBER: _ClassVar[int]
    TOURNAMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FINISHED_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SGF_FIELD_NUMBER: _ClassVar[int]
    after_game_id: int
    only_new: bool
    tournament_id: int
    player: str
    until_finished: bool
    include_sgf: bool
    def __init__(self, after_game_id: _Optional[int] = ..., only_new: _Optional[bool] = ..., tournament_id: _Optional[int] = ..., player: _Optional[str] = ..., until_finished: _Optional[bool] = ..., include_sgf: _Optional[bool] = ...) -> None: ...

class Game(_message.Message):
    __slots__ = ("id", "tournament_id", "tournament", "black", "white", "result", "move_count", "duration_s", "finished_at", "sgf")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOURNAMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOURNAMENT_FIELD_NUMBER: _ClassVar[int]
    BLACK_FIELD_NUMBER: _ClassVar[int]
    WHITE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MOVE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    SGF_FIELD_NUMBER: _ClassVar[int]
    id: int
    tournament_id: int
    tournament: str
    black: str
    white: str
    result: str
    move_count: int
    duration_s: float
    finished_at: _timestamp_pb2.Timestamp
    sgf: str
    def __init__(self, id: _Optional[int] = ..., tournament_id: _Optional[int] = ..., tournament: _Optional[str] = ..., black: _Optional[str] = ..., white: _Optional[str] = ..., result: _Optional[str] = ..., move_count: _Optional[int] = ..., duration_s: _Optional[float] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sgf: _Optional[str] = ...) -> None: ...

class WatchRatingsRequest(_message.Message):
    __slots__ = ("tournament_id", "player", "until_player_games", "until_finished", "condition")
    TOURNAMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    UNTIL_PLAYER_GAMES_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FINISHED_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    tournament_id: int
    player: str
    until_player_games: int
    until_finished: bool
    condition: str
    def __init__(self, tournament_id: _Optional[int] = ..., player: _Optional[str] = ..., until_player_games: _Optional[int] = ..., until_finished: _Optional[bool] = ..., condition: _Optional[str] = ...) -> None: ...
