"""Registering a checkpoint with Triton configured, and the worker's side of it.

- model names come from the weights alone and are valid Triton names;
- with Triton down, the registration stands and the error is reported (export done);
- a worker whose model is not loaded (or not even exported) publishes it itself, then plays
  through TritonEvaluator with the pipelined search (pipeline_groups=2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arena.checkpoint_store import store_checkpoint
from arena.checkpoints import record_checkpoint
from arena.context import ArenaContext
from arena.db.connection import session_scope
from arena.db.models import Checkpoint
from arena.ports import free_port
from arena.settings import Settings
from arena.worker import triton_context
from models.demo import demo_manifests
from models.triton_export import TritonModelSpec
from models.triton_serving import checkpoint_model_name
from search_workers import tasks
from search_workers.go import GameState, stack_features
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.search_workers.test_tasks import MemorySink, payload
from tests.support.triton import require_triton, triton_server


def test_model_names_are_deterministic_valid_and_per_flavour() -> None:
    sha = "0123456789abcdef" * 4
    assert checkpoint_model_name(sha, 9) == "ckpt_0123456789abcdef_b9"
    assert checkpoint_model_name(sha.upper(), 9, "cpu") == "ckpt_0123456789abcdef_b9_cpu"
    TritonModelSpec(name=checkpoint_model_name(sha, 19), board_size=19)  # the exporter accepts it
    for bad in ("../x", "a" * 63):
        with pytest.raises(ValueError, match="sha256"):
            checkpoint_model_name(bad, 9)
    with pytest.raises(ValueError, match="flavour"):
        checkpoint_model_name(sha, 9, "tpu")


def test_without_triton_settings_registration_does_not_touch_triton(engine, tmp_path: Path) -> None:  # noqa: F811
    stored = store_checkpoint(demo_manifests()[0], root=tmp_path / "store")
    with session_scope(engine) as session:
        context = ArenaContext.from_settings(Settings(database_url="x"))
        assert record_checkpoint(session, stored, context=context).triton is None
    assert triton_context(Settings(database_url="x")) == {}


def test_triton_down_keeps_the_registration_and_reports_it(engine, tmp_path: Path) -> None:  # noqa: F811
    stored = store_checkpoint(demo_manifests()[1], root=tmp_path / "store")
    settings = Settings(database_url="x", triton_url=f"127.0.0.1:{free_port()}", triton_repository=tmp_path / "repo",
                        triton_flavour="cpu")
    with session_scope(engine) as session:
        registration = record_checkpoint(session, stored, context=ArenaContext.from_settings(settings))
    model = checkpoint_model_name(stored.sha256, 9, "cpu")
    publication = registration.triton
    assert publication.models == publication.exported == [model] and publication.loaded == []
    assert f"Triton at {settings.triton_url} did not load {model}" in publication.error
    assert (tmp_path / "repo" / model / "1" / "model.py").is_file()
    with session_scope(engine) as session:  # the registration was committed all the same
        assert session.query(Checkpoint).filter_by(sha256=stored.sha256).one().name == stored.name


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory):
    require_triton()
    repository = tmp_path_factory.mktemp("triton") / "repository"
    repository.mkdir()
    yield from triton_server(repository)


def test_a_worker_publishes_a_model_that_is_not_served_and_plays_through_triton(triton, tmp_path: Path) -> None:
    root = tmp_path / "store"
    shas = [store_checkpoint(path, root=root).sha256 for path in demo_manifests()[-2:]]
    settings = Settings(database_url="x", triton_url=triton.grpc_url, triton_repository=triton.repository,
                        triton_flavour="cpu")
    sink = MemorySink()
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=root, engines={}, **triton_context(settings)))
    try:
        evaluator = tasks.evaluator_for(shas[0], 9)  # neither exported nor loaded: the worker does both
        assert evaluator.label == "triton" and evaluator.inner.model_name == checkpoint_model_name(shas[0], 9, "cpu")
        assert tasks.evaluator_for(shas[0], 9) is evaluator
        features = stack_features([GameState.new(9)])
        policy, value = evaluator.evaluate(features, np.ones((1, 82), dtype=bool))
        assert policy.shape == (1, 82) and abs(float(policy.sum()) - 1) < 1e-5 and -1 <= value[0] <= 1
        result = tasks.play_block(payload(shas))
        assert result.played == 2 and len(sink.games) == 2
        seats = tasks._seats(tasks.BlockPayload.model_validate(payload(shas)))
        assert {seat.pipeline_groups for seat in seats.values()} == {2}
        one_group = triton_context(settings.model_copy(update={"triton_pipeline_groups": 1}))
        tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=root, engines={}, **one_group))
        seats = tasks._seats(tasks.BlockPayload.model_validate(payload(shas)))
        assert {seat.pipeline_groups for seat in seats.values()} == {1}  # ARENA_TRITON_PIPELINE_GROUPS=1
    finally:
        tasks.configure(tasks.WorkerContext(sink=MemorySink(), checkpoint_root=root, engines={}))
