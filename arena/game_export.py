"""A tournament's finished games as files to download, produced piece by piece so that an export
of any size streams: JSON lines (`jsonl_chunks`) and a gzipped tar of SGF files (`sgf_tar_chunks`).

Both read the games in keyset batches (`arena.db.export_queries.game_batches`) and yield bytes
after each batch: memory stays at one batch, whatever the tournament's size. The HTTP API
(`GET /tournaments/{ref}/games.jsonl`, `.../games.sgf.tar.gz`) and `arena export` write the same
bytes.

The archive is a tar, not a zip: a zip's central directory, written at its end, lists every
member, so a streamed zip grows in memory with the game count; a tar has no index.
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import UTC

import orjson
from sqlalchemy.orm import Session

from arena.db.export_queries import BATCH_SIZE, ExportedGame, game_batches

__all__ = ["EXPORT_FIELDS", "jsonl_chunks", "sgf_member_name", "sgf_tar_chunks"]

# The keys of every JSON line, in order; "move_stats" follows when asked for.
EXPORT_FIELDS = ("id", "black", "white", "result", "score", "move_count", "duration_s", "finished_at", "seed",
                 "opening", "sgf")
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE  # times as the API's JSON writes them

Sessions = Callable[[], AbstractContextManager[Session]]


def _line(game: ExportedGame, move_stats: bool) -> bytes:
    record = asdict(game)
    record["finished_at"] = game.finished_at.astimezone(UTC)  # as the API writes times, whatever the server's zone
    if not move_stats:
        del record["move_stats"]
    return orjson.dumps(record, option=_JSON_OPTIONS)


def jsonl_chunks(sessions: Sessions, tournament_id: int, *, move_stats: bool = False,
                 batch_size: int = BATCH_SIZE) -> Iterator[bytes]:
    """The tournament's finished games as JSON lines (EXPORT_FIELDS, plus "move_stats" when
    asked for), by ascending id: one chunk of bytes per batch."""
    for batch in game_batches(sessions, tournament_id, move_stats=move_stats, batch_size=batch_size):
        yield b"".join(_line(game, move_stats) for game in batch)


def sgf_member_name(game_id: int) -> str:
    """The archive member holding game `game_id`'s SGF."""
    return f"{game_id}.sgf"


class _GzipChunks(io.RawIOBase):
    """A write-only sink that gzips what tarfile writes into it and hands the compressed bytes
    out on demand, each piece flushed (Z_SYNC_FLUSH) so that it is readable on its own: a client
    receives every batch's games as the batch is read, not when zlib's buffer happens to fill."""

    def __init__(self) -> None:
        super().__init__()
        self._compressor = zlib.compressobj(wbits=31)  # 31: the gzip container, as `tar -z` reads it
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(self._compressor.compress(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:  # tarfile asks where it starts; it never seeks when writing
        return self._written

    def take(self, *, last: bool = False) -> bytes:
        """What was compressed since the last take; `last`: and the end of the gzip stream."""
        self._parts.append(self._compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
        data, self._parts = b"".join(self._parts), []
        return data


def sgf_tar_chunks(sessions: Sessions, tournament_id: int, *, batch_size: int = BATCH_SIZE) -> Iterator[bytes]:
    """A gzipped tar of the tournament's finished games, one `<id>.sgf` member each (dated when
    the game finished), by ascending id: one chunk of bytes per batch, then the archive's end."""
    sink = _GzipChunks()
    # Plain "w" into the sink, which compresses: tarfile's own stream mode ("w|gz") would hold
    # the end of each batch in buffers of its own until later ones push it out.
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for batch in game_batches(sessions, tournament_id, batch_size=batch_size):
            for game in batch:
                data = game.sgf.encode("utf-8")
                member = tarfile.TarInfo(sgf_member_name(game.id))
                member.size, member.mtime, member.mode = len(data), int(game.finished_at.timestamp()), 0o644
                archive.addfile(member, io.BytesIO(data))
            yield sink.take()
    yield sink.take(last=True)  # the tar's end blocks and the gzip trailer
