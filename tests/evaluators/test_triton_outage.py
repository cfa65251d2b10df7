"""TritonEvaluator through a Triton restart (issue 13, item 5): evaluations wait for the server
(bounded by wait_s) and a model the restarted server no longer holds is loaded again.

A server of this test's own (`RestartableTriton`: the same ports after a restart, and no model
loaded at start-up, as after a production restart that lost the model).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from arena.benchmarks.triton_restart import RestartableTriton
from models.network import NetworkConfig, PolicyValueNet
from models.triton_export import TritonModelSpec, export_to_repository
from models.triton_serving import load_models
from search_workers.evaluators.triton import TritonEvaluator, TritonUnavailableError
from tests.evaluators.test_triton import BOARD, MODEL, SPEC, positions, reference
from tests.support.triton import TritonServerError, require_triton


@pytest.fixture
def net() -> PolicyValueNet:
    torch.manual_seed(0)
    return PolicyValueNet(NetworkConfig(blocks=2, channels=16, value_hidden=16)).eval()


@pytest.fixture
def server(tmp_path: Path, net: PolicyValueNet):
    install = require_triton()
    export_to_repository(net, SPEC, tmp_path, ("cpu",))
    server = RestartableTriton(tmp_path, [MODEL], install=install)
    try:
        server.start()
    except TritonServerError as error:
        pytest.fail(str(error))
    yield server
    server.stop()


def test_evaluation_waits_for_a_restart_and_loads_the_lost_model_again(server, net: PolicyValueNet) -> None:
    reloads = []

    def reload() -> None:
        reloads.append(time.monotonic())
        published = load_models(server.grpc_url, [MODEL])
        assert not published.error, published.error

    features, legal = positions(4)
    want_policy, want_value = reference(net, features, legal)
    with TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=BOARD, timeout_s=10.0, wait_s=90.0,
                         reload=reload) as evaluator:
        evaluator.evaluate(features, legal)
        restart = threading.Thread(target=server.restart, kwargs={"down_s": 3.0})
        restart.start()
        time.sleep(0.5)  # the server is going down or down: the next evaluation has to wait
        started = time.monotonic()
        policy, value = evaluator.evaluate(features, legal)
        waited = time.monotonic() - started
        restart.join(120)
    assert waited > 2.0, "the evaluation did not meet the outage"
    np.testing.assert_allclose(policy, want_policy, atol=1e-5)
    np.testing.assert_allclose(value, want_value, atol=1e-5)
    assert reloads, "the restarted server had no model: it must have been loaded again"


def test_the_wait_is_bounded(server) -> None:
    features, legal = positions(2)
    with TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=BOARD, timeout_s=5.0, wait_s=2.0) as evaluator:
        server.stop()
        started = time.monotonic()
        with pytest.raises(TritonUnavailableError, match="unavailable"):
            evaluator.evaluate(features, legal)
        assert 2.0 <= time.monotonic() - started < 15.0
