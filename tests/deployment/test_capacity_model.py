"""docs/capacity.md's tables are what scripts/capacity_model.py prints, and its arithmetic holds
on rows checked by hand."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "capacity.md"
SCRIPT = ROOT / "scripts" / "capacity_model.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("capacity_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


capacity = _load_script()


def _printed(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = capacity.main(argv)
    return code, out.getvalue()


def test_doc_tables_match_the_model_output():
    code, printed = _printed([])
    assert code == 0
    assert capacity.embedded_tables(DOC.read_text()) == printed
    assert _printed(["--check", str(DOC)])[0] == 0


def test_check_fails_on_a_stale_doc(tmp_path):
    stale = DOC.read_text().replace("| `block_size` | 32 |", "| `block_size` | 64 |")
    assert stale != DOC.read_text()
    path = tmp_path / "capacity.md"
    path.write_text(stale)
    assert _printed(["--check", str(path)])[0] == 1


def test_hand_checked_v100_row():
    """b20c256 on a V100, 19x19, 400 visits: 257 moves x 400 = 102,800 evals per game;
    5,350 evals/s x 3600 / 102,800 = 187.35 games/h; a request carries 32 games / 2 networks /
    2 pipeline groups = 8 leaves, so a batch of 19.2 needs ceil(19.2 / 8) = 3 workers, and each
    evaluation costs its worker 19.18 us of search + 450 / 8 us of gRPC client: 5,350 x 75.43 us
    = 0.4036 cores."""
    inputs = capacity.DEFAULT_INPUTS
    profile = next(p for p in capacity.profiles(inputs) if p.name == "b20c256, V100")
    row = capacity.profile_row(inputs, profile)
    assert row.evals_per_game == 102_800
    assert row.games_per_hour == pytest.approx(187.35, abs=0.01)
    assert row.search_cores == pytest.approx(0.4036, abs=1e-4)
    assert row.workers == 3
    assert "| b20c256, V100 | 19x19 | 400 | 5,350 | 102,800 | 187 | 0.40 | 3 | cited |" in _printed([])[1]


def test_hand_checked_tier_and_storage():
    """PG bytes of a 19x19 game: 910 + 40.4 x 257 = 11,292.8; the 10x tier's GPUs are its games
    per day over 187.35 games/h x 24 h x 0.7 utilisation."""
    inputs = capacity.DEFAULT_INPUTS
    assert capacity.pg_bytes_per_game(inputs, 19) == pytest.approx(11_292.8)
    tier = capacity.tier(inputs, 10)
    games_day = inputs["today_games_per_day"].value * 10
    assert tier.games_per_day == pytest.approx(games_day)
    assert tier.gpus_19 == pytest.approx(games_day / (5350 * 3600 / 102_800 * 24 * 0.7))
    assert tier.broker_msgs_per_s == pytest.approx(games_day / 86400 / 32)
    assert tier.pg_gb_per_day_19 == pytest.approx(games_day * 11_292.8 / 1e9)


def test_every_input_names_its_source():
    for name, item in capacity.DEFAULT_INPUTS.items():
        assert item.kind in {"measured", "cited", "code", "assumed"}, name
        if item.kind == "cited":
            assert "https://" in item.source, name
        assert math.isfinite(item.value) and item.value > 0, name


def test_overrides_replace_values_and_reject_unknown_names(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"gpu_b20c256_v100_visits": 10_700}))
    inputs = capacity.load_inputs(path)
    profile = next(p for p in capacity.profiles(inputs) if p.name == "b20c256, V100")
    assert capacity.profile_row(inputs, profile).games_per_hour == pytest.approx(2 * 187.35, abs=0.02)
    assert inputs["gpu_b20c256_v100_visits"].source == "override: in.json"
    path.write_text(json.dumps({"no_such_input": 1}))
    with pytest.raises(SystemExit):
        capacity.load_inputs(path)
