"""`arena leaderboard`, `arena games`, `arena sgf` over games stored in a real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.db import repository as repo
from arena.db.rating_inputs import rated_game_set
from arena.db.connection import session_scope
from arena.db.models import Player, RatingSnapshot
from arena.ratings import compute_ratings, head_to_head
from search_workers.go import Color, GameRecord, Rules, write_sgf
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.arena_cli import arena_settings, invoke_arena

LADDER = ["ckA@16v", "ckA@64v", "ckA@256v"]
# (black, white, result) per game of tournament "ladder"; then "other" adds two games with ckB.
LADDER_GAMES = [
    ("ckA@16v", "ckA@64v", "W+R"), ("ckA@64v", "ckA@16v", "B+3.5"), ("ckA@16v", "ckA@64v", "B+R"),
    ("ckA@64v", "ckA@16v", "B+R"), ("ckA@64v", "ckA@256v", "W+2.5"), ("ckA@256v", "ckA@64v", "B+R"),
    ("ckA@64v", "ckA@256v", "B+R"), ("ckA@256v", "ckA@64v", "0"), ("ckA@16v", "ckA@256v", "W+R"),
    ("ckA@256v", "ckA@16v", "B+7.5"),
]
OTHER_GAMES = [("ckB", "ckA@64v", "B+R"), ("ckA@64v", "ckB", "W+1.5")]


def sgf_text(black: str, white: str, result: str) -> str:
    moves = ((Color.BLACK, 40), (Color.WHITE, 30), (Color.BLACK, 81))  # E5, D6 (9x9 flat), pass
    return write_sgf(GameRecord(board_size=9, rules=Rules(komi=7.5), black=black, white=white, result=result,
                                moves=moves))


def score(result: str) -> float | None:
    if result == "0":
        return 0.0
    if result[2:] in ("R", "T", "F"):
        return None
    return float(result[2:]) * (1 if result[0] == "B" else -1)


@pytest.fixture(scope="module")
def stored(engine) -> dict:  # noqa: F811
    """Two tournaments of finished games, one scheduled game left unplayed; ids by name."""
    ids: dict = {"games": {}}
    with session_scope(engine) as s:
        checkpoints = {name: repo.get_or_create_checkpoint(s, sha256=hashlib.sha256(name.encode()).hexdigest(),
                                                           name=name, run_name="run", training_step=i)
                       for i, name in enumerate(("ckA", "ckB"))}
        players = {}
        for name in LADDER + ["ckB"]:
            base, _, visits = name.partition("@")
            players[name] = repo.get_or_create_player(
                s, name=name, checkpoint_id=checkpoints[base].id,
                search_settings={"visits": int(visits.rstrip("v") or 64)}).id
        for tournament, games in (("ladder", LADDER_GAMES), ("other", OTHER_GAMES)):
            t = repo.create_tournament(s, name=tournament, format="round-robin")
            ids[tournament] = t.id
            specs = [repo.GameSpec(pairing=f"{b} vs {w}", game_index=i, black_player_id=players[b],
                                   white_player_id=players[w], seed=i) for i, (b, w, _) in enumerate(games)]
            scheduled = repo.schedule_games(s, tournament_id=t.id, games=specs)
            for game_id, (b, w, result) in zip(scheduled, games):
                repo.record_finished_game(s, scheduled_game_id=game_id, result=result, score=score(result),
                                          move_count=3, duration_s=1.5, sgf=sgf_text(b, w, result))
                ids["games"][game_id] = (tournament, b, w, result)
        (unplayed,) = repo.schedule_games(s, tournament_id=ids["other"], games=[repo.GameSpec(
            pairing="ckB vs ckA@16v", game_index=99, black_player_id=players["ckB"],
            white_player_id=players["ckA@16v"], seed=7)])
        ids["unplayed"] = unplayed
        ids["empty"] = repo.create_tournament(s, name="empty", format="gauntlet").id
    return ids


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: dict):  # noqa: F811
    with arena_settings(monkeypatch, database_url=db_url, data_dir=tmp_path / "data"):
        yield invoke_arena


def table_rows(text: str) -> list[list[str]]:
    """The data rows of a rich table: cells of each line whose first cell is a number."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)[1:-1]]
        if cells and cells[0].isdigit():
            rows.append(cells)
    return rows


def fitted(engine, tournament_id=None, **kwargs):  # noqa: F811
    with session_scope(engine) as s:
        games = rated_game_set(s, tournament_id)
    return games, compute_ratings(games.counts, **kwargs)


