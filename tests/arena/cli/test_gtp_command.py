"""`arena gtp` as a real process: a short game against GNU Go, and how checkpoints are named."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from arena.cli.gtp import CheckpointNotFoundError, resolve_checkpoint
from models.demo import demo_manifests
from tests.support.engines import require_gnugo
from tests.support.gtp import GtpClient

ARENA = Path(sys.executable).with_name("arena")
MOVES = 20
STARTUP_SECONDS = 120  # loading torch and the checkpoint on a busy two-core machine


def test_a_game_against_gnugo_where_each_side_accepts_every_move_of_the_other() -> None:
    gnugo = require_gnugo()
    ours_argv = [str(ARENA), "gtp", "--checkpoint", demo_manifests()[0].stem, "--visits", "8", "--threads", "1"]
    with GtpClient(ours_argv, timeout=30) as ours, GtpClient([gnugo, "--mode", "gtp", "--level", "0"]) as theirs:
        # Anything but GTP on our stdout (a log line, a torch warning) would break the framing here.
        assert ours.command("protocol_version", timeout=STARTUP_SECONDS) == "2"
        assert ours.command("name") == "Go Arena"
        for engine in (ours, theirs):
            engine.command("boardsize 9")
            engine.command("clear_board")
            engine.command("komi 7.5")
        players = {"b": (ours, theirs), "w": (theirs, ours)}
        passes = played = 0
        for turn in range(MOVES):
            color = "bw"[turn % 2]
            mover, other = players[color]
            move = mover.command(f"genmove {color}")
            if move.lower() == "resign":
                break
            other.command(f"play {color} {move}")  # GtpFailure if the other side refuses it
            played += 1
            passes = passes + 1 if move.lower() == "pass" else 0
            if passes == 2:
                break
        assert played >= 6, "a game of a few moves at least (nobody resigns in the opening)"
        assert board_rows(ours.command("showboard")) == board_rows(theirs.command("showboard"))
        assert ours.command("final_score")[0] in "BW0"


def board_rows(showboard: str) -> dict[int, str]:
    """{row number: stones} from a showboard answer, GNU Go's star points ('+') read as empty."""
    rows = {}
    for line in showboard.splitlines():
        match = re.match(r"\s*([0-9]+) ((?:[.+XO] )*[.+XO])", line)
        if match:
            rows[int(match[1])] = match[2].replace("+", ".").replace(" ", "")
    assert len(rows) == 9, showboard
    return rows


def test_stdout_carries_gtp_and_nothing_else() -> None:
    """Every warning shown (PYTHONWARNINGS=always), logs on: stdout is still exactly the answers."""
    env = {**os.environ, "PYTHONWARNINGS": "always"}
    result = subprocess.run([str(ARENA), "gtp", "--checkpoint", "demo", "--visits", "2", "--threads", "1"],
                            input="1 name\n2 genmove b\n3 quit\n", capture_output=True, text=True,
                            timeout=STARTUP_SECONDS, env=env)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"=1 Go Arena\n\n=2 [A-HJ][1-9]\n\n=3\n\n", result.stdout), result.stdout
    assert "demo-9x9" in result.stderr  # the startup log line went to stderr


def test_an_unknown_checkpoint_is_refused_on_stderr_listing_what_was_tried() -> None:
    result = subprocess.run([str(ARENA), "gtp", "--checkpoint", "no-such-net"], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "no-such-net" in result.stderr and demo_manifests()[-1].stem in result.stderr


def test_resolve_checkpoint_by_path_directory_demo_name_and_alias(tmp_path: Path) -> None:
    manifests = demo_manifests()
    assert resolve_checkpoint(str(manifests[0])) == manifests[0]
    assert resolve_checkpoint(str(manifests[0].parent)) == manifests[-1]  # a directory: its newest
    assert resolve_checkpoint(manifests[1].stem) == manifests[1]
    assert resolve_checkpoint("demo") == manifests[-1]
    with pytest.raises(CheckpointNotFoundError) as caught:
        resolve_checkpoint(str(tmp_path))
    message = str(caught.value)
    assert f"directory {tmp_path}: holds no checkpoint manifest" in message
    assert "demo checkpoints in" in message and manifests[0].stem in message
