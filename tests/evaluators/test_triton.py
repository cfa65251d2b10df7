"""TritonEvaluator against the real tritonserver (nvidia-pytriton's, Python backend on CPU).

One server for the module serves the CPU flavour of a small seeded 9x9 PolicyValueNet, exported
by models.triton_export; the evaluator's answers are compared with the same network run in
this process, masked and softmaxed the same way.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from models.network import NetworkConfig, PolicyValueNet
from models.triton_export import TritonModelSpec, export_to_repository
from search_workers.evaluators.triton import (
    TritonEvaluator,
    TritonEvaluatorError,
    TritonModelError,
    TritonUnavailableError,
)
from search_workers.go import GameState, random_game, stack_features
from search_workers.search.evaluator import EvaluationError, Evaluator, check_evaluation
from arena.ports import free_port
from tests.support.triton import TritonServer, TritonServerError, find_triton, require_triton, triton_server

BOARD = 9
# A 10 ms queue delay lets the batcher merge concurrent requests even on a busy 2-core machine.
# Forward passes of 16 rows: larger batches run in pieces, and must answer as one pass would.
SPEC = TritonModelSpec("go9", BOARD, max_batch_size=64, preferred_batch_sizes=(16, 64),
                       max_queue_delay_microseconds=10_000, cpu_pass_rows=16)
MODEL = SPEC.model_name("cpu")


@pytest.fixture(scope="module")
def net() -> PolicyValueNet:
    torch.manual_seed(0)
    return PolicyValueNet(NetworkConfig(blocks=2, channels=16, value_hidden=16)).eval()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, net: PolicyValueNet):
    require_triton()
    repository = tmp_path_factory.mktemp("triton-repository")
    export_to_repository(net, SPEC, repository, ("cpu",))
    yield from triton_server(repository, [MODEL])


@pytest.fixture(scope="module")
def evaluator(server) -> TritonEvaluator:
    with TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=BOARD, timeout_s=30.0) as ev:
        yield ev


def positions(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """features [count, 17, 9, 9] and legal [count, 82] of distinct positions from random games."""
    rng = np.random.default_rng(seed)
    states = []
    for i in range(count):
        game = random_game(BOARD, seed=seed * 1000 + i)
        state = GameState.new(BOARD)
        for _, move in game.moves[: int(rng.integers(0, len(game.moves)))]:
            state = state.play(move)
        states.append(state)
    return stack_features(states), np.stack([s.legal_moves() for s in states])


def reference(net: PolicyValueNet, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Evaluator contract computed in-process: softmax of the logits over legal moves."""
    with torch.inference_mode():
        logits, value = net(torch.from_numpy(features))
    masked = logits.double().masked_fill(~torch.from_numpy(legal), float("-inf"))
    return masked.softmax(dim=1).float().numpy(), value.numpy()


def test_cpu_flavour_matches_the_network_in_process(evaluator: TritonEvaluator, net: PolicyValueNet) -> None:
    features, legal = positions(64)
    policy, value = evaluator.evaluate(features, legal)
    assert isinstance(evaluator, Evaluator)
    assert policy.dtype == np.float32 and value.dtype == np.float32
    check_evaluation(policy, value, legal, source="triton")
    assert (policy[~legal] == 0).all()
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    expected_policy, expected_value = reference(net, features, legal)
    np.testing.assert_allclose(policy, expected_policy, rtol=0, atol=1e-4)
    np.testing.assert_allclose(value, expected_value, rtol=0, atol=1e-4)


def test_chunks_in_flight_come_back_in_order(server, net: PolicyValueNet) -> None:
    features, legal = positions(50, seed=1)
    expected_policy, expected_value = reference(net, features, legal)
    with TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=BOARD, chunk_size=7, inflight=3) as chunked:
        policy, value = chunked.evaluate(features, legal)  # 8 chunks, at most 3 in flight
        np.testing.assert_allclose(policy, expected_policy, rtol=0, atol=1e-4)
        np.testing.assert_allclose(value, expected_value, rtol=0, atol=1e-4)
        # Two threads sharing one evaluator (and its reused InferInput) get their own rows.
        results: dict[int, tuple] = {}
        halves = [(features[:25], legal[:25]), (features[25:], legal[25:])]
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, chunked.evaluate(*halves[i])))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        np.testing.assert_allclose(np.concatenate([results[0][1], results[1][1]]), expected_value, atol=1e-4)


