"""The content-addressed checkpoint store: verified before stored, whole or absent, idempotent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from arena.checkpoint_store import CheckpointNotStoredError, store_checkpoint, stored_checkpoint, stored_manifest
from models.checkpoint import CheckpointError, load_checkpoint, register_checkpoint, sha256_file
from models.demo import demo_manifests
from models.manifest import read_manifest


def copy_demo(tmp_path: Path, index: int = 0) -> Path:
    """A private copy of a demo checkpoint (manifest + weights); returns the manifest's path."""
    manifest = demo_manifests()[index]
    folder = tmp_path / "source"
    folder.mkdir(exist_ok=True)
    shutil.copy(manifest, folder)
    shutil.copy(manifest.with_suffix(".safetensors"), folder)
    return folder / manifest.name


def test_a_checkpoint_is_stored_under_its_weights_sha256_and_loads_from_there(tmp_path: Path) -> None:
    source = demo_manifests()[0]
    root = tmp_path / "store"
    stored = store_checkpoint(source, root=root)
    manifest = read_manifest(source)
    assert stored.sha256 == manifest.weights_sha256 == sha256_file(source.with_suffix(".safetensors"))
    assert stored.name == manifest.name and stored.manifest == manifest
    assert stored.manifest_path == root / stored.sha256 / source.name
    assert sorted(p.name for p in (root / stored.sha256).iterdir()) == sorted([source.name, manifest.weights_file])
    assert stored_manifest(stored.sha256, root=root) == stored.manifest_path
    assert stored_manifest(stored.sha256.upper(), root=root) == stored.manifest_path
    assert load_checkpoint(stored.manifest_path).sha256 == stored.sha256
    assert [p.name for p in root.iterdir()] == [stored.sha256]  # no temporary folder left behind


def test_storing_again_is_a_no_op_and_a_weights_path_names_the_same_checkpoint(tmp_path: Path) -> None:
    source = demo_manifests()[1]
    root = tmp_path / "store"
    first = store_checkpoint(source, root=root)
    written = first.manifest_path.stat().st_mtime_ns
    again = store_checkpoint(source.with_suffix(".safetensors"), root=root)
    assert again == first
    assert first.manifest_path.stat().st_mtime_ns == written
    assert [p.name for p in root.iterdir()] == [first.sha256]


def test_corrupted_weights_are_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    manifest = copy_demo(tmp_path)
    weights = manifest.with_suffix(".safetensors")
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    root = tmp_path / "store"
    with pytest.raises(CheckpointError, match="weights_sha256"):
        store_checkpoint(manifest, root=root)
    assert not root.exists() or not any(root.iterdir())


def test_a_crafted_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    demo = read_manifest(demo_manifests()[0])
    weights = tmp_path / "evil.pt"
    torch.save({"stem.weight": Payload()}, weights)
    manifest = register_checkpoint(weights, format="state_dict", board_sizes=[9], training_step=1, run_name="evil",
                                   architecture=dict(demo.architecture), verify=False)
    root = tmp_path / "store"
    with pytest.raises(CheckpointError, match="objects other than tensors"):
        store_checkpoint(manifest, root=root)
    assert not marker.exists()
    assert not root.exists() or not any(root.iterdir())


def test_a_damaged_stored_copy_is_reported_not_trusted(tmp_path: Path) -> None:
    source = demo_manifests()[0]
    root = tmp_path / "store"
    stored = store_checkpoint(source, root=root)
    weights = stored.manifest_path.parent / stored.manifest.weights_file
    weights.write_bytes(weights.read_bytes()[:-1])
    with pytest.raises(CheckpointError, match="damaged"):
        store_checkpoint(source, root=root)
    with pytest.raises(CheckpointError, match="damaged"):
        stored_checkpoint(stored.sha256, root=root)


def test_an_unknown_or_malformed_sha256_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotStoredError, match="not in the store"):
        stored_manifest("ab" * 32, root=tmp_path)
    for bad in ("../etc", "ab" * 8, "zz" * 32):
        with pytest.raises(ValueError, match="64 hexadecimal digits"):
            stored_manifest(bad, root=tmp_path)


def test_a_registration_hashes_and_tries_the_checkpoint_once(tmp_path: Path, monkeypatch) -> None:
    # Counted where the work happens: hashing bytes, hashing a file, the test forward.
    import hashlib

    import models.checkpoint as checkpoint_module
    import models.files as files_module

    calls = {"hash": 0, "hash_file": 0, "forward": 0}
    real_sha256, real_file, real_verify = hashlib.sha256, files_module.sha256_file, checkpoint_module.verify_within

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(checkpoint_module.hashlib, "sha256", counted("hash", real_sha256))
    monkeypatch.setattr(files_module, "sha256_file", counted("hash_file", real_file))
    monkeypatch.setattr(checkpoint_module, "verify_within", counted("forward", real_verify))
    root = tmp_path / "store"
    stored = store_checkpoint(copy_demo(tmp_path), root=root)
    assert calls == {"hash": 1, "hash_file": 0, "forward": 1}
    assert stored_checkpoint(stored.sha256, root=root).sha256 == stored.sha256  # what was written is intact
    calls.update(hash=0, hash_file=0, forward=0)
    store_checkpoint(copy_demo(tmp_path), root=root)  # already stored: compared with the verified bytes
    assert calls == {"hash": 1, "hash_file": 0, "forward": 1}
