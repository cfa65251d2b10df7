"""Batched PUCT Monte Carlo tree search (layer 2).

Talks to networks only through the `Evaluator` protocol; imports neither torch nor grpc.
"""

from .config import MAX_VISITS, SearchConfig
from .evaluator import EvaluationError, Evaluator, EvaluatorUnavailableError, check_evaluation
from .mcts import BatchedMcts, SearchResult, search_bytes_per_game

__all__ = ["MAX_VISITS", "SearchConfig", "EvaluationError", "Evaluator", "EvaluatorUnavailableError",
           "check_evaluation", "BatchedMcts", "SearchResult", "search_bytes_per_game"]
