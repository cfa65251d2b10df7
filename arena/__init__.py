"""Go Arena's service layer: storage, ratings, scheduling, APIs, CLI and metrics.

The top layer: it may import anything below it (`search_workers`, `models`), never the reverse.
"""

__version__ = "0.1.0"