def test_leaderboard_json_matches_compute_ratings_head_to_head_and_the_visits_curve(
        cli, engine, stored) -> None:  # noqa: F811
    result = cli("leaderboard", "--tournament", "ladder", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    games, ratings = fitted(engine, stored["ladder"])
    assert out["tournament_id"] == stored["ladder"] and out["snapshot_id"] is None
    assert out["game_set"] == {"sha256": games.sha256, "games": len(LADDER_GAMES)}
    assert [p["name"] for p in out["players"]] == sorted(ratings.players, key=lambda n: -ratings.elo[n])
    for p in out["players"]:
        assert p["elo"] == pytest.approx(ratings.elo[p["name"]], abs=1e-9)
        assert p["ci95"] == pytest.approx(list(ratings.ci95(p["name"])), abs=1e-9)
    by_name = {p["name"]: p for p in out["players"]}
    # ckA@64v: won B+3.5, B+R, B+R as black and W+R as white; lost three; drew one.
    assert (by_name["ckA@64v"]["wins"], by_name["ckA@64v"]["losses"], by_name["ckA@64v"]["draws"]) == (4, 3, 1)
    assert by_name["ckA@64v"]["games"] == 8 and by_name["ckA@64v"]["score"] == pytest.approx(4.5 / 8)
    assert out["colour_advantage"]["elo"] == pytest.approx(ratings.colour_advantage_elo, abs=1e-9)

    h2h = head_to_head(games.counts, ratings)
    assert len(out["head_to_head"]) == 3  # every pair of rungs met
    for row in out["head_to_head"]:
        record = h2h.record(row["a"], row["b"])
        assert (row["wins"], row["losses"], row["draws"]) == (record.wins, record.losses, record.draws)
        assert row["elo_diff"] == pytest.approx(record.elo_diff) and row["ci95"] == pytest.approx(
            [record.elo_lo, record.elo_hi])
        assert ratings.elo[row["a"]] >= ratings.elo[row["b"]]  # the better-rated first
    record = next(r for r in out["head_to_head"] if {r["a"], r["b"]} == {"ckA@16v", "ckA@64v"})
    assert record["wins"] + record["losses"] + record["draws"] == 4

    curve = out["visits_curves"]["ckA"]
    assert [(p["visits"], p["player"]) for p in curve] == [(16, "ckA@16v"), (64, "ckA@64v"), (256, "ckA@256v")]
    for point in curve:
        assert point["elo"] == pytest.approx(ratings.elo[point["player"]], abs=1e-9)


def test_leaderboard_of_all_games_with_an_anchor_and_the_tables(cli, engine) -> None:  # noqa: F811
    result = cli("leaderboard", "--anchor", "ckB", "--anchor-elo", "1000", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    games, ratings = fitted(engine, anchor="ckB", anchor_elo=1000.0)
    assert out["game_set"]["games"] == len(LADDER_GAMES) + len(OTHER_GAMES)
    assert {p["name"]: p["elo"] for p in out["players"]} == pytest.approx(ratings.elo)
    assert next(p for p in out["players"] if p["name"] == "ckB")["elo"] == pytest.approx(1000.0)
    assert "ckB" not in out["visits_curves"]  # not a ladder name

    table = cli("leaderboard", "--anchor", "ckB", "--anchor-elo", "1000")
    assert table.exit_code == 0, table.output
    text = table.stdout
    assert "ckB = 1000" in text and "Head to head" in text and "Elo vs visits: ckA" in text
    best = max(ratings.elo, key=ratings.elo.get)
    lo, hi = ratings.ci95(best)
    assert f"{ratings.elo[best]:+.0f}" in text and f"[{lo:+.0f}, {hi:+.0f}]" in text
    # ckB won both its games: flagged; as the anchor its interval stays [1000, 1000]. Unanchored, it is one-sided
    # (the prior's upper end is not shown), and a legend line says why.
    assert ratings.flags["ckB"] == "unbeaten" and "unbeaten: never dropped a point" in text
    pooled = cli("leaderboard").stdout
    low = fitted(engine)[1].ci95("ckB")[0]
    row = next(line for line in pooled.splitlines() if " ckB " in line)
    assert "unbeaten" in row and f"> {low:+.0f}" in row and "[" not in row

    unknown = cli("leaderboard", "--anchor", "nobody")
    assert unknown.exit_code == 2 and "unknown anchor player 'nobody'" in unknown.output


def test_leaderboard_bootstrap_and_save_store_a_snapshot_of_the_game_set(cli, engine, stored) -> None:  # noqa: F811
    with session_scope(engine) as s:
        before = s.scalar(select(func.count()).select_from(RatingSnapshot))
    plain = json.loads(cli("leaderboard", "--tournament", str(stored["ladder"]), "--json").stdout)
    assert plain["snapshot_id"] is None
    result = cli("leaderboard", "--tournament", str(stored["ladder"]), "--bootstrap", "20", "--json", "--save")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert all(p["bootstrap_ci95"] is not None for p in out["players"])
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(RatingSnapshot)) == before + 1
        snapshot = s.get(RatingSnapshot, out["snapshot_id"])
        assert snapshot.game_set_hash == out["game_set"]["sha256"] and snapshot.game_count == len(LADDER_GAMES)
        assert snapshot.parameters["tournament_id"] == stored["ladder"]
        assert sorted(e.rating for e in snapshot.entries) == pytest.approx(sorted(p["elo"] for p in out["players"]))


def test_leaderboard_of_an_unknown_tournament_is_refused_and_of_an_empty_one_is_empty(cli) -> None:
    result = cli("leaderboard", "--tournament", "ladderr")
    assert result.exit_code == 2 and "did you mean ladder" in result.output
    empty = json.loads(cli("leaderboard", "--tournament", "empty", "--json", "--save").stdout)
    assert (empty["players"], empty["head_to_head"], empty["snapshot_id"]) == ([], [], None)
    assert empty["game_set"]["games"] == 0
    assert "no finished games to rate in tournament empty" in cli("leaderboard", "--tournament", "empty").stdout


def test_games_lists_newest_first_and_filters_by_player_and_tournament(cli, stored) -> None:
    result = cli("games", "--limit", "100")
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    assert [int(row[0]) for row in rows] == sorted(stored["games"], reverse=True)
    tournament, black, white, outcome = stored["games"][int(rows[0][0])]
    assert rows[0][1:7] == [tournament, black, white, outcome, "3", "1.5 s"]

    mine = table_rows(cli("games", "--player", "ckB", "--limit", "100").stdout)
    assert sorted(int(row[0]) for row in mine) == sorted(i for i, g in stored["games"].items() if "ckB" in g)
    assert len(mine) == len(OTHER_GAMES)

    ladder = table_rows(cli("games", "--tournament", str(stored["ladder"]), "--player", "ckA@256v",
                            "--limit", "2").stdout)
    expected = [i for i, (t, b, w, _) in sorted(stored["games"].items(), reverse=True)
                if t == "ladder" and "ckA@256v" in (b, w)][:2]
    assert [int(row[0]) for row in ladder] == expected
    by_name = table_rows(cli("games", "--tournament", "other").stdout)
    assert {row[1] for row in by_name} == {"other"} and len(by_name) == len(OTHER_GAMES)
    assert "no finished games of nobody" in cli("games", "--player", "nobody").stdout


def test_sgf_prints_or_writes_the_stored_game_and_refuses_unknown_ids(cli, stored, tmp_path: Path) -> None:
    game_id, (_, black, white, result) = next(iter(stored["games"].items()))
    printed = cli("sgf", str(game_id))
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == sgf_text(black, white, result)
    target = tmp_path / "game.sgf"
    written = cli("sgf", str(game_id), "--output", str(target))
    assert written.exit_code == 0 and target.read_text() == sgf_text(black, white, result)

    unknown = cli("sgf", "999999")
    assert unknown.exit_code == 1 and "game 999999 does not exist" in unknown.output
    unplayed = cli("sgf", str(stored["unplayed"]))
    assert unplayed.exit_code == 1 and "scheduled but not finished yet" in unplayed.output


def test_leaderboard_is_one_condition_and_condition_picks_another(cli, engine, stored) -> None:  # noqa: F811
    """A 19x19 tournament of the same players is its own pool: the default stays the most played
    (9x9, every game above), `--condition` picks the other, and the counts never mix."""
    big = "19x19 tromp-taylor komi 7.5"
    with session_scope(engine) as s:
        players = {p.name: p.id for p in s.scalars(select(Player))}
        t = repo.create_tournament(s, name="big", format="round-robin", configuration={"board_size": 19})
        specs = [repo.GameSpec(pairing="ckB vs ckA@64v", game_index=i, black_player_id=players[b],
                               white_player_id=players[w], seed=i) for i, (b, w) in enumerate(
                                   [("ckB", "ckA@64v"), ("ckA@64v", "ckB")])]
        for game_id in repo.schedule_games(s, tournament_id=t.id, games=specs):
            repo.record_finished_game(s, scheduled_game_id=game_id, result="B+R", move_count=3, duration_s=1.0,
                                      sgf=sgf_text("ckB", "ckA@64v", "B+R"))
    default = json.loads(cli("leaderboard", "--json").stdout)
    nine = "9x9 tromp-taylor komi 7.5"
    assert default["condition"] == nine and default["game_set"]["games"] == len(LADDER_GAMES) + len(OTHER_GAMES)
    assert default["conditions"] == [{"condition": nine, "games": len(LADDER_GAMES) + len(OTHER_GAMES)},
                                     {"condition": big, "games": 2}]
    other = json.loads(cli("leaderboard", "--condition", big, "--json").stdout)
    assert other["condition"] == big and other["game_set"]["games"] == 2
    assert {p["name"]: p["games"] for p in other["players"]} == {"ckB": 2, "ckA@64v": 2}
    table = cli("leaderboard").stdout
    assert f"under {nine}" in table and f"{big} (2 games)" in table
    unknown = cli("leaderboard", "--condition", "13x13 tromp-taylor komi 7.5")
    assert unknown.exit_code == 2 and "13x13 tromp-taylor komi 7.5" in unknown.output
    assert cli("leaderboard", "--condition", "big").exit_code == 2
