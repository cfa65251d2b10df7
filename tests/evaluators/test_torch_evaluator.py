"""TorchEvaluator: the contract, masking, the cache, and refusing NaN."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.network import NetworkConfig, PolicyValueNet
from search_workers.evaluators import TorchEvaluator, UniformEvaluator
from search_workers.go import GameState, random_game, stack_features
from search_workers.search import EvaluationError, check_evaluation


def positions(board_size: int = 9, count: int = 6) -> tuple[np.ndarray, np.ndarray]:
    game = random_game(board_size, seed=7)
    states, state = [], GameState.new(board_size)
    for k, (_, move) in enumerate(game.moves):
        if k % 9 == 0:
            states.append(state)
        state = state.play(move)
    states = states[:count]
    return stack_features(states), np.stack([s.legal_moves() for s in states])


@pytest.fixture(scope="module")
def net() -> PolicyValueNet:
    torch.manual_seed(0)
    return PolicyValueNet(NetworkConfig(blocks=2, channels=16)).eval()


def test_policy_is_a_distribution_over_legal_moves_only(net: PolicyValueNet) -> None:
    features, legal = positions()
    policy, value = TorchEvaluator(net, board_size=9).evaluate(features, legal)
    check_evaluation(policy, value, legal, source="test")
    assert np.allclose(policy.sum(axis=1), 1.0, atol=1e-5)
    assert (policy[~legal] == 0).all() and (policy[legal] > 0).all()


def test_matches_the_network_forward(net: PolicyValueNet) -> None:
    features, legal = positions()
    policy, value = TorchEvaluator(net, board_size=9).evaluate(features, legal)
    with torch.inference_mode():
        logits, expected_value = net(torch.from_numpy(features))
    logits = logits.numpy().astype(np.float64)
    logits[~legal] = -np.inf
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.allclose(policy, expected, atol=1e-6)
    assert np.allclose(value, expected_value.numpy(), atol=1e-6)


def test_cache_answers_repeats_without_a_forward(net: PolicyValueNet) -> None:
    features, legal = positions()
    evaluator = TorchEvaluator(net, board_size=9, cache_size=100)
    first = evaluator.evaluate(features, legal)
    assert evaluator.forward_positions == len(features) and evaluator.cache_hits == 0
    again = evaluator.evaluate(features[::-1].copy(), legal[::-1].copy())
    assert evaluator.forward_positions == len(features) and evaluator.cache_hits == len(features)
    assert np.array_equal(again[0], first[0][::-1]) and np.array_equal(again[1], first[1][::-1])


def test_cache_is_bounded(net: PolicyValueNet) -> None:
    features, legal = positions()
    evaluator = TorchEvaluator(net, board_size=9, cache_size=2)
    evaluator.evaluate(features, legal)
    assert len(evaluator._cache) == 2


def test_nan_from_the_network_is_an_error() -> None:
    net = PolicyValueNet(NetworkConfig(blocks=1, channels=8)).eval()
    with torch.no_grad():
        net.value_fc2.bias.fill_(float("nan"))
    features, legal = positions()
    with pytest.raises(EvaluationError, match="NaN"):
        TorchEvaluator(net, board_size=9).evaluate(features, legal)


def test_wrong_board_size_and_precision_are_refused(net: PolicyValueNet) -> None:
    features, legal = positions(7)
    with pytest.raises(ValueError, match="9x9"):
        TorchEvaluator(net, board_size=9).evaluate(features, legal)
    with pytest.raises(ValueError, match="CPU evaluates in float32"):
        TorchEvaluator(net, board_size=9, device="cpu", precision="float16")
    with pytest.raises(ValueError, match="precision must be"):
        TorchEvaluator(net, board_size=9, precision="int8")


def test_uniform_evaluator_obeys_the_contract() -> None:
    features, legal = positions()
    policy, value = UniformEvaluator(9).evaluate(features, legal)
    check_evaluation(policy, value, legal, source="uniform")
    assert np.allclose(policy[legal], np.repeat(1 / legal.sum(axis=1), legal.sum(axis=1)))


def test_cpu_batches_past_the_fastest_size_run_in_pieces_with_the_same_answers(net: PolicyValueNet) -> None:
    features, legal = positions(count=6)
    features, legal = np.repeat(features, 40, axis=0), np.repeat(legal, 40, axis=0)  # 240 rows
    evaluator = TorchEvaluator(net, board_size=9, device="cpu")
    policy, value = evaluator.evaluate(features, legal)
    assert evaluator.pass_rows is not None and 8 <= evaluator.pass_rows <= 512
    evaluator.pass_rows = 7  # every batch in pieces: 240 rows as 35 passes of 6-7
    pieces = evaluator.evaluate(features, legal)
    np.testing.assert_allclose(pieces[0], policy, rtol=0, atol=1e-6)
    np.testing.assert_allclose(pieces[1], value, rtol=0, atol=1e-6)


def test_the_fastest_cpu_batch_is_measured_once_per_network_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    from search_workers.evaluators import torch_evaluator

    probes = []
    monkeypatch.setattr(torch_evaluator, "_PASS_ROWS", {})
    monkeypatch.setattr(torch_evaluator, "fastest_rows", lambda *a, **k: probes.append(a[1]) or 16)
    features, legal = positions(count=6)
    shape = NetworkConfig(blocks=1, channels=8, value_hidden=8)
    first = TorchEvaluator(PolicyValueNet(shape).eval(), board_size=9, device="cpu")
    first.evaluate(features, legal)
    assert first.pass_rows is None and probes == []  # 6 rows: below every candidate size
    big = (np.repeat(features, 4, axis=0), np.repeat(legal, 4, axis=0))
    first.evaluate(*big)
    second = TorchEvaluator(PolicyValueNet(shape).eval(), board_size=9, device="cpu")  # another checkpoint
    second.evaluate(*big)
    assert (first.pass_rows, second.pass_rows) == (16, 16) and probes == [(17, 9, 9)]
    TorchEvaluator(PolicyValueNet(NetworkConfig(blocks=1, channels=16, value_hidden=8)).eval(), board_size=9,
                   device="cpu").evaluate(*big)
    assert len(probes) == 2  # another shape is measured for itself

    class Wrapped(torch.nn.Module):  # no parameters of its own, as an ONNX session's wrapper
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.__dict__["inner"] = inner  # not registered: its parameters stay hidden

        def forward(self, x):
            return self.inner(x)

    for _ in range(2):  # parameter-less modules cannot share by shape: each is measured for itself
        TorchEvaluator(Wrapped(PolicyValueNet(shape).eval()), board_size=9, device="cpu").evaluate(*big)
    assert len(probes) == 4
    ready = TorchEvaluator(PolicyValueNet(shape).eval(), board_size=9, device="cpu")
    ready.prepare()  # before any batch: benchmarks measure before they time
    assert ready.pass_rows == 16 and len(probes) == 4
