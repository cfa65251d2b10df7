"""A minimal GTP client for tests: talk to an engine (GNU Go) over its stdin/stdout.

Deliberately small; the production GTP layer will live elsewhere. What it guarantees:

* every command carries an id and its response must carry the same one, so the two sides
  can never silently drift out of step;
* `=` (success) and `?` (failure) are told apart: `send` returns a `GtpResponse`,
  `command` returns the text of a success and raises `GtpFailure` on a failure;
* every response has a deadline, so a hung or crashed engine fails the test with
  `GtpEngineError` instead of hanging it (reads and writes both go through `select`, so
  neither side can block the other however many commands are pipelined by `send_many`);
* `close` (also on leaving a `with` block) says `quit`, waits briefly, then kills the
  engine's process group.

POSIX only (it selects on pipes), like the engines it is used with.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import NoReturn, Sequence

_CHUNK = 1 << 16


class GtpEngineError(RuntimeError):
    """The engine died, timed out, or broke the protocol; the client is unusable afterwards."""


class GtpFailure(RuntimeError):
    """The engine answered `?` to a command."""

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


class GtpClient:
    """One engine process. Use it as a context manager so the process never outlives the test."""

    def __init__(self, argv: Sequence[str], *, timeout: float = 10.0):
        self.argv = list(argv)
        self.timeout = timeout
        self._next_id = 1
        self._broken: str | None = None
        self._buffer = b""
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            start_new_session=True,  # its own process group, so `close` can kill all it started
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        os.set_blocking(self._in, False)

    # ------------------------------------------------------------------ commands

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

    # ------------------------------------------------------------------ the pipes

    def _write(self, data: bytes, commands: Sequence[str], timeout: float) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            # Read while writing: an engine blocked on a full stdout would stop reading stdin.
            readable, writable, _ = select.select([self._out], [self._in], [], self._left(deadline))
            if not readable and not writable:
                self._fail(f"engine not reading commands within {timeout:g} s ({list(commands)[:3]!r}...)")
            if readable:
                self._fill(f"writing {list(commands)[:3]!r}")
            if writable:
                try:
                    view = view[os.write(self._in, view):]
                except BlockingIOError:
                    pass
                except OSError as exc:  # BrokenPipeError: the engine is gone
                    self._fail(f"writing {list(commands)[:3]!r} failed: {exc}")

    def _fill(self, doing: str) -> None:
        chunk = os.read(self._out, _CHUNK)
        if not chunk:
            self._fail(f"engine closed its output while {doing} (unread: {self._buffer[:200]!r})")
        self._buffer += chunk.replace(b"\r", b"")

    def _read_response(self, cid: int, command: str, timeout: float) -> GtpResponse:
        deadline = time.monotonic() + timeout
        while True:
            self._buffer = self._buffer.lstrip(b"\n")  # tolerate stray blank lines between responses
            end = self._buffer.find(b"\n\n")
            if end >= 0:
                block, self._buffer = self._buffer[:end], self._buffer[end + 2:]
                break
            readable, _, _ = select.select([self._out], [], [], self._left(deadline))
            if not readable:
                self._fail(f"no complete response to {command!r} within {timeout:g} s"
                           f" (so far: {self._buffer[:200]!r})")
            self._fill(f"answering {command!r}")
        text = block.decode("utf-8", errors="replace")
        status, rest = text[0], text[1:]
        if status not in "=?":
            self._fail(f"response to {command!r} does not start with '=' or '?': {text[:200]!r}")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if rest[:digits] != str(cid):
            self._fail(f"response id {rest[:digits]!r} does not match command id {cid} ({command!r})")
        return GtpResponse(ok=status == "=", text=rest[digits:].strip())

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.0, deadline - time.monotonic())

    def _fail(self, why: str) -> NoReturn:
        self._broken = why
        self.close(grace=0.5)  # an engine that broke the protocol is unlikely to honour `quit`
        self._stderr.seek(0)
        stderr = self._stderr.read()[-4000:].decode("utf-8", errors="replace").strip()
        raise GtpEngineError(f"{' '.join(self.argv)}: {why}" + (f"\nengine stderr:\n{stderr}" if stderr else ""))

    # ------------------------------------------------------------------ lifetime

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
                try:
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
        self._stderr.close()
