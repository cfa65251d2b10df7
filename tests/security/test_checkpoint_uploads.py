"""Hostile checkpoint registrations over HTTP (and gRPC), with a valid submit token.

Before: a TorchScript upload ran its code during the test forward (a module overwrote a file's
bytes; a reading one leaked them through the refusal), a 4-byte safetensors declaring 64x512
built the whole network first, a chunked upload was spooled whole before its 413, a name could
be re-registered to other weights, and a registration blocked /healthz for its whole duration.
Now each is refused early with a 4xx naming the problem; nothing is stored, written or leaked.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import safetensors.torch
import torch
from sqlalchemy import select
from torch import nn

import models.checkpoint
from arena.checkpoints import CheckpointNameTaken, record_checkpoint
from arena.checkpoint_store import store_checkpoint
from arena.db.connection import session_scope
from arena.db.models import ApiToken, Checkpoint
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import serve
from models.checkpoint import register_checkpoint, save_checkpoint
from models.demo import demo_manifests
from models.manifest import read_manifest
from models.network import NetworkConfig, PolicyValueNet
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, app_with, client, db_url, engine, headers, settings, stored_checkpoints, tokens)

SECRET = b"SECRET-BYTES-of-a-server-file-0123456789"


class _FileModule(nn.Module):
    """A TorchScript module that knows a server file's path and size."""

    def __init__(self, path: str, size: int):
        super().__init__()
        self.path, self.size = path, size


class FileWriter(_FileModule):
    """Overwrites a server file through a shared memory map when its forward runs."""

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        data = torch.from_file(self.path, shared=True, size=self.size, dtype=torch.uint8)
        data.fill_(88)
        b, n = features.shape[0], features.shape[-1]
        return torch.zeros(b, n * n + 1) + data.sum() * 0, torch.zeros(b)  # used, so never optimised away


class FileReader(_FileModule):
    """Leaks a server file's first byte through the shape of its output (`has shape [0, 83]`)."""

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        data = torch.from_file(self.path, shared=False, size=self.size, dtype=torch.uint8)
        return torch.zeros(0, int(data[0])), torch.zeros(features.shape[0])


_state = stored_checkpoints


def _upload(client, manifest: Path, headers: dict, weights: Path | None = None, **data):  # noqa: F811
    weights = weights or manifest.parent / read_manifest(manifest).weights_file
    files = {"manifest": (manifest.name, manifest.read_bytes(), "application/json"),
             "weights": (weights.name, weights.read_bytes(), "application/octet-stream")}
    return client.post("/checkpoints", files=files, data=data, headers=headers)


def _tiny(folder: Path, name: str, seed: int) -> Path:
    """A small freshly initialised checkpoint (safetensors); its manifest's path."""
    torch.manual_seed(seed)
    return save_checkpoint(PolicyValueNet(NetworkConfig(blocks=1, channels=8, value_hidden=8)), folder / name, name,
                           board_sizes=[9], training_step=seed, run_name="tiny")


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.bin"
    victim.write_bytes(SECRET)
    return victim


def _scripted(tmp_path: Path, module: nn.Module, name: str) -> Path:
    weights = tmp_path / f"{name}.pt"
    torch.jit.script(module).save(str(weights))
    return register_checkpoint(weights, format="torchscript", board_sizes=[9], training_step=0, run_name="evil",
                               verify=False)


def _no_leak(response, victim: Path) -> None:
    text = response.text
    assert "SECRET" not in text and str(victim.parent) not in text and "/tmp" not in text


def test_file_writing_torchscript_upload_is_415_and_runs_nothing(client, headers, engine, settings,  # noqa: F811
                                                                  tmp_path) -> None:
    victim = _victim(tmp_path)
    manifest = _scripted(tmp_path, FileWriter(str(victim), len(SECRET)), "writer")
    # The module is really hostile: loaded and run, it overwrites the file (on a copy here).
    decoy = tmp_path / "decoy.bin"
    decoy.write_bytes(SECRET)
    torch.jit.script(FileWriter(str(decoy), len(SECRET)))(torch.zeros(1, 17, 9, 9))
    assert decoy.read_bytes() == b"X" * len(SECRET)

    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"])
    assert response.status_code == 415, response.text
    detail = response.json()["detail"]
    assert "torchscript" in detail and "arena checkpoint register" in detail
    assert victim.read_bytes() == SECRET
    assert _state(engine, settings) == before
    _no_leak(response, victim)


