"""CLI tables never cut a name: printed to a pipe (80 columns) or a narrow terminal, each appears whole."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from rich.console import Console

from arena.cli.results import print_leaderboard
from arena.leaderboards import leaderboard
from arena.db import repository as repo
from arena.db.connection import session_scope
from search_workers.go import Color, GameRecord, Rules, write_sgf
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.arena_cli import arena_settings, invoke_arena

# Longer than 80 columns, and the same for their first 90 characters: cut, they print alike.
CHECKPOINT = "demo-9x9-s002000-" + "a-checkpoint-name-longer-than-any-terminal-" * 2
PLAYERS = [f"{CHECKPOINT}@{visits}v" for visits in (16, 64, 256)]
GAMES = [(PLAYERS[0], PLAYERS[1], "W+R"), (PLAYERS[1], PLAYERS[0], "B+3.5"), (PLAYERS[1], PLAYERS[2], "W+R"),
         (PLAYERS[2], PLAYERS[1], "W+1.5"), (PLAYERS[0], PLAYERS[2], "B+R"), (PLAYERS[2], PLAYERS[0], "B+R")]


@pytest.fixture(scope="module")
def stored(engine) -> None:  # noqa: F811
    with session_scope(engine) as s:
        checkpoint = repo.get_or_create_checkpoint(s, sha256=hashlib.sha256(b"long").hexdigest(), name=CHECKPOINT,
                                              run_name="run", training_step=2000)
        ids = {name: repo.get_or_create_player(s, name=name, checkpoint_id=checkpoint.id,
                                               search_settings={"visits": int(name.rsplit("@")[1][:-1])}).id
               for name in PLAYERS}
        t = repo.create_tournament(s, name="long-names", format="round-robin")
        specs = [repo.GameSpec(pairing=f"pair {i}", game_index=i, black_player_id=ids[b], white_player_id=ids[w],
                               seed=i) for i, (b, w, _) in enumerate(GAMES)]
        for game_id, (b, w, result) in zip(repo.schedule_games(s, tournament_id=t.id, games=specs), GAMES):
            sgf = write_sgf(GameRecord(board_size=9, rules=Rules(komi=7.5), black=b, white=w, result=result,
                                       moves=((Color.BLACK, 40),)))
            repo.record_finished_game(s, scheduled_game_id=game_id, result=result, score=None, move_count=1,
                                      duration_s=1.0, sgf=sgf)


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored):  # noqa: F811
    with arena_settings(monkeypatch, database_url=db_url, data_dir=tmp_path / "data"):
        monkeypatch.setenv("COLUMNS", "80")  # what rich assumes of a pipe
        yield invoke_arena


@pytest.mark.parametrize("command", [["leaderboard"], ["games"], ["checkpoint", "list"]])
def test_tables_printed_to_a_pipe_show_every_name_whole(cli, command) -> None:
    result = cli(*command)
    assert result.exit_code == 0, result.output
    names = [CHECKPOINT] if command[0] == "checkpoint" else PLAYERS
    for name in names:
        assert name in result.stdout, result.stdout
    assert "…" not in result.stdout


def test_a_narrow_terminal_folds_names_rather_than_cutting_them(engine) -> None:  # noqa: F811
    with session_scope(engine) as s:
        board = leaderboard(s)
    out = io.StringIO()
    print_leaderboard(Console(file=out, width=60, force_terminal=True, color_system=None), board)
    assert "…" not in out.getvalue()
    # Each name is there, folded over lines of its column: the column's cells, joined, hold it whole.
    cells = "".join(line.split("│")[2].strip() for line in out.getvalue().splitlines() if line.count("│") > 3)
    for name in PLAYERS:
        assert name in cells
