"""POST/GET /checkpoints: uploads and server paths, refusals that store nothing, the 413 limit."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from arena.api import create_app
from arena.db.connection import session_scope
from arena.db.models import Checkpoint
from models.checkpoint import register_checkpoint
from models.demo import demo_manifests
from models.manifest import read_manifest
from models.network import NetworkConfig
from tests.models.test_checkpoint import TouchPayload


def _count(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Checkpoint))


def _stored(settings) -> list[Path]:
    root = settings.checkpoint_root()
    return sorted(root.iterdir()) if root.is_dir() else []


def _upload(client: TestClient, manifest: Path, auth: dict, *, weights: Path | None = None, **data):
    manifest_data = read_manifest(manifest) if weights is None else None
    weights = weights or manifest.parent / manifest_data.weights_file
    files = {"manifest": (manifest.name, manifest.read_bytes(), "application/json"),
             "weights": (weights.name, weights.read_bytes(), "application/octet-stream")}
    return client.post("/checkpoints", files=files, data=data, headers=auth)


def test_upload_registers_once_and_lists_with_run_filter(client, auth, engine, settings) -> None:
    first, second = demo_manifests()[:2]
    response = _upload(client, first, auth, name="uploaded-first")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] and body["checkpoint"]["name"] == "uploaded-first"
    assert body["checkpoint"]["sha256"] == read_manifest(first).weights_sha256
    again = _upload(client, first, auth)
    assert again.status_code == 200 and not again.json()["created"]
    by_path = client.post("/checkpoints", json={"path": str(second)}, headers=auth)
    assert by_path.status_code == 201, by_path.text
    assert by_path.json()["checkpoint"]["parent_sha256"] == body["checkpoint"]["sha256"]  # lineage kept
    run = read_manifest(first).run_name
    listed = client.get("/checkpoints", params={"run": run}).json()
    assert [c["name"] for c in listed] == ["uploaded-first", read_manifest(second).name]
    assert client.get("/checkpoints", params={"run": "no-such-run"}).json() == []
    one = client.get(f"/checkpoints/{body['checkpoint']['id']}").json()
    assert one["checkpoint"]["name"] == "uploaded-first" and one["players"] == []
    assert one["manifest"]["weights_sha256"] == body["checkpoint"]["sha256"]
    assert client.get(f"/checkpoints/{body['checkpoint']['sha256'][:12]}").json()["checkpoint"]["id"] == \
        body["checkpoint"]["id"]
    assert _count(engine) == 2 and len(_stored(settings)) == 2


def test_unknown_checkpoint_is_404_with_a_message(client) -> None:
    assert client.get("/checkpoints/999999").status_code == 404
    response = client.get("/checkpoints/no-such-net")
    assert response.status_code == 404 and "no registered checkpoint named 'no-such-net'" in response.json()["detail"]


def test_crafted_pickle_upload_is_refused_nothing_runs_nothing_is_stored(client, auth, engine, settings,
                                                                        tmp_path) -> None:
    marker = tmp_path / "pwned"
    weights = tmp_path / "evil.pt"
    weights.write_bytes(pickle.dumps({"stem.weight": torch.zeros(16, 17, 3, 3), "extra": TouchPayload(marker)}))
    manifest = register_checkpoint(weights, format="state_dict", architecture=NetworkConfig(blocks=1, channels=16),
                                   board_sizes=[9], training_step=0, run_name="evil", verify=False)
    before = (_count(engine), _stored(settings))
    response = _upload(client, manifest, auth, weights=weights)
    assert response.status_code == 422
    assert "contains objects other than tensors" in response.json()["detail"][0]["msg"]
    assert not marker.exists()
    assert (_count(engine), _stored(settings)) == before
    assert not list(settings.checkpoint_root().glob(".*.tmp"))


@pytest.mark.parametrize("case, loc", [
    ("not-json", ["body", "manifest"]),
    ("bad-weights-name", ["body", "manifest", "weights_file"]),
    ("no-weights", ["body", "weights"]),
])
def test_malformed_uploads_name_the_field(client, auth, engine, case, loc) -> None:
    manifest = demo_manifests()[0]
    text = manifest.read_bytes()
    if case == "not-json":
        text = b"{not json"
    elif case == "bad-weights-name":
        text = text.replace(read_manifest(manifest).weights_file.encode(), b"../../etc/passwd")
    files = {"manifest": ("m.json", text, "application/json")}
    if case != "no-weights":
        files["weights"] = ("w.safetensors", b"x" * 10, "application/octet-stream")
    before = _count(engine)
    response = client.post("/checkpoints", files=files, headers=auth)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == loc, response.text
    assert _count(engine) == before


def test_path_registration_refusals_are_422(client, auth) -> None:
    missing = client.post("/checkpoints", json={"path": "/nonexistent/x.json"}, headers=auth)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "path"]
    empty = client.post("/checkpoints", json={"path": ""}, headers=auth)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "path"]
    other = client.post("/checkpoints", content=b"x", headers={**auth, "Content-Type": "text/plain"})
    assert other.status_code == 422


@pytest.mark.parametrize("slack", [-300_000, -1_000], ids=["content-length", "counted-while-reading"])
def test_oversized_upload_is_413_and_stores_nothing(settings, auth, engine, slack) -> None:
    # Far over: refused on Content-Length before reading. Just over (within the multipart slack):
    # refused while the weights are copied, by the bytes counted.
    manifest = demo_manifests()[2]
    size = (manifest.parent / read_manifest(manifest).weights_file).stat().st_size + manifest.stat().st_size
    limit = size + slack
    small = settings.model_copy(update={"api_max_upload_bytes": limit})
    before = (_count(engine), _stored(settings))
    with TestClient(create_app(small)) as client:
        response = _upload(client, manifest, auth)
    assert response.status_code == 413 and f"{limit} bytes" in response.json()["detail"]
    assert (_count(engine), _stored(settings)) == before
