"""`arena checkpoint register/list` on a real PostgreSQL, and finding registered checkpoints."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from sqlalchemy import func, select

from arena.cli.checkpoint import CheckpointRefError, find_checkpoint
from arena.cli.gtp import CheckpointNotFoundError, resolve_checkpoint
from arena.db.connection import session_scope
from arena.db.models import Checkpoint
from models.checkpoint import register_checkpoint, save_checkpoint
from models.demo import demo_manifests
from models.manifest import read_manifest
from models.network import NetworkConfig, PolicyValueNet
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.arena_cli import arena_settings
from tests.support.arena_cli import invoke_arena as arena

@pytest.fixture
def arena_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    """The CLI pointed at the test database and a temporary store; returns the store root."""
    with arena_settings(monkeypatch, database_url=db_url, data_dir=tmp_path / "data",
                        checkpoint_dir=tmp_path / "checkpoints"):
        yield tmp_path / "checkpoints"


def tiny_checkpoint(directory: Path, name: str, seed: int) -> Path:
    """A small, freshly initialised 9x9 network saved as a checkpoint; its manifest's path."""
    torch.manual_seed(seed)
    net = PolicyValueNet(NetworkConfig(blocks=1, channels=8, value_hidden=8))
    return save_checkpoint(net, directory, name, board_sizes=[9], training_step=seed, run_name="tiny")


def count(engine) -> int:  # noqa: F811
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(Checkpoint))


def test_register_the_demo_run_with_lineage_idempotently_and_list_it(arena_env: Path, engine) -> None:  # noqa: F811
    manifests = demo_manifests()
    first = arena("checkpoint", "register", str(manifests[0]), "--name", "run7-first")
    assert first.exit_code == 0, first.output
    assert first.output.startswith("registered run7-first")
    for manifest in manifests[1:]:
        result = arena("checkpoint", "register", str(manifest))
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"registered {manifest.stem}")
    assert count(engine) == len(manifests)
    again = arena("checkpoint", "register", str(manifests[-1].with_suffix(".safetensors")), "--name", "other")
    assert again.exit_code == 0 and again.output.startswith(f"already registered: {manifests[-1].stem}")
    assert count(engine) == len(manifests)

    shas = [read_manifest(m).weights_sha256 for m in manifests]
    assert sorted(p.name for p in arena_env.iterdir()) == sorted(shas)
    with session_scope(engine) as s:
        rows = {c.sha256: c for c in s.scalars(select(Checkpoint))}
        for parent, child in zip(shas, shas[1:]):
            assert rows[child].parent_id == rows[parent].id  # the manifests' parent chain
        newest = rows[shas[-1]]
        assert (newest.run_name, newest.training_step) == ("demo-9x9", read_manifest(manifests[-1]).training_step)
        assert newest.manifest == read_manifest(manifests[-1]).model_dump(mode="json")

    listing = arena("checkpoint", "list")
    assert listing.exit_code == 0, listing.output
    for manifest, sha in zip(manifests, shas):
        assert sha[:12] in listing.output
    assert "run7-first" in listing.output and manifests[-1].stem in listing.output
    assert "demo-9x9" in listing.output and "2000" in listing.output


def test_find_checkpoint_by_name_sha256_and_prefix_with_near_matches(arena_env: Path, engine) -> None:  # noqa: F811
    manifests = demo_manifests()
    for manifest in manifests:
        assert arena("checkpoint", "register", str(manifest)).exit_code == 0
    sha = read_manifest(manifests[2]).weights_sha256
    with session_scope(engine) as s:
        assert find_checkpoint(s, manifests[2].stem).sha256 == sha
        assert find_checkpoint(s, sha).sha256 == sha
        assert find_checkpoint(s, sha[:8].upper()).sha256 == sha
        with pytest.raises(CheckpointRefError, match="did you mean demo-9x9-s001000"):
            find_checkpoint(s, "demo-9x9-s00100")
        with pytest.raises(CheckpointRefError, match="at least 8 hex digits"):
            find_checkpoint(s, sha[:6])
        with pytest.raises(CheckpointRefError, match="no registered checkpoint named 'f00dbabe00'"):
            find_checkpoint(s, "f00dbabe00")


