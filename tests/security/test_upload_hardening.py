"""Checkpoint uploads that used to cost memory, leak library text, 500 or leave files behind.

Before: a state dict whose zip entries were deflated instead of stored was inflated in full by
torch.load before any check (a 195 KB upload cost ~195 MB); a garbage zip's 422 quoted miniz; a
manifest holding NUL or a lone surrogate, or a NUL in the `name` field, reached PostgreSQL (a 500)
after the checkpoint was already stored; a deeply nested manifest raised RecursionError (a 500).
Now each is a 4xx naming the problem, and nothing is left in the store or the database.
"""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import torch

from arena.checkpoint_store import Admission
from arena.checkpoints import register_checkpoint_file
from arena.context import ArenaContext
from arena.db.connection import session_scope
from models.checkpoint import CheckpointError, load_checkpoint, register_checkpoint, save_checkpoint
from models.manifest import MAX_JSON_DEPTH, read_manifest
from models.network import NetworkConfig, PolicyValueNet
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, app_with, client, db_url, engine, headers, settings, stored_checkpoints, tokens)

TINY = NetworkConfig(blocks=1, channels=8, value_hidden=8)
LIBRARY_TEXT = ("miniz", "PytorchStreamReader", "zip archive", "Safetensor", "MetadataIncompleteBuffer",
                "Traceback", "/tmp")


_state = stored_checkpoints


def _upload(client, manifest: Path, headers: dict, manifest_bytes: bytes | None = None, **data):  # noqa: F811
    weights = manifest.parent / json.loads(manifest.read_text())["weights_file"]
    files = {"manifest": (manifest.name, manifest.read_bytes() if manifest_bytes is None else manifest_bytes,
                          "application/json"),
             "weights": (weights.name, weights.read_bytes(), "application/octet-stream")}
    return client.post("/checkpoints", files=files, data=data, headers=headers)


def _msg(response) -> str:
    return response.json()["detail"][0]["msg"]


def _state_dict_bytes(seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(PolicyValueNet(TINY).state_dict(), buffer)
    return buffer.getvalue()


def _register_weights(folder: Path, name: str, weights: bytes, **changes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.pt").write_bytes(weights)
    return register_checkpoint(folder / f"{name}.pt", format="state_dict", architecture=TINY, board_sizes=[9],
                               training_step=0, run_name="hostile", name=name, verify=False, **changes)


def _recompressed(data: bytes) -> bytes:
    """The torch.save archive `data` with every entry deflated (what a hostile client sends)."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, source.read(entry))
    return out.getvalue()


def _zip(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip of (name, method, the entry's bytes as stored in the file, crc32, uncompressed size)."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, method, raw, crc, size in entries:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(raw), size,
                              len(encoded), 0) + encoded + raw)
        central.write(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(raw), size,
                                  len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start, directory = out.tell(), central.getvalue()
    out.write(directory + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory),
                                      start, 0))
    return out.getvalue()


def _bomb(gigabytes: int = 1) -> tuple[bytes, int, int]:
    """Raw deflate of `gigabytes` GiB of zeros (about 1 MB a GiB), its crc32 and size: 16 MiB
    compressed once, its blocks repeated (a full flush ends each at a byte, with no back reference
    across it), and a final empty block."""
    zeros = bytes(16 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc, repeats = 0, 64 * gigabytes
    for _ in range(repeats):
        crc = zlib.crc32(zeros, crc)
    return chunk * repeats + b"\x03\x00", crc, len(zeros) * repeats


def _entries() -> list[tuple[str, int, bytes, int, int]]:
    """A tiny state dict's torch.save entries, as `_zip` takes them."""
    stored = zipfile.ZipFile(io.BytesIO(_state_dict_bytes()))
    return [(e.filename, 0, stored.read(e), e.CRC, e.file_size) for e in stored.infolist()]


@pytest.fixture
def no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called on a refused archive")

    monkeypatch.setattr(torch, "load", refuse)


# ------------------------------------------------------------------------------ compressed archives

def test_torch_save_writes_only_stored_entries() -> None:
    """The check refuses compressed entries: it holds only while torch.save stores every entry."""
    for obj in (PolicyValueNet(TINY).state_dict(), {"model": PolicyValueNet(TINY).state_dict(), "step": 3}):
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        entries = zipfile.ZipFile(buffer).infolist()
        names = {entry.filename.split("/", 1)[1] for entry in entries}
        assert {"data.pkl", "version", "byteorder"} <= names and any(n.startswith(".data/") for n in names)
        assert all(entry.compress_type == zipfile.ZIP_STORED for entry in entries), names


def test_deflated_state_dict_upload_is_422_before_torch_load(client, headers, engine, settings, tmp_path,  # noqa: F811
                                                             no_torch_load) -> None:
    manifest = _register_weights(tmp_path, "deflated", _recompressed(_state_dict_bytes()))
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"])
    assert response.status_code == 422, response.text
    assert "is compressed" in _msg(response) and response.json()["detail"][0]["loc"] == ["body", "weights"]
    assert _state(engine, settings) == before


def test_an_archive_inflating_to_a_gigabyte_is_refused_at_once(tmp_path, no_torch_load) -> None:
    """About 1 MB on disk, within the tiny architecture's bound of a few MB; 1 GiB inflated."""
    raw, crc, size = _bomb()
    data = _zip([*_entries(), ("archive/data/99", zipfile.ZIP_DEFLATED, raw, crc, size)])
    assert len(data) < 2 << 20 and size >= 1 << 30
    # The bomb is real: Python's zipfile (which the check never uses to read it) sees a 1 GiB entry.
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("archive/data/99").file_size == size
    manifest = _register_weights(tmp_path, "bomb", data)
    started = time.monotonic()
    with pytest.raises(CheckpointError, match="archive/data/99.* is compressed"):
        load_checkpoint(manifest)
    assert time.monotonic() - started < 2.0


def test_stored_entries_over_the_bound_are_refused(tmp_path, no_torch_load) -> None:
    """Stored, but 50 central records share one 1 MiB entry: 50 MiB to copy out, over the bound."""
    raw = bytes(1 << 20)
    crc, local = zlib.crc32(raw), struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(raw),
                                              len(raw), len(raw), 14, 0) + b"archive/data/0" + raw
    central = b"".join(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, len(raw), len(raw),
                                   14, 0, 0, 0, 0, 0, 0) + f"archive/data{i:02}".encode() for i in range(50))
    data = local + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 50, 50, len(central), len(local), 0)
    manifest = _register_weights(tmp_path, "overlap", data)
    with pytest.raises(CheckpointError, match="entries hold 52428800 bytes, more than the declared architecture"):
        load_checkpoint(manifest)
    name, method, raw, crc, _ = _entries()[-1]
    manifest = _register_weights(tmp_path, "liar", _zip([*_entries()[:-1], (name, method, raw, crc, 1 << 31)]))
    with pytest.raises(CheckpointError, match="not a readable torch state_dict archive"):
        load_checkpoint(manifest)


