"""The one error scheduling raises for bad input that a configuration model cannot catch alone."""

from __future__ import annotations

__all__ = ["SchedulingError"]


class SchedulingError(ValueError):
    """Input that cannot be scheduled: openings that do not replay, unknown references, bad counts."""
