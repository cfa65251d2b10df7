"""Every face of a leaderboard says which players the games cannot rate (arena.ratings.estimability):
the JSON, the CLI table, gRPC's PlayerStanding, the Elo-vs-step points, and no model difference or
likelihood of superiority between players that no chain of games links. Pure: no database."""

from __future__ import annotations

import hashlib
import io

from rich.console import Console

from arena.cli.results import print_leaderboard
from arena.client.results import Leaderboard as ClientLeaderboard
from arena.db.rating_inputs import RatedGameSet
from arena.grpc.server import _standings
from arena.leaderboards import RatingPolicy, build_leaderboard, elo_vs_step
from arena.leaderboards.board import _reference_scale
from arena.leaderboards.shared import ratings_from_json, ratings_to_json
from arena.grpc.generated import arena_pb2
from arena.ratings import GameResult, aggregate, compute_ratings, head_to_head
from arena.ratings.estimability import FLAG_TEXT, INCOMPARABLE, flag_legend, flagged_interval
from arena.ratings.reference import Ladder, Rung

# "champ" wins all 8 of its games; a, b, c beat each other; x and y play only each other.
GAMES = ([GameResult("champ", o, "champ") for o in "abc" for _ in range(2)] + [GameResult("a", "champ", "champ")] * 2
         + [GameResult("a", "b", "a"), GameResult("b", "a", "b"), GameResult("b", "c", "b"), GameResult("c", "b", "c"),
            GameResult("a", "c", "a"), GameResult("c", "a", "c")]
         + [GameResult("x", "y", "x"), GameResult("y", "x", "y")])


def _board():
    counts = aggregate(GAMES)
    game_set = RatedGameSet(counts=counts, games=len(GAMES), sha256=hashlib.sha256(b"faces").hexdigest())
    return build_leaderboard(game_set, condition="9x9 chinese komi 7.5")


def test_components_and_flags_of_the_fit() -> None:
    ratings = compute_ratings(GAMES)
    assert ratings.flags == {"a": None, "b": None, "c": None, "champ": "unbeaten", "x": "disconnected",
                             "y": "disconnected"}
    assert ratings.components == {"a": 0, "b": 0, "c": 0, "champ": 0, "x": 1, "y": 1}
    assert ratings.comparable("champ", "a") and ratings.comparable("x", "y") and not ratings.comparable("a", "x")
    back = ratings_from_json(ratings_to_json(ratings))  # the fit shared between processes keeps them
    assert back.components == ratings.components


def test_no_difference_or_superiority_across_components() -> None:
    ratings = compute_ratings(GAMES)
    h2h = head_to_head(GAMES, ratings)
    across = h2h.record("a", "x")
    assert (across.model_elo_diff, across.model_elo_stderr, across.likelihood_of_superiority) == (None, None, None)
    assert across.model_note == INCOMPARABLE
    within = h2h.record("x", "y")  # a disconnected pair that met: the games compare them
    assert within.likelihood_of_superiority is not None and within.model_note is None
    assert h2h.record("champ", "a").likelihood_of_superiority > 0.5


def test_json_and_grpc_carry_the_flag_and_its_legend() -> None:
    board = _board()
    data = board.as_dict()
    flags = {p["name"]: p["flag"] for p in data["players"]}
    assert flags["champ"] == "unbeaten" and flags["a"] is None and flags["x"] == "disconnected"
    assert data["flag_legend"] == {"unbeaten": FLAG_TEXT["unbeaten"], "disconnected": FLAG_TEXT["disconnected"]}
    assert all(h["model_note"] is None for h in data["head_to_head"])  # pairs that met are always linked
    players = {p.name: p for p in _standings(board)}
    assert players["champ"].HasField("flag") and players["champ"].flag == "unbeaten"
    assert not players["a"].HasField("flag")
    # Old clients skip field 13; new clients read it back (and the legend) through arena.client.
    message = arena_pb2.Leaderboard(players=list(players.values()), flag_legend=data["flag_legend"])
    client = ClientLeaderboard.from_proto(arena_pb2.Leaderboard.FromString(message.SerializeToString()))
    assert client.standing("champ").flag == "unbeaten" and client.standing("a").flag is None
    assert client.flag_legend == data["flag_legend"]


def test_cli_table_marks_the_unbeaten_player_with_a_one_sided_interval() -> None:
    board = _board()
    champ = next(s for s in board.standings if s.name == "champ")
    assert (champ.wins, champ.losses) == (8, 0)
    out = io.StringIO()
    print_leaderboard(Console(file=out, width=200), board)
    text = out.getvalue()
    row = next(line for line in text.splitlines() if " champ " in line)
    assert "unbeaten" in row and f"> {champ.lo:+.0f}" in row and "[" not in row and "±" not in row
    assert f"unbeaten: {FLAG_TEXT['unbeaten']}" in text and f"disconnected: {FLAG_TEXT['disconnected']}" in text
    assert "winless:" not in text


def test_flagged_interval_text() -> None:
    assert flagged_interval("unbeaten", 12.4, 900) == "> +12"
    assert flagged_interval("winless", -900, -30.2) == "< -30"
    assert flagged_interval(None, -5, 7) == flagged_interval("disconnected", -5, 7) == "[-5, +7]"
    assert flagged_interval("unbeaten", 1000, 1000) == "[+1000, +1000]"  # the anchor: fixed, not bounded
    assert flag_legend([None, "winless", "unbeaten", "winless"]) == {"unbeaten": FLAG_TEXT["unbeaten"],
                                                                     "winless": FLAG_TEXT["winless"]}


class _Rows:
    """The one query elo_vs_step makes, answered: (player, checkpoint id, checkpoint, training step)."""

    def execute(self, statement):
        return [("champ", 1, "ck-champ", 200), ("a", 2, "ck-a", 100)]


def test_step_points_carry_the_flag() -> None:
    points = elo_vs_step(_Rows(), _board(), "run")
    assert [(p.player, p.flag) for p in points] == [("a", None), ("champ", "unbeaten")]


def test_a_flagged_reference_point_places_nobody_on_the_relative_scale() -> None:
    """A reference rung that lost every game sits where the prior puts it: Elo relative to it
    would be the prior's too (a true gap of 900 Elo read 412, its 95% intervals covering 20%)."""
    ratings = compute_ratings(GAMES + [GameResult("a", "floor", "a"), GameResult("floor", "a", "a")])
    assert ratings.flags["floor"] == "winless" and ratings.flags["a"] is None
    ladder = Ladder(name="gnugo", parameter="level", rungs=(Rung("floor", 1.0), Rung("a", 5.0)),
                    reference_point="floor")
    assert _reference_scale(ratings, ladder)["relative"] == {}
    rated_point = Ladder(name="gnugo", parameter="level", rungs=ladder.rungs, reference_point="a")
    assert set(_reference_scale(ratings, rated_point)["relative"]) == {"a", "b", "c", "champ", "floor"}


def test_the_cli_warns_when_the_anchor_is_flagged() -> None:
    counts = aggregate(GAMES)
    game_set = RatedGameSet(counts=counts, games=len(GAMES), sha256=hashlib.sha256(b"anchor").hexdigest())
    board = build_leaderboard(game_set, condition="9x9 chinese komi 7.5", policy=RatingPolicy(anchor="champ"))
    out = io.StringIO()
    print_leaderboard(Console(file=out, width=200), board)
    assert "warning: the anchor champ is unbeaten" in out.getvalue()