def test_too_many_entries_are_refused_before_zipfile_parses_them(tmp_path, no_torch_load) -> None:
    entries = [(f"archive/x{i}", 0, b"", 0, 0) for i in range(5000)]
    manifest = _register_weights(tmp_path, "many", _zip(entries))
    with pytest.raises(CheckpointError, match="more entries than a state dict of the declared architecture needs"):
        load_checkpoint(manifest)


def test_a_plain_state_dict_still_loads(tmp_path) -> None:
    for obj in (PolicyValueNet(TINY).state_dict(), {"model": PolicyValueNet(TINY).state_dict(), "step": 3}):
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        manifest = _register_weights(tmp_path / str(len(obj)), "plain", buffer.getvalue())
        assert load_checkpoint(manifest).config == TINY


# ------------------------------------------------------------------------------ library text

@pytest.mark.parametrize("weights", [
    b"PK\x03\x04" + b"garbage" * 40,  # not a zip: zipfile refuses it
    b"\x80\x02}q\x00." + b"\x00" * 40,  # a bare pickle (torch's legacy format): not an archive
    _zip([("archive/other", 0, b"hello", zlib.crc32(b"hello"), 5)]),  # a zip without data.pkl: torch refuses it
])
def test_unreadable_state_dict_refusal_names_no_library_internals(client, headers, engine, settings,  # noqa: F811
                                                                   tmp_path, weights) -> None:
    manifest = _register_weights(tmp_path, "garbage", weights)
    _refused_without_internals(client, headers, engine, settings, manifest, "not a readable torch state_dict archive")


def test_unreadable_safetensors_refusal_names_no_library_internals(client, headers, engine, settings,  # noqa: F811
                                                                   tmp_path) -> None:
    manifest = save_checkpoint(PolicyValueNet(TINY), tmp_path, "cut", board_sizes=[9], training_step=0,
                               run_name="hostile")
    weights = tmp_path / "cut.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64])  # the header promises bytes that are not there
    manifest = register_checkpoint(weights, format="safetensors", architecture=TINY, board_sizes=[9],
                                   training_step=0, run_name="hostile", verify=False)
    _refused_without_internals(client, headers, engine, settings, manifest, "not a valid safetensors file")


def _refused_without_internals(client, headers, engine, settings, manifest: Path, message: str) -> None:  # noqa: F811
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"])
    assert response.status_code == 422, response.text
    assert message in _msg(response)
    assert not any(text in response.text for text in LIBRARY_TEXT), response.text
    assert _state(engine, settings) == before


def test_a_deeply_nested_safetensors_header_is_a_checkpoint_error(tmp_path) -> None:
    header = b"[" * 100_000 + b"]" * 100_000
    (tmp_path / "deep.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    manifest = register_checkpoint(tmp_path / "deep.safetensors", format="safetensors", architecture=TINY,
                                   board_sizes=[9], training_step=0, run_name="hostile", verify=False)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_checkpoint(manifest)


