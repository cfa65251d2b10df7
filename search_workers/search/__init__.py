"""Batched PUCT Monte Carlo tree search (layer 2).

Talks to networks only through the `Evaluator` protocol; imports neither torch nor grpc.
"""

from .config import SearchConfig
from .evaluator import EvaluationError, Evaluator, check_evaluation
from .mcts import BatchedMcts, SearchResult

__all__ = ["SearchConfig", "EvaluationError", "Evaluator", "check_evaluation", "BatchedMcts", "SearchResult"]