def test_dynamic_batcher_merges_requests_in_flight(server, evaluator: TritonEvaluator) -> None:
    features, legal = positions(48, seed=2)
    before = evaluator.server_statistics()
    with TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=BOARD, chunk_size=1, inflight=16) as singles:
        singles.evaluate(features, legal)  # 48 requests of one row, up to 16 queued at the server
    after = evaluator.server_statistics()
    requests = after.request_count - before.request_count
    rows = after.inference_count - before.inference_count
    executions = after.execution_count - before.execution_count
    assert (requests, rows) == (48, 48)
    assert executions < requests, f"no request was merged: {after.batch_sizes}"
    assert rows / executions > 1.0
    assert max(after.batch_sizes) > 1


def test_missing_model_is_named_with_the_repository_index(server) -> None:
    with pytest.raises(TritonModelError) as caught:
        TritonEvaluator(server.grpc_url, model_name="go13_cpu", board_size=13, timeout_s=5.0)
    message = str(caught.value)
    assert "'go13_cpu'" in message and "no ready model" in message
    assert f"{MODEL} v1 READY" in message


def test_wrong_board_size_names_the_mismatch(server) -> None:
    with pytest.raises(TritonModelError) as caught:
        TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=13, timeout_s=5.0)
    message = str(caught.value)
    assert f"'{MODEL}'" in message and "13x13" in message
    assert "input 'features' is FP32 [-1, 17, 9, 9], expected FP32 [-1, 17, 13, 13]" in message
    assert "output 'policy_logits' is FP32 [-1, 82], expected FP32 [-1, 170]" in message


def test_server_down_retries_with_backoff_then_fails_clearly() -> None:
    url = f"127.0.0.1:{free_port()}"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(TritonUnavailableError) as caught:
        TritonEvaluator(url, model_name=MODEL, board_size=BOARD, timeout_s=1.0, max_retries=2, backoff_s=0.02)
    elapsed = time.monotonic() - start
    assert url in str(caught.value) and "3 attempts" in str(caught.value)
    assert 0.06 <= elapsed < 5.0  # slept 0.02 + 0.04 between the attempts


def failing_requests(evaluator: TritonEvaluator, monkeypatch: pytest.MonkeyPatch, left: dict, error) -> None:
    """The next `left["left"]` requests fail with `error`, on both request paths: a single chunk's
    blocking `infer` and several chunks' `async_infer`."""
    real_infer, real_async = evaluator._client.infer, evaluator._client.async_infer

    def infer(model_name, inputs, **kwargs):
        if left["left"] > 0:
            left["left"] -= 1
            raise error
        return real_infer(model_name, inputs, **kwargs)

    def async_infer(model_name, inputs, callback, **kwargs):
        if left["left"] > 0:
            left["left"] -= 1
            callback(None, error)
            return None
        return real_async(model_name, inputs, callback, **kwargs)

    monkeypatch.setattr(evaluator._client, "infer", infer)
    monkeypatch.setattr(evaluator._client, "async_infer", async_infer)
    # Keep the patched client (reconnecting is tested in test_triton_outage).
    monkeypatch.setattr(evaluator, "_reconnect", lambda: None)


@pytest.mark.parametrize("chunk_size", [None, 2], ids=["one-request", "chunks-in-flight"])
def test_inference_retries_unavailable_chunks(server, net: PolicyValueNet, monkeypatch: pytest.MonkeyPatch,
                                              chunk_size: int | None) -> None:
    """A server that drops (UNAVAILABLE) the first attempts: retried; one that stays down: clear error."""
    from tritonclient.utils import InferenceServerException

    failures = {"left": 2}
    with TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=BOARD, chunk_size=chunk_size) as evaluator:
        failing_requests(evaluator, monkeypatch, failures,
                         InferenceServerException("connection refused", status="StatusCode.UNAVAILABLE"))
        features, legal = positions(5, seed=3)
        policy, _ = evaluator.evaluate(features, legal)
        assert failures["left"] == 0
        np.testing.assert_allclose(policy, reference(net, features, legal)[0], atol=1e-4)
        failures["left"] = 100
        with pytest.raises(TritonUnavailableError, match="4 attempts"):
            evaluator.evaluate(features, legal)