# ------------------------------------------------------------------------------ strings and nesting

def _valid(tmp_path: Path, name: str, seed: int) -> Path:
    torch.manual_seed(seed)
    return save_checkpoint(PolicyValueNet(TINY), tmp_path, name, board_sizes=[9], training_step=seed,
                           run_name="strings")


def _with_metadata(manifest: Path, metadata) -> bytes:
    data = json.loads(manifest.read_text())
    data["metadata"] = metadata
    return json.dumps(data).encode()  # ensure_ascii: "\u0000" and "\ud800" as JSON escapes


@pytest.mark.parametrize("metadata, loc", [
    ({"note": "a\x00b"}, ["body", "manifest", "metadata", "note"]),
    ({"note": "\ud800"}, ["body", "manifest", "metadata", "note"]),
    ({"deep": [{"x": ["ok", "a\x00"]}]}, ["body", "manifest", "metadata", "deep", 0, "x", 1]),
    ({"k\x00": 1}, ["body", "manifest", "metadata"]),
    ({"\udfff": 1}, ["body", "manifest", "metadata"]),
])
def test_unstorable_manifest_strings_are_422_and_store_nothing(client, headers, engine, settings,  # noqa: F811
                                                                tmp_path, metadata, loc) -> None:
    manifest = _valid(tmp_path, "strings", 11)
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"], manifest_bytes=_with_metadata(manifest, metadata))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc and ("NUL" in detail["msg"] or "surrogate" in detail["msg"]), detail
    assert _state(engine, settings) == before


@pytest.mark.parametrize("name", ["a\x00b", "\x00"])
def test_a_nul_in_the_name_field_is_422_and_stores_nothing(client, headers, engine, settings, tmp_path,  # noqa: F811
                                                            name) -> None:
    manifest = _valid(tmp_path, "named", 12)
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"], name=name)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"] and "NUL" in _msg(response)
    assert _state(engine, settings) == before


@pytest.mark.parametrize("shape", ["whole", "metadata-5000", "metadata-past-limit"])
def test_deeply_nested_manifests_are_422(client, headers, engine, settings, tmp_path, shape) -> None:  # noqa: F811
    manifest = _valid(tmp_path, "nested", 13)
    if shape == "whole":
        text = b"[" * 200_000 + b"]" * 200_000
    else:
        depth = 5000 if shape == "metadata-5000" else MAX_JSON_DEPTH - 1  # with the manifest and metadata
        text = _with_metadata(manifest, {})
        text = text.replace(b'"metadata": {}', b'"metadata": {"x": ' + b"[" * depth + b"]" * depth + b"}")
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"], manifest_bytes=text)
    assert response.status_code == 422, response.text
    assert "nests arrays and objects" in _msg(response), response.text
    if shape == "metadata-past-limit":  # parsed, so the field is named (json.loads itself gives up past ~1000)
        assert response.json()["detail"][0]["loc"] == ["body", "manifest", "metadata"]
    assert _state(engine, settings) == before


def test_metadata_within_the_depth_limit_is_accepted(client, headers, tmp_path) -> None:  # noqa: F811
    manifest = _valid(tmp_path, "shallow", 14)
    depth = MAX_JSON_DEPTH - 2  # the manifest's object and metadata are the first two levels
    text = _with_metadata(manifest, {}).replace(b'"metadata": {}',
                                                b'"metadata": {"x": ' + b"[" * depth + b"]" * depth + b"}")
    response = _upload(client, manifest, headers["submit"], manifest_bytes=text)
    assert response.status_code == 201, response.text


def test_read_manifest_refuses_deep_nesting_as_a_checkpoint_error(tmp_path) -> None:
    manifest = _valid(tmp_path, "deepfile", 15)
    for text in (b"[" * 200_000 + b"]" * 200_000, _with_metadata(manifest, {}).replace(
            b'"metadata": {}', b'"metadata": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}")):
        manifest.write_bytes(text)
        with pytest.raises(CheckpointError, match="nests arrays and objects"):
            read_manifest(manifest)


# ------------------------------------------------------------------------------ the store on failure

def _register_directly(engine, settings, manifest: Path):  # noqa: F811
    context = ArenaContext.from_settings(settings, engines={}, send=lambda payload: None)
    with session_scope(engine) as session:
        return register_checkpoint_file(session, manifest, context=context, admission=Admission.network(settings))


def test_unstorable_manifest_strings_are_refused_on_every_path(engine, settings, tmp_path) -> None:  # noqa: F811
    """Past the HTTP checks (the CLI, gRPC's import paths): refused before anything is stored,
    instead of PostgreSQL refusing the row with the folder already in the store."""
    manifest = _valid(tmp_path, "insert", 16)
    manifest.write_bytes(_with_metadata(manifest, {"note": "a\x00b"}))
    before = _state(engine, settings)
    with pytest.raises(CheckpointError, match="manifest metadata.note: contains a NUL"):
        _register_directly(engine, settings, manifest)
    assert _state(engine, settings) == before