def test_file_reading_torchscript_upload_is_415_without_the_bytes(client, headers, engine, settings,  # noqa: F811
                                                                   tmp_path) -> None:
    victim = _victim(tmp_path)
    manifest = _scripted(tmp_path, FileReader(str(victim), len(SECRET)), "reader")
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"])
    assert response.status_code == 415, response.text
    assert "shape" not in response.text and f"[0, {SECRET[0]}]" not in response.text
    assert _state(engine, settings) == before
    _no_leak(response, victim)


def test_onnx_upload_is_415(client, headers, engine, settings, tmp_path) -> None:  # noqa: F811
    (tmp_path / "net.onnx").write_bytes(b"\x08\x07" + SECRET)
    manifest = register_checkpoint(tmp_path / "net.onnx", format="onnx", board_sizes=[9], training_step=0,
                                   run_name="evil", verify=False)
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"])
    assert response.status_code == 415 and "onnx" in response.json()["detail"], response.text
    assert _state(engine, settings) == before
    _no_leak(response, tmp_path / "net.onnx")


def test_torchscript_by_grpc_path_is_invalid_argument(settings, engine, tokens, tmp_path) -> None:  # noqa: F811
    victim = _victim(tmp_path)
    manifest = _scripted(tmp_path, FileWriter(str(victim), len(SECRET)), "writer")
    server = serve(settings.model_copy(update={"import_dirs": [tmp_path]}), 0, db_engine=engine, engines={})
    before = _state(engine, settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            with pytest.raises(grpc.RpcError) as info:
                arena_pb2_grpc.ArenaStub(channel).RegisterCheckpoint(
                    arena_pb2.RegisterCheckpointRequest(path=str(manifest)),
                    metadata=[("authorization", f"Bearer {tokens['submit']}")], timeout=30)
    finally:
        server.stop(grace=None).wait()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "torchscript" in info.value.details() and "arena checkpoint register" in info.value.details()
    assert str(tmp_path) not in info.value.details()
    assert victim.read_bytes() == SECRET
    assert _state(engine, settings) == before


def _declaring(tmp_path: Path, config: NetworkConfig, weights: bytes) -> Path:
    (tmp_path / "big.safetensors").write_bytes(weights)
    return register_checkpoint(tmp_path / "big.safetensors", format="safetensors", architecture=config,
                               board_sizes=[9], training_step=0, run_name="evil", verify=False)


def test_four_byte_safetensors_declaring_64x512_is_refused_before_building(settings, headers, engine,  # noqa: F811
                                                                            tmp_path, monkeypatch) -> None:
    built = []
    monkeypatch.setattr(models.checkpoint, "PolicyValueNet", lambda config: built.append(config))
    manifest = _declaring(tmp_path, NetworkConfig(blocks=64, channels=512), b"\x00" * 4)
    before = _state(engine, settings)
    # With this server's limits the architecture alone is refused; with limits that admit it, the
    # header is: both before a network is built.
    with app_with(settings) as client:
        response = _upload(client, manifest, headers["submit"])
    assert response.status_code == 422 and "ARENA_MAX_NETWORK_BLOCKS" in response.text, response.text
    with app_with(settings, max_network_blocks=64, max_network_channels=512,
                  max_network_parameters=1_000_000_000) as client:
        started = time.monotonic()
        response = _upload(client, manifest, headers["submit"])
        elapsed = time.monotonic() - started
    assert response.status_code == 422, response.text
    assert "4 bytes, shorter than the 8-byte header length" in response.json()["detail"][0]["msg"]
    assert elapsed < 2.0 and built == []
    assert _state(engine, settings) == before


@pytest.mark.parametrize("config, setting", [
    (NetworkConfig(blocks=41, channels=8), "ARENA_MAX_NETWORK_BLOCKS"),
    (NetworkConfig(blocks=1, channels=400), "ARENA_MAX_NETWORK_CHANNELS"),
    (NetworkConfig(blocks=40, channels=384), "ARENA_MAX_NETWORK_PARAMETERS"),
])
def test_architecture_over_a_limit_is_refused_naming_the_setting(client, headers, engine, settings,  # noqa: F811
                                                                  tmp_path, config, setting) -> None:
    manifest = _declaring(tmp_path, config, b"\x00" * 64)
    before = _state(engine, settings)
    response = _upload(client, manifest, headers["submit"])
    assert response.status_code == 422 and setting in response.json()["detail"][0]["msg"], response.text
    assert _state(engine, settings) == before


# ------------------------------------------------------------------------------------ uploads

def _asgi_post(client, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]) -> tuple[int, bytes, int]:
    """POST /checkpoints straight through the app's ASGI interface, the body pulled chunk by chunk
    (TestClient would read a streamed body whole first): (status, body, chunks pulled)."""
    pulled = 0
    done = False

    async def run() -> tuple[int, bytes]:
        status, body = [], []

        async def receive() -> dict:
            nonlocal pulled
            if done:
                return {"type": "http.disconnect"}
            chunk = next(chunks, None)
            if chunk is None:
                return {"type": "http.request", "body": b"", "more_body": False}
            pulled += 1
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: dict) -> None:
            nonlocal done
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                done = done or not message.get("more_body", False)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/checkpoints", "raw_path": b"/checkpoints", "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
                 "state": dict(getattr(client, "app_state", {}))}
        await client.app(scope, receive, send)
        return status[0], b"".join(body)

    status, body = client.portal.call(run)
    return status, body, pulled