@pytest.mark.parametrize("chunk_size", [None, 1], ids=["one-request", "chunks-in-flight"])
def test_other_server_errors_are_not_retried(server, monkeypatch: pytest.MonkeyPatch, chunk_size: int | None) -> None:
    from tritonclient.utils import InferenceServerException

    failures = {"left": 100}
    with TritonEvaluator(server.grpc_url, model_name=MODEL, board_size=BOARD, chunk_size=chunk_size) as evaluator:
        failing_requests(evaluator, monkeypatch, failures,
                         InferenceServerException("model crashed", status="StatusCode.INTERNAL"))
        with pytest.raises(TritonEvaluatorError, match="model crashed"):
            evaluator.evaluate(*positions(2, seed=4))
        assert failures["left"] == 100 - (1 if chunk_size is None else 2)  # no retry


def test_non_finite_outputs_raise_evaluation_error(evaluator: TritonEvaluator,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    features, legal = positions(3, seed=5)
    logits, value = evaluator._infer(features)
    bad_logits = logits.copy()
    bad_logits[1, 5] = np.nan
    monkeypatch.setattr(evaluator, "_infer", lambda f: (bad_logits, value))
    with pytest.raises(EvaluationError, match=r"positions \[1\]"):
        evaluator.evaluate(features, legal)
    bad_value = value.copy()
    bad_value[2] = np.inf
    monkeypatch.setattr(evaluator, "_infer", lambda f: (logits, bad_value))
    with pytest.raises(EvaluationError, match="non-finite value"):
        evaluator.evaluate(features, legal)


def test_inputs_are_checked_and_empty_batches_cost_nothing(evaluator: TritonEvaluator) -> None:
    features, legal = positions(2, seed=6)
    with pytest.raises(ValueError, match=r"\[B, 17, 9, 9\]"):
        evaluator.evaluate(features[:, :, :7, :7], legal)
    with pytest.raises(ValueError, match="legal"):
        evaluator.evaluate(features, legal[:1])
    policy, value = evaluator.evaluate(features[:0], legal[:0])
    assert policy.shape == (0, 82) and value.shape == (0,)


def test_harness_skips_without_pytriton_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pytriton", None)  # import pytriton -> ImportError
    assert "nvidia-pytriton is not installed" in find_triton()
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_triton()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_triton()


def test_harness_reports_a_model_that_fails_to_load_with_the_log(tmp_path: Path) -> None:
    require_triton()
    model = tmp_path / "broken" / "1"
    model.mkdir(parents=True)
    (model / "model.py").write_text("raise RuntimeError('this model is broken on purpose')\n")
    (tmp_path / "broken" / "config.pbtxt").write_text(
        'backend: "python"\nmax_batch_size: 1\n'
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n')
    server = TritonServer(tmp_path, ["broken"], startup_timeout_s=60)
    with pytest.raises(TritonServerError, match="(?s)exited with status.*broken on purpose"):
        server.start()
    assert server.process is None  # stopped, nothing left running


def test_plays_a_searched_game_through_triton_like_in_process(evaluator: TritonEvaluator,
                                                             net: PolicyValueNet) -> None:
    # The same search over the same network, served two ways: every searched move agrees
    # (outputs match to 1e-4, far below what could change a visit count at 16 visits).
    from search_workers.engines import MctsPlayer, play_seats
    from search_workers.evaluators import TorchEvaluator
    from search_workers.go import Rules
    from search_workers.search import SearchConfig

    config = SearchConfig(visits=16)
    rules = Rules.preset("chinese")
    remote = MctsPlayer("triton", evaluator, config)
    local = MctsPlayer("torch", TorchEvaluator(net, board_size=BOARD, device="cpu"), config)
    (through_triton,) = play_seats([remote], [remote], board_size=BOARD, rules=rules, move_limit=120)
    (in_process,) = play_seats([local], [local], board_size=BOARD, rules=rules, move_limit=120)
    assert through_triton.final.move_number > 20
    assert through_triton.final.moves == in_process.final.moves
    assert through_triton.result == in_process.result
