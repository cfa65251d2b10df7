"""Evaluator implementations (layer 3): uniform, in-process torch, Triton over gRPC.

The protocol they implement is `search_workers.search.Evaluator`. Torch and tritonclient are
imported only when their evaluator is first used, so a uniform-evaluator search stays light.
"""

from search_workers.search.evaluator import EvaluationError, Evaluator

from .uniform import UniformEvaluator

__all__ = ["EvaluationError", "Evaluator", "UniformEvaluator", "TorchEvaluator", "TritonEvaluator"]


def __getattr__(name: str):
    if name == "TorchEvaluator":
        from .torch_evaluator import TorchEvaluator

        return TorchEvaluator
    if name == "TritonEvaluator":
        from .triton import TritonEvaluator

        return TritonEvaluator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
