"""The engines file: presets build the right command lines, and every mistake is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_workers.engines.config import (EngineConfigError, GnuGoEngine, KataGoEngine,
                                           LeelaZeroEngine, UnsupportedGame, find_binary, katago_rules,
                                           load_engine_config, parse_engine_config)
from search_workers.go import KoRule, Rules
from tests.support.engines import require_gnugo
from tests.support.fake_engines import engine_spec

ROOT = Path(__file__).resolve().parents[3]
TROMP_TAYLOR = Rules.preset("tromp-taylor")
CHINESE = Rules.preset("chinese")
JAPANESE_LIKE = Rules(ko=KoRule.SIMPLE, suicide_allowed=False)


def test_the_example_file_defines_all_three_presets() -> None:
    specs = load_engine_config(ROOT / "engines.example.toml")
    assert {name: type(spec) for name, spec in specs.items()} == {
        "gnugo-l10": GnuGoEngine, "katago-b18-400v": KataGoEngine, "leelaz-800v": LeelaZeroEngine}


@pytest.mark.parametrize("rules, tail", [
    (TROMP_TAYLOR, ["--positional-superko", "--allow-suicide"]),
    (CHINESE, ["--situational-superko", "--forbid-suicide"]),
    (JAPANESE_LIKE, ["--simple-ko", "--forbid-suicide"]),
])
def test_gnugo_argv_follows_the_game_rules(rules: Rules, tail: list[str]) -> None:
    spec = engine_spec(name="gnugo", preset="gnugo", binary="/opt/gnugo", level=7)
    assert spec.argv(rules) == ["/opt/gnugo", "--mode", "gtp", "--level", "7", "--chinese-rules",
                                "--capture-all-dead", *tail]
    assert spec.setup_commands(rules) == []
    lenient = engine_spec(name="gnugo", preset="gnugo", binary="/opt/gnugo", capture_all_dead=False)
    assert "--capture-all-dead" not in lenient.argv(rules)


def test_binaries_are_found_on_path_or_in_debian_games_dir() -> None:
    assert find_binary("gnugo") == require_gnugo()  # /usr/games/gnugo on Debian
    assert find_binary("surely-not-installed-engine") == "surely-not-installed-engine"  # fails at start


def test_katago_argv_and_rules_per_game() -> None:
    spec = engine_spec(name="kata", preset="katago", binary="/opt/katago", model="m.bin.gz", config="gtp.cfg",
                       max_visits=200, search_threads=2, allow_resignation=False, resign_threshold=-0.95,
                       override_config={"nnMaxBatchSize": 8})
    assert spec.argv(TROMP_TAYLOR) == [
        "/opt/katago", "gtp", "-model", "m.bin.gz", "-config", "gtp.cfg", "-override-config",
        "maxVisits=200,numSearchThreads=2,ponderingEnabled=false,allowResignation=false,resignThreshold=-0.95,"
        "nnMaxBatchSize=8"]
    assert spec.setup_commands(TROMP_TAYLOR) == ["kata-set-rules koPOSITIONALscoreAREAtaxNONEsui1"]
    assert spec.setup_commands(CHINESE) == ["kata-set-rules koSITUATIONALscoreAREAtaxNONEsui0"]
    assert katago_rules(JAPANESE_LIKE) == "koSIMPLEscoreAREAtaxNONEsui0"


def test_leela_zero_argv_and_19x19_only() -> None:
    spec = engine_spec(name="lz", preset="leela-zero", binary="/opt/leelaz", weights="best.gz", visits=1600,
                       resign_percent=5)
    assert spec.argv(TROMP_TAYLOR) == ["/opt/leelaz", "--gtp", "--noponder", "-w", "best.gz", "-v", "1600",
                                       "--resignpct", "5"]
    spec.check_board_size(19)
    with pytest.raises(UnsupportedGame, match="plays 19x19 only; asked for 9x9"):
        spec.check_board_size(9)


def test_board_sizes_restrict_an_engine() -> None:
    spec = engine_spec(name="gnugo", preset="gnugo", board_sizes=[19, 9])
    assert spec.playable_sizes == (9, 19)
    with pytest.raises(UnsupportedGame, match="'gnugo' plays 9x9, 19x19 only; asked for 13x13"):
        spec.check_board_size(13)
    with pytest.raises(UnsupportedGame, match="plays 2x2 to 19x19 only; asked for 21x21"):
        engine_spec(name="gnugo", preset="gnugo").check_board_size(21)


KATAGO = {"name": "kata", "preset": "katago", "model": "m", "config": "c"}


@pytest.mark.parametrize("tables, message", [
    ([{**KATAGO, "visits": 400}], "engine 'kata': field 'visits': unknown field"),
    ([{"name": "kata", "preset": "katago", "config": "c"}], "engine 'kata': field 'model': Field required"),
    ([{"name": "x", "preset": "kata"}], "engine 'x': field 'preset': preset must be one of gnugo, katago"),
    ([{"name": "x"}], "engine 'x': give either a `command` or a `preset`"),
    ([{"name": "x", "preset": "gnugo", "command": ["gnugo"]}], "give either a `command` or a `preset`"),
    ([{"name": "x", "command": []}], "engine 'x': field 'command'"),
    ([{"name": "x", "command": ["a\nb"]}], "single lines"),
    ([{"name": "bad name", "preset": "gnugo"}], "engine 'bad name': field 'name'"),
    ([{"preset": "gnugo"}], "engine #1: field 'name': Field required"),
    ([{"name": "g", "preset": "gnugo"}, {"name": "g", "preset": "gnugo"}], "engine 'g' is defined twice"),
    ([{"name": "g", "preset": "gnugo", "move_timeout": 0}], "field 'move_timeout': Input should be greater than 0"),
    ([{"name": "g", "preset": "gnugo", "max_failures": 0}], "field 'max_failures'"),
    ([{"name": "g", "preset": "gnugo", "level": 11}], "field 'level'"),
    ([{"name": "g", "preset": "gnugo", "board_sizes": [30]}], "board size 30 is not between 2 and 25"),
    ([{"name": "lz", "preset": "leela-zero", "weights": "w", "board_sizes": [9, 19]}], "Leela Zero plays 19x19 only"),
    ([{**KATAGO, "override_config": {"maxVisits": 5}}], "maxVisits is set by the preset's own options"),
    ([{**KATAGO, "resign_threshold": -2}], "field 'resign_threshold'"),
])
def test_mistakes_are_named(tables: list[dict], message: str) -> None:
    with pytest.raises(EngineConfigError) as error:
        parse_engine_config({"engine": tables}, source="engines.toml")
    assert str(error.value).startswith("engines.toml: ")
    assert message in str(error.value)


def test_file_level_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "engines.toml"
    path.write_text("[[engines]]\nname = 'g'\n")
    with pytest.raises(EngineConfigError, match="field 'engines': unknown field"):
        load_engine_config(path)
    path.write_text("[[engine]\n")
    with pytest.raises(EngineConfigError, match=str(path)):
        load_engine_config(path)
    with pytest.raises(EngineConfigError, match="No such file"):
        load_engine_config(tmp_path / "missing.toml")
