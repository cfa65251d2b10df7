"""Settling games ended by passes: GNU Go removes dead stones, KataGo gives its final score;
otherwise strict Tromp-Taylor. Strict Tromp-Taylor's score is kept beside, and a different winner flagged."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from search_workers.engines import GtpPlayer
from search_workers.engines.config import EngineConfigError, EngineSpec
from search_workers.engines.referee import RefereeError, Settlement, parse_final_score, remove_stones, settle
from search_workers.go import Color, GameState, Rules, coords
from tests.support.engines import require_gnugo
from tests.support.fake_engines import FAKE_GTP, engine_spec, fake_spec

RULES = Rules.preset("chinese", komi=7.5)
# Black owns columns A-D, White E-J; a white stone at C7 and a black one at H5 are hopeless.
POSITION = """
    . . . X O . . . .
    . . . X O . . . .
    . . O X O . . . .
    . . . X O . . . .
    . . . X O . . X .
    . . . X O . . . .
    . . . X O . . . .
    . . . X O . . . .
    . . . X O . . . .
"""


def finished(picture: str = POSITION) -> GameState:
    return GameState.from_ascii(picture, rules=RULES).pass_turn().pass_turn()


def points(*vertices: str) -> list[int]:
    return sorted(coords.from_gtp(v, 9) for v in vertices)


@pytest.fixture(scope="module")
def gnugo() -> GtpPlayer:
    with GtpPlayer(engine_spec(name="gnugo", preset="gnugo", binary=require_gnugo(), level=1)) as player:
        yield player


def test_without_a_referee_every_stone_counts() -> None:
    state = finished()
    settlement = settle(state)
    # Neither dead stone's surroundings are anyone's area: 10 black points, 10 white.
    assert (settlement.result, settlement.score, settlement.method, settlement.dead) == \
        ("W+7.5", -7.5, "tromp-taylor", [])
    assert settlement.result == state.result
    # The strict score is the settled one; with no second opinion there is nothing to disagree on.
    assert settlement.score_tromp_taylor == -7.5 and not settlement.refereed and settlement.disagrees is None


def test_gnugo_removes_the_dead_stones(gnugo: GtpPlayer) -> None:
    settlement = settle(finished(), gnugo)
    assert settlement.dead == points("C7", "H5")
    assert settlement.score == 36 - 45 - 7.5 and settlement.result == "W+16.5"
    assert settlement.method == f"referee:gnugo {gnugo.version}" and gnugo.version
    # Both name White: a larger margin is no disagreement.
    assert settlement.score_tromp_taylor == -7.5 and settlement.disagrees is False


def test_a_dead_list_with_an_empty_point_falls_back_to_tromp_taylor() -> None:
    with GtpPlayer(fake_spec("--dead", "C7,A1", name="liar")) as liar:
        settlement = settle(finished(), liar)
    assert settlement.result == "W+7.5" and settlement.dead == []
    assert settlement.method.startswith("tromp-taylor (referee liar not used: A1 is listed dead but holds no stone")
    assert settlement.score_tromp_taylor == -7.5 and settlement.disagrees is None


def test_a_failing_referee_falls_back_to_tromp_taylor() -> None:
    with GtpPlayer(engine_spec(name="gone", command=["/nonexistent/referee"], max_failures=1)) as gone:
        settlement = settle(finished(), gone)
    assert settlement.result == "W+7.5"
    assert settlement.method.startswith("tromp-taylor (referee gone not used: engine 'gone' failed")


def test_only_games_ended_by_passes_are_settled() -> None:
    with pytest.raises(ValueError, match="ended by two passes"):
        settle(GameState.from_ascii(POSITION, rules=RULES).pass_turn())
    with pytest.raises(ValueError, match="ended by two passes"):
        settle(GameState.new(9, RULES).resign())


def test_remove_stones_keeps_the_rest() -> None:
    cleaned = remove_stones(finished(), points("C7"))
    assert cleaned.color_at("C7") is None and cleaned.color_at("H5") is Color.BLACK
    assert cleaned.color_at("D9") is Color.BLACK and cleaned.color_at("E9") is Color.WHITE


# Black's wall on column E gives it 45 points against White's 36: Black wins by 1.5 once the
# hopeless white stone at C7 and black one at H5 are removed. Strict Tromp-Taylor leaves both,
# so neither side's area counts (10 points each) and White wins by komi: the two disagree.
FLIPPED = """
    . . . . X O . . .
    . . . . X O . . .
    . . O . X O . . .
    . . . . X O . . .
    . . . . X O . X .
    . . . . X O . . .
    . . . . X O . . .
    . . . . X O . . .
    . . . . X O . . .
