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
