"""Missing parts in tests: skipped on a developer's machine, failed under CI (CI set to anything
but empty, 0, false or no), where a missing service or binary must not pass silently."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; fail it under CI."""
    if under_ci():
        pytest.fail(f"{reason} (under CI)")
    pytest.skip(reason)