"""


def test_dead_stone_removal_that_changes_the_winner_is_flagged(gnugo: GtpPlayer) -> None:
    settlement = settle(finished(FLIPPED), gnugo)
    assert settlement.dead == points("C7", "H5")
    assert (settlement.result, settlement.score, settlement.score_tromp_taylor) == ("B+1.5", 1.5, -7.5)
    assert settlement.refereed and settlement.disagrees is True


@pytest.mark.parametrize(("score", "strict", "disagrees"), [
    (0.0, -7.5, True),  # a jigo against a win is a disagreement
    (0.0, 0.0, False), (3.5, 0.5, False), (-0.5, 2.5, True)])
def test_disagreement_is_about_the_winner(score: float, strict: float, disagrees: bool) -> None:
    settlement = Settlement(result="-", score=score, method="referee:x", score_tromp_taylor=strict, refereed=True)
    assert settlement.disagrees is disagrees


# ---------------------------------------------------------------- KataGo preset: its own final score


def katago_spec(tmp_path: Path, reply: str | None, *, referee_score: str = "final_score") -> EngineSpec:
    """The real KataGo preset whose binary is a wrapper running the fake engine, answering `reply`."""
    script = tmp_path / f"katago-{abs(hash((reply, referee_score)))}"
    options = ["--kata", "--name", "KataGo", "--version", "1.15.3"]
    options += ["--final-score", reply] if reply is not None else []
    script.write_text(f"#!/bin/sh\nexec {shlex.join([sys.executable, str(FAKE_GTP), *options])} \"$@\"\n")
    script.chmod(0o755)
    return engine_spec(name="kata", preset="katago", binary=str(script), model="/models/b6c96.bin.gz",
                       config="/models/gtp.cfg", referee_score=referee_score, command_timeout=5.0,
                       move_timeout=5.0, startup_timeout=10.0)


@pytest.mark.parametrize("command", ["final_score", "kata-raw-final-score"])
def test_katago_preset_settles_by_its_final_score(tmp_path: Path, command: str) -> None:
    with GtpPlayer(katago_spec(tmp_path, "B+1.5", referee_score=command)) as kata:
        settlement = settle(finished(FLIPPED), kata)
    assert (settlement.result, settlement.score, settlement.dead) == ("B+1.5", 1.5, [])
    assert settlement.method == f"referee:kata 1.15.3 ({command})"
    assert settlement.score_tromp_taylor == -7.5 and settlement.disagrees is True


def test_katago_preset_jigo(tmp_path: Path) -> None:
    with GtpPlayer(katago_spec(tmp_path, "0")) as kata:
        settlement = settle(finished(), kata)
    assert (settlement.result, settlement.score, settlement.disagrees) == ("0", 0.0, True)


@pytest.mark.parametrize("reply", ["B+banana", "W+0"])
def test_a_malformed_final_score_falls_back_to_tromp_taylor(tmp_path: Path, reply: str) -> None:
    with GtpPlayer(katago_spec(tmp_path, reply)) as kata:
        settlement = settle(finished(), kata)
    assert (settlement.result, settlement.score, settlement.refereed, settlement.disagrees) == \
        ("W+7.5", -7.5, False, None)
    assert settlement.method.startswith(f"tromp-taylor (referee kata not used: final_score answered {reply!r}")


def test_an_engine_without_the_command_falls_back_to_tromp_taylor(tmp_path: Path) -> None:
    with GtpPlayer(katago_spec(tmp_path, None)) as kata:
        settlement = settle(finished(), kata)
    assert settlement.result == "W+7.5"
    assert settlement.method.startswith("tromp-taylor (referee kata not used: engine 'kata'")
    assert "refused 'final_score': unknown command" in settlement.method


@pytest.mark.parametrize(("reply", "score"), [("B+3.5", 3.5), ("W+0.5", -0.5), ("0", 0.0), (" W+12 ", -12.0)])
def test_final_score_replies_parse(reply: str, score: float) -> None:
    assert parse_final_score(reply, finished()) == score


@pytest.mark.parametrize("reply", ["", "B+", "B+R", "b+3.5", "B+3.5 (estimate)", "W+0", "B+0.0", "B+0.25",
                                   "B+90", "W+-3", "+3.5", "0.0", "Jigo", "B+nan", "B+inf"])
def test_final_score_replies_are_parsed_strictly(reply: str) -> None:
    with pytest.raises(RefereeError, match="final_score answered"):
        parse_final_score(reply, finished())


def test_katago_referee_choice_is_validated() -> None:
    base = {"name": "kata", "preset": "katago", "model": "m.bin.gz", "config": "c.cfg"}
    assert engine_spec(**base).referee_score_command() == "final_score"
    assert engine_spec(**base, referee_score="dead-stones").referee_score_command() is None
    assert engine_spec(name="g", preset="gnugo").referee_score_command() is None
    with pytest.raises(EngineConfigError, match="referee_score"):
        engine_spec(**base, referee_score="final_status_list")