def test_a_name_keeps_its_first_weights_and_other_weights_are_refused_under_it(
        arena_env: Path, engine, tmp_path: Path) -> None:  # noqa: F811
    first, other = (tiny_checkpoint(tmp_path / str(seed), "shared-name", seed) for seed in (1, 2))
    assert arena("checkpoint", "register", str(first)).exit_code == 0
    before = (count(engine), sorted(p.name for p in arena_env.iterdir()))
    refused = arena("checkpoint", "register", str(other))
    assert refused.exit_code == 1
    assert "checkpoint refused, nothing stored or registered" in refused.output
    assert "'shared-name' is already registered with other weights" in refused.output
    assert (count(engine), sorted(p.name for p in arena_env.iterdir())) == before  # not even the files
    again = arena("checkpoint", "register", str(first))  # the same weights under the same name: a no-op
    assert again.exit_code == 0 and again.output.startswith("already registered: shared-name")
    assert arena("checkpoint", "register", str(other), "--name", "shared-name-2").exit_code == 0
    with session_scope(engine) as s:
        assert find_checkpoint(s, "shared-name").sha256 == read_manifest(first).weights_sha256
        assert find_checkpoint(s, "shared-name-2").sha256 == read_manifest(other).weights_sha256
        assert s.scalar(select(Checkpoint.created_by_token_id).where(Checkpoint.name == "shared-name")) is None


def test_gtp_finds_a_registered_checkpoint_after_paths_and_demo_names(arena_env: Path, tmp_path: Path) -> None:
    source = tiny_checkpoint(tmp_path, "run7-best", seed=3)
    assert arena("checkpoint", "register", str(source)).exit_code == 0
    sha = read_manifest(source).weights_sha256
    stored = arena_env / sha / source.name
    assert resolve_checkpoint("run7-best") == stored
    assert resolve_checkpoint(sha[:10]) == stored
    demo = demo_manifests()[1]
    assert arena("checkpoint", "register", str(demo)).exit_code == 0
    assert resolve_checkpoint(demo.stem) == demo  # a demo name still finds the committed files first
    with pytest.raises(CheckpointNotFoundError, match="registered checkpoints: no registered checkpoint named"):
        resolve_checkpoint("no-such-net")


def test_gtp_opens_no_database_when_a_path_or_demo_name_matches(tmp_path: Path, monkeypatch) -> None:
    manifests = demo_manifests()
    # Nothing listens on port 9; a store exists, so an unknown name does try the database.
    with arena_settings(monkeypatch, database_url="postgresql://nobody@127.0.0.1:9/none", data_dir=tmp_path / "data",
                        checkpoint_dir=tmp_path):
        assert resolve_checkpoint(manifests[0].stem) == manifests[0]
        assert resolve_checkpoint(str(manifests[0])) == manifests[0]
        with pytest.raises(CheckpointNotFoundError, match="registered checkpoints: cannot reach the database"):
            resolve_checkpoint("no-such-net")
    with arena_settings(monkeypatch, database_url="postgresql://nobody@127.0.0.1:9/none", data_dir=tmp_path / "data",
                        checkpoint_dir=tmp_path / "absent"):
        with pytest.raises(CheckpointNotFoundError, match="no checkpoint store at"):
            resolve_checkpoint("no-such-net")


def test_corrupted_weights_and_a_crafted_pickle_are_refused_and_nothing_is_stored(
        arena_env: Path, engine, tmp_path: Path) -> None:  # noqa: F811
    before = count(engine)
    source = demo_manifests()[0]
    folder = tmp_path / "corrupt"
    folder.mkdir()
    shutil.copy(source, folder)
    weights = folder / source.with_suffix(".safetensors").name
    shutil.copy(source.with_suffix(".safetensors"), weights)
    data = bytearray(weights.read_bytes())
    data[100] ^= 0x01
    weights.write_bytes(bytes(data))
    result = arena("checkpoint", "register", str(folder / source.name))
    assert result.exit_code == 1
    assert "checkpoint refused, nothing stored or registered" in result.output and "weights_sha256" in result.output

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    torch.save({"stem.weight": Payload()}, evil)
    manifest = register_checkpoint(evil, format="state_dict", board_sizes=[9], training_step=1, run_name="evil",
                                   architecture=dict(read_manifest(source).architecture), verify=False)
    result = arena("checkpoint", "register", str(manifest))
    assert result.exit_code == 1
    assert "objects other than tensors" in result.output
    assert not marker.exists()
    assert count(engine) == before
    assert not arena_env.exists() or not any(arena_env.iterdir())