def _multipart(parts: list[tuple[str, bytes, Iterator[bytes]]], boundary: bytes) -> Iterator[bytes]:
    for name, head, body in parts:
        yield (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name.encode() +
               b"\"; filename=\"" + name.encode() + b".bin\"\r\n\r\n" + head)
        yield from body
        yield b"\r\n"
    yield b"--" + boundary + b"--\r\n"


CHUNK = 64 * 1024


def test_chunked_upload_without_length_is_413_after_about_the_limit(settings, headers, engine, tmp_path,  # noqa: F811
                                                                     monkeypatch) -> None:
    limit = 1 << 20
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where an upload's temporary folder goes
    largest = [0]

    def endless() -> Iterator[bytes]:
        for _ in range(20 * limit // CHUNK):  # 20 MiB offered
            largest[0] = max(largest[0], sum(p.stat().st_size for p in spool.rglob("*") if p.is_file()))
            yield b"\0" * CHUNK

    manifest = demo_manifests()[0].read_bytes()
    boundary = b"hostileboundary"
    body = _multipart([("manifest", manifest, iter(())), ("weights", b"", endless())], boundary)
    before = _state(engine, settings)
    with app_with(settings, api_max_upload_bytes=limit) as client:
        request_headers = [(b"content-type", b"multipart/form-data; boundary=" + boundary),
                           (b"transfer-encoding", b"chunked"),
                           (b"authorization", headers["submit"]["Authorization"].encode())]
        status, answer, pulled = _asgi_post(client, request_headers, body)
    assert status == 413, answer
    assert f"the limit is {limit} bytes (ARENA_API_MAX_UPLOAD_BYTES)" in answer.decode()
    assert pulled * CHUNK <= limit + 3 * CHUNK  # read about the limit, not the 20 MiB offered
    assert largest[0] <= limit + CHUNK and list(spool.iterdir()) == []
    assert _state(engine, settings) == before


def test_oversized_manifest_part_is_413_naming_its_setting(client, headers, engine, settings) -> None:  # noqa: F811
    manifest = demo_manifests()[0]
    padded = manifest.read_bytes().rstrip() + b" " * (settings.api_max_manifest_bytes + 1)
    files = {"manifest": ("m.json", padded, "application/json"), "weights": ("w.safetensors", b"x", "x/y")}
    before = _state(engine, settings)
    response = client.post("/checkpoints", files=files, headers=headers["submit"])
    assert response.status_code == 413, response.text
    assert "manifest part" in response.json()["detail"] and "ARENA_API_MAX_MANIFEST_BYTES" in response.json()["detail"]
    assert _state(engine, settings) == before


# ------------------------------------------------------------------------------------ names

def test_a_name_cannot_be_moved_to_other_weights(client, headers, engine, settings, tmp_path) -> None:  # noqa: F811
    first, second = _tiny(tmp_path, "first", 1), _tiny(tmp_path, "second", 2)
    response = _upload(client, first, headers["submit"], name="hijack-me")
    assert response.status_code == 201, response.text
    with session_scope(engine) as session:
        row = session.scalar(select(Checkpoint).where(Checkpoint.name == "hijack-me"))
        owner = session.scalar(select(ApiToken.name).where(ApiToken.id == row.created_by_token_id))
    assert owner == "security-submit"
    before = _state(engine, settings)
    hijack = _upload(client, second, headers["admin"], name="hijack-me")
    assert hijack.status_code == 409, hijack.text
    assert "'hijack-me' is already registered with other weights" in hijack.json()["detail"]
    assert _state(engine, settings) == before  # not even the files are stored
    again = _upload(client, first, headers["submit"], name="hijack-me")
    assert again.status_code == 200 and not again.json()["created"]
    got = client.get("/checkpoints/hijack-me").json()["checkpoint"]["sha256"]
    assert got == read_manifest(first).weights_sha256


def test_a_lost_race_for_a_name_is_checkpoint_name_taken(engine, settings, monkeypatch, tmp_path) -> None:  # noqa: F811
    # Two registrations both saw the name free; the database's unique constraint decides.
    stored = [store_checkpoint(_tiny(tmp_path, f"racer{seed}", seed), root=tmp_path / "store") for seed in (3, 4)]
    with session_scope(engine) as session:
        record_checkpoint(session, stored[0], name="raced")
    monkeypatch.setattr("arena.checkpoints.check_name", lambda *args: None)  # the other saw it free
    with session_scope(engine) as session:
        with pytest.raises(CheckpointNameTaken, match="'raced'"):
            record_checkpoint(session, stored[1], name="raced")
        session.rollback()
    with session_scope(engine) as session:
        shas = session.scalars(select(Checkpoint.sha256).where(Checkpoint.sha256.in_([s.sha256 for s in stored])))
        assert list(shas) == [stored[0].sha256]


# ------------------------------------------------------------------------------------ the event loop

def test_healthz_answers_fast_while_a_registration_runs(settings, headers, monkeypatch, tmp_path) -> None:  # noqa: F811
    verify = models.checkpoint.verify_module

    def slow_verify(*args, **kwargs) -> None:  # a slow test forward: blocks its thread for 3 s
        time.sleep(3.0)
        verify(*args, **kwargs)

    monkeypatch.setattr(models.checkpoint, "verify_module", slow_verify)
    manifest = _tiny(tmp_path, "slow-one", 5)
    with app_with(settings) as client:
        assert client.get("/healthz").status_code == 200  # warm
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.update(
            response=_upload(client, manifest, headers["submit"], name="slow-one")))
        started = time.monotonic()
        worker.start()
        time.sleep(0.5)  # the registration is in its test forward now
        timings = []
        while worker.is_alive() and len(timings) < 10:
            tic = time.monotonic()
            assert client.get("/healthz").status_code == 200
            timings.append(time.monotonic() - tic)
            time.sleep(0.1)
        worker.join()
    assert time.monotonic() - started >= 3.0 and len(timings) >= 5
    assert max(timings) < 0.1, timings
    assert outcome["response"].status_code == 201, outcome["response"].text


def test_state_dict_of_a_known_architecture_is_still_accepted(client, headers, tmp_path) -> None:  # noqa: F811
    config = NetworkConfig(blocks=1, channels=8, value_hidden=8)
    torch.manual_seed(3)
    torch.save(PolicyValueNet(config).state_dict(), tmp_path / "plain.pt")
    manifest = register_checkpoint(tmp_path / "plain.pt", format="state_dict", architecture=config,
                                   board_sizes=[9], training_step=0, run_name="plain")
    assert _upload(client, manifest, headers["submit"]).status_code == 201
    tensors = {k: v.contiguous() for k, v in PolicyValueNet(config).state_dict().items()}
    safetensors.torch.save_file(tensors, tmp_path / "plain2.safetensors")
    manifest = register_checkpoint(tmp_path / "plain2.safetensors", format="safetensors", architecture=config,
                                   board_sizes=[9], training_step=0, run_name="plain", name="plain2")
    assert _upload(client, manifest, headers["submit"]).status_code == 201
    assert json.loads(manifest.read_text())["format"] == "safetensors"
