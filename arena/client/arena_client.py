"""`ArenaClient`: the arena's gRPC API as typed calls, for training pipelines.

Every call sends the bearer token as metadata and a deadline (`timeout`, per call or the
client's default); a refusal becomes an `arena.client.errors.ArenaError` subclass carrying the
server's message, a result a frozen dataclass of `arena.client.results`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import grpc

from arena.grpc.generated import arena_pb2, arena_pb2_grpc

from .errors import ArenaError, DeadlineExceeded, from_rpc_error
from .results import (Leaderboard, Participant, RatingWait, RegisteredCheckpoint, ScheduledTournament,
                      gauntlet_config)

__all__ = ["DEFAULT_TIMEOUT_S", "ArenaClient"]

DEFAULT_TIMEOUT_S = 30.0  # unary calls; registering copies and verifies the weights, allow for it
T = TypeVar("T")


@contextmanager
def _translated() -> Iterator[None]:
    """gRPC failures as the client's typed errors (the RpcError kept as the cause)."""
    try:
        yield
    except grpc.RpcError as error:
        raise from_rpc_error(error) from error


def _channel(target: str, root_certificates: bytes | str | Path | None, tls: bool) -> grpc.Channel:
    if root_certificates is None and not tls:
        return grpc.insecure_channel(target)
    if isinstance(root_certificates, (str, Path)):
        root_certificates = Path(root_certificates).read_bytes()
    # None with tls=True: the system's root certificates.
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root_certificates))


