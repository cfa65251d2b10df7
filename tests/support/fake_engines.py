"""Engine specs for tests: the scripted fake GTP engine (tests/support/fake_gtp.py) and GNU Go."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from search_workers.engines.config import EngineSpec, parse_engine_config

FAKE_GTP = Path(__file__).with_name("fake_gtp.py")


def engine_spec(**table: Any) -> EngineSpec:
    """One spec validated exactly as the configuration file's would be."""
    return parse_engine_config({"engine": [table]})[table["name"]]


def fake_spec(*options: str, name: str = "fake", **settings: Any) -> EngineSpec:
    """The fake engine run with `options` (see fake_gtp.py), with test-sized timeouts."""
    table = {"name": name, "command": [sys.executable, str(FAKE_GTP), *options],
             "command_timeout": 5.0, "move_timeout": 0.5, "startup_timeout": 10.0, **settings}
    return engine_spec(**table)
