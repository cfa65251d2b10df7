"""Receiving a multipart/form-data upload as it arrives: parts into files, every byte counted.

    parts = await receive_form(request, folder, fields, max_bytes=settings.api_max_upload_bytes)

The body is read from `request.stream()` and parsed as it comes (python-multipart's push
parser): a file part goes straight to its file in `folder`, a text part stays in memory. Bytes are
counted as they arrive, chunked bodies without a Content-Length included, and the upload is
abandoned (`UploadTooLarge`, the API's 413) as soon as it passes a limit: the parts' bytes
together past `max_bytes`, one part past its own `max_bytes`, or the raw body (framing included)
past `max_bytes` + FRAMING_BYTES. Nothing is ever held or written beyond a limit plus one chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["FRAMING_BYTES", "Field", "FormError", "UploadTooLarge", "receive_form"]

FRAMING_BYTES = 64 * 1024  # boundaries and part headers on top of the parts' own bytes
_MAX_HEADER_BYTES = 16 * 1024  # of one part's headers


@dataclass(frozen=True)
class Field:
    """One expected part. A file is written to `folder/<name>`; text is returned as bytes."""

    file: bool
    max_bytes: int | None = None  # this part alone; None: only the upload's limit
    setting: str | None = None  # the setting behind max_bytes, named in the 413


class UploadTooLarge(Exception):
    """The upload passed a limit; the message names it and its setting."""


class FormError(ValueError):
    """A malformed form: `field` is the part concerned (None: the body as a whole)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field


class _Receiver:
    """python-multipart callbacks that route each part's bytes to its file or buffer, counting."""

    def __init__(self, folder: Path, fields: Mapping[str, Field], max_bytes: int, setting: str):
        self.folder, self.fields, self.max_bytes, self.setting = folder, fields, max_bytes, setting
        self.total = 0
        self.header_bytes = 0
        self.header_name, self.header_value, self.disposition = b"", b"", b""
        self.name: str | None = None  # the current part's field; None: a part nobody asked for
        self.size = 0
        self.sink: IO[bytes] | None = None
        self.texts: dict[str, bytearray] = {}
        self.done: dict[str, Path | bytes] = {}

    def callbacks(self) -> dict:
        return {"on_part_begin": self.begin, "on_header_field": self.header_field,
                "on_header_value": self.header_field_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.data, "on_part_end": self.end}

    def begin(self) -> None:
        self.name, self.size, self.header_bytes, self.disposition = None, 0, 0, b""

    def _count_header(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > _MAX_HEADER_BYTES:
            raise FormError(None, f"a part's headers are longer than {_MAX_HEADER_BYTES} bytes")

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_name += data[start:end]

    def header_field_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":  # the only header that matters here
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def headers_finished(self) -> None:
        name, filename = _disposition(self.disposition)
        if name not in self.fields:
            return  # not ours: its bytes are counted and dropped
        if name in self.done or name in self.texts or (self.sink is not None):
            raise FormError(name, "sent more than once")
        self.name = name
        if self.fields[name].file:
            if filename is None:
                raise FormError(name, "a file is required")
            self.sink = (self.folder / name).open("wb")
        else:
            self.texts[name] = bytearray()

    def data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        self.total += size
        if self.total > self.max_bytes:
            raise UploadTooLarge(f"upload too large: the limit is {self.max_bytes} bytes ({self.setting})")
        if self.name is None:
            return
        self.size += size
        field = self.fields[self.name]
        if field.max_bytes is not None and self.size > field.max_bytes:
            raise UploadTooLarge(f"upload too large: the {self.name} part is over its limit of {field.max_bytes} "
                                 f"bytes ({field.setting})")
        if self.sink is not None:
            self.sink.write(data[start:end])
        else:
            self.texts[self.name] += data[start:end]

    def end(self) -> None:
        if self.name is None:
            return
        if self.sink is not None:
            self.sink.close()
            self.sink = None
            self.done[self.name] = self.folder / self.name
        else:
            self.done[self.name] = bytes(self.texts.pop(self.name))
        self.name = None

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()


def _disposition(value: bytes) -> tuple[str | None, str | None]:
    """(name, filename) of a part from its Content-Disposition value."""
    _, options = parse_options_header(value)
    name, filename = options.get(b"name"), options.get(b"filename")
    decode = lambda raw: raw.decode("utf-8", "replace") if raw is not None else None  # noqa: E731
    return decode(name), decode(filename)


async def receive_form(request: Request, folder: Path, fields: Mapping[str, Field], *, max_bytes: int,
                       setting: str) -> dict[str, Path | bytes]:
    """The parts of `fields` that the body holds: a file part's path in `folder`, a text part's bytes.

    Raises UploadTooLarge past a limit (see the module docstring; `setting` names `max_bytes`),
    FormError for a body that is not multipart/form-data with a boundary or not well formed.
    Parts that are not in `fields` are counted and dropped; missing parts are the caller's to
    refuse.
    """
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise FormError(None, "multipart/form-data needs a boundary")
    receiver = _Receiver(folder, fields, max_bytes, setting)
    parser = MultipartParser(boundary, receiver.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes + FRAMING_BYTES:
                raise UploadTooLarge(f"upload too large: the limit is {max_bytes} bytes ({setting})")
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise FormError(None, "not a well-formed multipart/form-data body") from None
    finally:
        receiver.close()
    return receiver.done