class ArenaClient:
    """A channel to one arena gRPC server (`arena grpc --port N`).

    `target`: "host:port"; `token`: a bearer token (`arena token create`, scope `submit` to
    register and schedule); `root_certificates`: PEM bytes or a file, for a server with
    ARENA_GRPC_TLS_CERT (a CA or the self-signed certificate itself); `tls=True` without it uses
    the system's roots; `timeout`: the default deadline of unary calls, in seconds. Use it as a
    context manager, or call `close()`.
    """

    def __init__(self, target: str, *, token: str | None = None, root_certificates: bytes | str | Path | None = None,
                 tls: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.target = target
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel = _channel(target, root_certificates, tls)
        self._stub = arena_pb2_grpc.ArenaStub(self._channel)

    def __enter__(self) -> ArenaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel (open streams are cancelled)."""
        self._channel.close()

    def _unary(self, method: Callable[..., T], request: Any, timeout: float | None) -> T:
        with _translated():
            return method(request, metadata=self._metadata, timeout=self.timeout if timeout is None else timeout)

    # ------------------------------------------------------------------ writes

    def register_checkpoint(self, path: str | Path, *, name: str | None = None,
                            timeout: float | None = None) -> RegisteredCheckpoint:
        """Register the checkpoint whose manifest (NAME.json) or safetensors weights file is at
        `path`, next to the other: the server reads it there, so the path must be on a filesystem
        the server shares, under one of its ARENA_IMPORT_DIRS. `name`: register under this name
        instead of the manifest's. Registering the same weights again returns the existing
        record (`created` False); a name taken by other weights is AlreadyExists."""
        request = arena_pb2.RegisterCheckpointRequest(path=str(path), name=name or "")
        return RegisteredCheckpoint.from_proto(self._unary(self._stub.RegisterCheckpoint, request, timeout))

    def schedule_tournament(self, config: Mapping[str, Any], *, dispatch: bool = True,
                            timeout: float | None = None) -> ScheduledTournament:
        """Store a tournament (the fields of a TournamentConfig) and, with `dispatch`, send its
        first games to the workers (else `arena scheduler` sends them). InvalidArgument names
        the bad field ("config_json.games_per_pairing"); a taken name is AlreadyExists."""
        request = arena_pb2.ScheduleTournamentRequest(config_json=json.dumps(dict(config)), no_dispatch=not dispatch)
        return ScheduledTournament.from_proto(self._unary(self._stub.ScheduleTournament, request, timeout))

    def schedule_gauntlet(self, name: str, candidate: Participant, opponents: Sequence[Participant], *,
                          games_per_pairing: int = 2, board_size: int = 9, dispatch: bool = True,
                          timeout: float | None = None, **settings: Any) -> ScheduledTournament:
        """A gauntlet: `candidate` against each of `opponents` (`results.gauntlet_config`)."""
        config = gauntlet_config(name, candidate, tuple(opponents), games_per_pairing=games_per_pairing,
                                 board_size=board_size, **settings)
        return self.schedule_tournament(config, dispatch=dispatch, timeout=timeout)

    # ------------------------------------------------------------------ reads

    def get_leaderboard(self, tournament_id: int | None = None, *, condition: str | None = None,
                        timeout: float | None = None) -> Leaderboard:
        """Ratings over one tournament's finished games (None: every game) in one rating pool
        (`condition`, e.g. "9x9 chinese komi 7.5"; None: the pool with the most games)."""
        request = arena_pb2.GetLeaderboardRequest(tournament_id=tournament_id, condition=condition)
        return Leaderboard.from_proto(self._unary(self._stub.GetLeaderboard, request, timeout))

    def watch_ratings(self, tournament_id: int, *, player: str = "", until_player_games: int = 0,
                      until_finished: bool = False, condition: str | None = None,
                      timeout: float | None = None) -> Iterator[Leaderboard]:
        """The tournament's leaderboard now, then each time its rated games change; ends when the
        server's `until_*` condition is met, or `timeout` (seconds for the whole stream; None:
        none) passes (DeadlineExceeded). Closing the iterator cancels the stream."""
        request = arena_pb2.WatchRatingsRequest(tournament_id=tournament_id, player=player,
                                                until_player_games=until_player_games, until_finished=until_finished,
                                                condition=condition)
        stream = self._stub.WatchRatings(request, metadata=self._metadata, timeout=timeout)
        try:
            with _translated():
                for message in stream:
                    yield Leaderboard.from_proto(message)
        finally:
            stream.cancel()  # a no-op once the stream has ended; frees its server thread otherwise

    def wait_for_rating(self, tournament_id: int, player: str, *, max_ci_half_width: float | None = None,
                        min_games: int | None = None, until_finished: bool = True, condition: str | None = None,
                        timeout: float | None = None) -> RatingWait:
        """Wait on WatchRatings until `player`'s standing meets every condition given (its 95%
        interval's half-width at most `max_ci_half_width` Elo, and not flagged as set by the prior
        rather than the games; at least `min_games` rated games):
        reason "condition"; or, with `until_finished`, until the tournament has ended first:
        reason "finished". After `timeout` seconds: DeadlineExceeded, whose `last` is the last
        leaderboard received."""
        if max_ci_half_width is None and min_games is None and not until_finished:
            raise ValueError("give max_ci_half_width, min_games or until_finished: nothing would end the wait")

        def met(board: Leaderboard) -> bool:
            standing = board.standing(player)
            # A flagged rating's interval is the fit's prior, not the games' (an unbeaten 8-0 reads
            # 341 +- 326): never narrow enough, however narrow it reads.
            narrow = max_ci_half_width is None or (standing is not None and standing.flag is None
                                                   and standing.ci_half_width <= max_ci_half_width)
            return standing is not None and narrow and (min_games is None or standing.games >= min_games)

        # Only a games-only wait can let the server end the stream; the client checks every snapshot.
        server_games = min_games if max_ci_half_width is None and min_games is not None else 0
        last: Leaderboard | None = None
        boards = self.watch_ratings(tournament_id, player=player, until_player_games=server_games,
                                    until_finished=until_finished, condition=condition, timeout=timeout)
        try:
            with closing(boards):  # leaving early cancels the stream
                for board in boards:
                    last = board
                    if met(board):
                        return RatingWait(leaderboard=board, standing=board.standing(player), reason="condition")
                    if until_finished and board.ended:
                        return RatingWait(leaderboard=board, standing=board.standing(player), reason="finished")
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(f"no rating of {player!r} met the condition within {timeout} s",
                                   last=last) from exc
        # The server ends a stream only for an `until_*` condition, which the loop returns on first.
        raise ArenaError(f"the rating stream of tournament {tournament_id} ended before its condition")
