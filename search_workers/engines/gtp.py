"""A GTP client for one engine process (KataGo, GNU Go, Leela Zero, ...) over its stdin/stdout.

What it guarantees:

* every command carries an id and its response must carry the same one, so the two sides
  can never silently drift out of step;
* `=` (success) and `?` (failure) are told apart: `send` returns a `GtpResponse`,
  `command` returns the text of a success and raises `GtpFailure` on a failure;
* every response has a deadline (`timeout`, and the longer `genmove_timeout` for genmove), so
  a hung engine raises `GtpTimeout` instead of hanging the worker; reads and writes both go
  through `select`, so neither side can block the other however many commands `send_many`
  pipelines;
* an engine that exits or closes its output raises `GtpCrash` with its exit code and the tail
  of its stderr; a reply that breaks the protocol raises `GtpProtocolError`. After any
  `GtpEngineError` the client is unusable: the caller starts a new one;
* stderr is drained by a thread into a bounded buffer (the last `stderr_limit` bytes), so a
  chatty engine never blocks on a full pipe and its log can be stored with the game;
* `close` (also on leaving a `with` block) says `quit`, waits briefly, then kills the
  engine's process group.

POSIX only (it selects on pipes), like the engines it drives.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Sequence

from search_workers.go import Color, CoordinateError, coords

_CHUNK = 1 << 16
STDERR_LIMIT = 64 * 1024  # bytes of stderr kept per engine: enough for a crash's backtrace
# Bytes of one response: a genmove, a final_status_list of every point or a showboard is far
# below; an engine writing more (endless output, one huge line) is broken, not slow.
MAX_RESPONSE_BYTES = 1 << 20
RESIGN = -1  # what `genmove` returns for a resignation (pass is N*N, as everywhere)


class GtpError(RuntimeError):
    """Base of every error this module raises about an engine."""


class GtpEngineError(GtpError):
    """The engine died, hung, or broke the protocol; the client is unusable afterwards.

    The message ends with the engine's last stderr lines; `summary` is the message without them.
    """

    def __init__(self, summary: str, *, stderr: str = ""):
        self.summary = summary
        self.stderr = stderr
        super().__init__(summary + (f"\nengine stderr:\n{stderr}" if stderr else ""))


class GtpCrash(GtpEngineError):
    """The engine exited or closed its output; `exit_code` is None if it could not be read."""

    def __init__(self, summary: str, *, exit_code: int | None, stderr: str = ""):
        self.exit_code = exit_code
        super().__init__(summary, stderr=stderr)


class GtpTimeout(GtpEngineError):
    """The engine did not answer (or read a command) within its deadline."""


class GtpProtocolError(GtpEngineError):
    """A response that is not GTP: wrong id, no status character, an unparsable move."""


class GtpFailure(GtpError):
    """The engine answered `?` to a command; the engine itself is still usable."""

    def __init__(self, command: str, text: str):
        self.command = command
        self.text = text
        super().__init__(f"GTP command {command!r} failed: ? {text}")


@dataclass(frozen=True)
class GtpResponse:
    ok: bool  # True for '=', False for '?'
    text: str  # the response without its status character and id, stripped

    def __str__(self) -> str:
        return ("= " if self.ok else "? ") + self.text


class BoundedLog:
    """The last `limit` bytes appended to it; thread-safe (one writer thread, any readers)."""

    def __init__(self, limit: int = STDERR_LIMIT):
        self.limit = limit
        self._data = bytearray()
        self._lock = threading.Lock()

    def append(self, data: bytes) -> None:
        with self._lock:
            self._data += data
            if len(self._data) > self.limit:
                del self._data[:len(self._data) - self.limit]

    def take(self) -> bytes:
        """Everything kept so far, clearing the log."""
        with self._lock:
            data = bytes(self._data)
            self._data.clear()
            return data

    def text(self) -> str:
        with self._lock:
            return self._data.decode("utf-8", errors="replace")


class GtpClient:
    """One engine process. Use it as a context manager so the process never outlives its user.

    `timeout` bounds every response but genmove's, which gets `genmove_timeout`; `startup_timeout`
    bounds the first response (an engine such as KataGo loads its network before answering).
    Coordinates are converted on the board size last set with `boardsize` (19 until then).
    """

    def __init__(self, argv: Sequence[str], *, cwd: str | Path | None = None, timeout: float = 10.0,
                 genmove_timeout: float = 60.0, startup_timeout: float | None = None,
                 stderr_limit: int = STDERR_LIMIT):
        self.argv = list(argv)
        self.timeout = timeout
        self.genmove_timeout = genmove_timeout
        self.board_size = 19
        self._startup_timeout = startup_timeout
        self._next_id = 1
        self._broken: str | None = None
        self._buffer = b""
        self._stderr = BoundedLog(stderr_limit)
        try:
            self._proc = subprocess.Popen(
                self.argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so `close` can kill all it started
            )
        except OSError as exc:
            raise GtpCrash(f"cannot start {' '.join(self.argv)}: {exc}", exit_code=None) from exc
        assert self._proc.stdin is not None and self._proc.stdout is not None and self._proc.stderr is not None
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, args=(self._proc.stderr,),
                                               name=f"gtp-stderr-{self._proc.pid}", daemon=True)
        self._stderr_thread.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    # ------------------------------------------------------------------ raw commands

    def send(self, command: str, *, timeout: float | None = None) -> GtpResponse:
        """Send one command and return its response, success or failure."""
        return self.send_many([command], timeout=timeout)[0]

    def send_many(self, commands: Sequence[str], *, timeout: float | None = None) -> list[GtpResponse]:
        """Send several commands at once and return their responses in order.

        GTP answers strictly in order, so pipelining saves a round trip per command. The
        timeout applies to each response (and to writing the commands).
        """
        if self._broken is not None:
            raise GtpEngineError(f"GTP engine unusable ({self._broken}); cannot send {list(commands)!r}")
        for command in commands:
            if "\n" in command or "\r" in command:
                raise ValueError(f"GTP command must be one line: {command!r}")
        limit = self.timeout if timeout is None else timeout
        if self._startup_timeout is not None:
            # Only the first exchange waits for the engine to load.
            limit, self._startup_timeout = max(limit, self._startup_timeout), None
        first = self._next_id
        self._next_id += len(commands)
        self._write("".join(f"{first + i} {command}\n" for i, command in enumerate(commands)).encode(),
                    commands, limit)
        return [self._read_response(first + i, command, limit) for i, command in enumerate(commands)]

    def command(self, command: str, *, timeout: float | None = None) -> str:
        """Send one command; return the text of a success, raise GtpFailure on `?`."""
        response = self.send(command, timeout=timeout)
        if not response.ok:
            raise GtpFailure(command, response.text)
        return response.text

    def commands(self, commands: Sequence[str], *, timeout: float | None = None) -> list[str]:
        """Pipeline `commands`; return their texts, or raise GtpFailure for the first `?`."""
        texts = []
        for command, response in zip(commands, self.send_many(commands, timeout=timeout)):
            if not response.ok:
                raise GtpFailure(command, response.text)
            texts.append(response.text)
        return texts

    # ------------------------------------------------------------------ GTP commands

    def protocol_version(self) -> int:
        text = self.command("protocol_version")
        try:
            return int(text)
        except ValueError:
            self._fail(GtpProtocolError, f"protocol_version answered {text!r}")

    def name(self) -> str:
        return self.command("name")

    def version(self) -> str:
        return self.command("version")

    def known_command(self, command: str) -> bool:
        return self.command(f"known_command {command}").lower() == "true"

    def boardsize(self, board_size: int) -> None:
        self.command(f"boardsize {board_size}")
        self.board_size = board_size

    def komi(self, komi: float) -> None:
        self.command(f"komi {komi:g}")

    def clear_board(self) -> None:
        self.command("clear_board")

    def play(self, color: Color, move: int) -> None:
        """Tell the engine `color` played flat `move` (pass = N*N)."""
        self.command(self.play_command(color, move))

    def play_command(self, color: Color, move: int) -> str:
        """The `play` command line for a move, for callers that pipeline several."""
        return f"play {color.name.lower()} {coords.to_gtp(move, self.board_size)}"

    def genmove(self, color: Color, *, timeout: float | None = None) -> int:
        """The engine's move for `color`: a flat index, N*N for pass, RESIGN (-1) for resign.

        A reply that is not a vertex of this board, pass or resign (any case) is a protocol
        error: the engine is not trusted to keep playing after it.
        """
        limit = self.genmove_timeout if timeout is None else timeout
        text = self.command(f"genmove {color.name.lower()}", timeout=limit)
        if text.strip().lower() == "resign":
            return RESIGN
        try:
            return coords.from_gtp(text, self.board_size)
        except CoordinateError:
            self._fail(GtpProtocolError, f"genmove {color.name.lower()} answered {text!r}, not a move")

    def final_status_list(self, status: str = "dead") -> list[int]:
        """Flat points of the stones the engine lists with `status` (dead, alive, seki)."""
        text = self.command(f"final_status_list {status}")
        points = []
        for vertex in text.split():  # GNU Go writes one line per dragon
            try:
                points.append(coords.from_gtp(vertex, self.board_size))
            except CoordinateError:
                self._fail(GtpProtocolError, f"final_status_list {status} listed {vertex!r}, not a point")
        return points

    # ------------------------------------------------------------------ stderr

    def stderr_tail(self) -> str:
        """The last `stderr_limit` bytes the engine wrote to stderr (without clearing them)."""
        return self._stderr.text()

    def take_stderr(self) -> bytes:
        """The stderr kept so far, clearing it (a player keeps one log per game)."""
        return self._stderr.take()

    def _drain_stderr(self, stream) -> None:  # runs in its own thread until the engine closes stderr
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError:
                break
            if not chunk:
                break
            self._stderr.append(chunk)
        stream.close()

    # ------------------------------------------------------------------ the pipes

    def _write(self, data: bytes, commands: Sequence[str], timeout: float) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        shown = list(commands)[:3]
        while view:
            # Read while writing: an engine blocked on a full stdout would stop reading stdin.
            readable, writable, _ = select.select([self._out], [self._in], [], self._left(deadline))
            if not readable and not writable or not writable and time.monotonic() >= deadline:
                self._fail(GtpTimeout, f"engine not reading commands within {timeout:g} s ({shown!r}...)")
            if readable:
                self._fill(f"writing {shown!r}")
            if writable:
                try:
                    view = view[os.write(self._in, view):]
                except BlockingIOError:
                    pass
                except OSError as exc:  # BrokenPipeError: the engine is gone
                    self._fail(GtpCrash, f"writing {shown!r} failed: {exc}")

    def _fill(self, doing: str) -> None:
        chunk = os.read(self._out, _CHUNK)
        if not chunk:
            self._fail(GtpCrash, f"engine closed its output while {doing} (unread: {self._buffer[:200]!r})")
        self._buffer += chunk.replace(b"\r", b"")
        if len(self._buffer) > MAX_RESPONSE_BYTES:
            self._fail(GtpProtocolError, f"engine wrote over {MAX_RESPONSE_BYTES} bytes without ending a response "
                                         f"while {doing} (starts: {self._buffer[:200]!r})")

    def _read_response(self, cid: int, command: str, timeout: float) -> GtpResponse:
        deadline = time.monotonic() + timeout
        scanned = 0  # bytes of the buffer already searched for the blank line (the search stays linear)
        while True:
            if not scanned:
                self._buffer = self._buffer.lstrip(b"\n")  # tolerate stray blank lines between responses
            end = self._buffer.find(b"\n\n", max(0, scanned - 1))
            if end >= 0:
                block, self._buffer = self._buffer[:end], self._buffer[end + 2:]
                break
            scanned = len(self._buffer)
            # Checked after every read, not only when nothing comes: an engine that writes without
            # end is as late as one that writes nothing. (Checked before the next read, after the
            # buffer was searched: an answer that arrived in time is taken however late we woke.)
            if time.monotonic() >= deadline:
                self._timeout(command, timeout)
            readable, _, _ = select.select([self._out], [], [], self._left(deadline))
            if not readable:
                self._timeout(command, timeout)
            self._fill(f"answering {command!r}")
        text = block.decode("utf-8", errors="replace")
        status, rest = text[0], text[1:]
        if status not in "=?":
            self._fail(GtpProtocolError, f"response to {command!r} does not start with '=' or '?': {text[:200]!r}")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if rest[:digits] != str(cid):
            self._fail(GtpProtocolError, f"response id {rest[:digits]!r} does not match command id {cid} ({command!r})")
        return GtpResponse(ok=status == "=", text=rest[digits:].strip())

    def _timeout(self, command: str, timeout: float) -> NoReturn:
        self._fail(GtpTimeout, f"no complete response to {command!r} within {timeout:g} s"
                               f" (so far: {self._buffer[:200]!r})")

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.0, deadline - time.monotonic())

    def _fail(self, kind: type[GtpEngineError], why: str) -> NoReturn:
        self._broken = why
        exited = self._proc.poll()
        self.close(grace=0.5)  # an engine that broke the protocol is unlikely to honour `quit`
        self._stderr_thread.join(timeout=1.0)  # so the message carries its last words
        stderr = self.stderr_tail()[-4000:].strip()
        if kind is GtpCrash and exited is None:
            try:  # it closed its output: give it a moment to report how it exited
                exited = self._proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        exit_note = f" (exit code {exited})" if kind is GtpCrash and exited is not None else ""
        summary = f"{' '.join(self.argv)}: {why}{exit_note}"
        if kind is GtpCrash:
            raise GtpCrash(summary, exit_code=exited, stderr=stderr)
        raise kind(summary, stderr=stderr)

    # ------------------------------------------------------------------ lifetime

    @property
    def usable(self) -> bool:
        return self._broken is None

    def close(self, *, grace: float = 2.0) -> None:
        """Ask the engine to quit; kill its process group if it has not exited within `grace` s."""
        proc = self._proc
        if proc.poll() is None:
            try:
                os.write(self._in, b"quit\n")
            except OSError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:  # the whole group: helpers the engine started must not outlive it
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self._broken is None:
            self._broken = "closed"

    def __enter__(self) -> GtpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
