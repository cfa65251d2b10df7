"""The reference ladder with GNU Go levels as its rungs, on a real PostgreSQL: `arena reference play`
creates the ladder's round robin from the server's configuration (ladder file + engines file)
once per condition and keeps it; one of its games is played for real by GNU Go through the
worker's task, the rest are stored as simulated results of known strengths (many real games
would take minutes); the HTTP leaderboard and checkpoint page then report every player's Elo
relative to the reference point and its equivalent level, per condition."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from arena.api import create_app
from arena.db.connection import session_scope
from arena.grpc.access import allow_all
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.grpc.server import serve
from arena.db.models import FinishedGame, Player, ScheduledGame, Tournament
from arena.db.rating_inputs import rebuild_rating_pairs
from arena.db.repository import get_or_create_checkpoint
from arena.reference_ladder import ReferenceLadderError, configured_ladder, load_reference_ladder, \
    play_reference_ladder
from arena.scheduling import GauntletConfig
from arena.settings import Settings
from arena.tournaments import create_tournament, dispatch
from arena.server_engines import server_engines
from arena.worker import DatabaseSink
from models.demo import demo_manifests
from models.manifest import read_manifest
from search_workers import tasks
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.arena_cli import arena_settings, invoke_arena
from tests.support.engines import require_gnugo

LEVELS = (1, 5, 10)
TRUE_ELO = {"gnugo-l1": 0.0, "gnugo-l5": 300.0, "gnugo-l10": 600.0}  # the simulated results' strengths
CKPT_ELO = 450.0  # halfway between levels 5 and 10 on the curve: level 7.5
ENGINES = "".join(f'[[engine]]\nname = "gnugo-l{lv}"\npreset = "gnugo"\nlevel = {lv}\n\n' for lv in LEVELS)
LADDER = """
name = "gnugo"
parameter = "level"
reference_point = "gnugo-l1"
games_per_pairing = 100
openings = { source = "random", plies = 2, count = 16, seed = 1 }
conditions = [{ board_size = 9, rules = "chinese", komi = 7.5 },
              { board_size = 9, rules = "chinese", komi = 5.5 }]
""" + "".join(f'[[rung]]\nengine = "gnugo-l{lv}"\nvalue = {lv}\n' for lv in LEVELS)
MAIN, OTHER = "9x9 chinese komi 7.5", "9x9 chinese komi 5.5"


@pytest.fixture(scope="module")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:  # noqa: F811
    root = tmp_path_factory.mktemp("reference")
    (root / "engines.toml").write_text(ENGINES)
    (root / "ladder.toml").write_text(LADDER)
    return Settings(database_url=db_url, data_dir=root / "data", checkpoint_dir=root / "checkpoints",
                    engines_file=root / "engines.toml", reference_ladder=root / "ladder.toml")


def _sgf(result: str) -> str:
    return f"(;GM[1]FF[4]SZ[9]KM[7.5]RE[{result}])"


def _simulate(session, tournament_id: int, true: dict[str, float], rng: np.random.Generator) -> int:
    """Store a result drawn from the logistic model for every unfinished game of the tournament."""
    rows = session.execute(
        select(ScheduledGame.id, ScheduledGame.black_player_id, ScheduledGame.white_player_id)
        .outerjoin(FinishedGame, FinishedGame.scheduled_game_id == ScheduledGame.id)
        .where(ScheduledGame.tournament_id == tournament_id, FinishedGame.scheduled_game_id.is_(None))).all()
    names = dict(session.execute(select(Player.id, Player.name)).all())
    games = []
    for game_id, black, white in rows:
        p = 1.0 / (1.0 + 10 ** (-(true[names[black]] - true[names[white]]) / 400.0))
        result = "B+R" if rng.random() < p else "W+R"
        games.append({"scheduled_game_id": game_id, "tournament_id": tournament_id, "black_player_id": black,
                      "white_player_id": white, "result": result, "move_count": 0, "duration_s": 0.0,
                      "sgf": _sgf(result), "move_stats": [], "worker": "simulated", "software_version": "",
                      "model_versions": {}})
    # In one statement (storing them one by one takes seconds), with the tournament's counter.
    session.execute(insert(FinishedGame), games)
    rebuild_rating_pairs(session)  # what record_finished_game counts game by game
    session.execute(update(Tournament).where(Tournament.id == tournament_id)
                    .values(games_finished=Tournament.games_finished + len(games)))
    return len(rows)


@pytest.fixture(scope="module")
def ladder_played(settings: Settings, engine, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811
                  monkeypatch_module) -> dict:
    """The ladder created by `arena reference play`, two games played by GNU Go, the rest simulated;
    a registered checkpoint's gauntlet against the rungs, simulated, in both conditions."""
    require_gnugo()
    env = {"ARENA_ENGINES_FILE": str(settings.engines_file), "ARENA_REFERENCE_LADDER": str(settings.reference_ladder)}
    for key, value in env.items():
        monkeypatch_module.setenv(key, value)
    with arena_settings(monkeypatch_module, database_url=settings.database_url, data_dir=settings.data_dir):
        first = invoke_arena("reference", "play")
        again = invoke_arena("reference", "play")
    assert first.exit_code == 0, first.output
    assert first.output.count("scheduled") == 2, first.output
    assert again.exit_code == 0 and again.output.count("kept (played once") == 2, again.output

    with session_scope(engine) as session:
        ladders = {t.condition: t.id for t in session.scalars(select(Tournament).where(Tournament.name.like("reference %")))}
    assert set(ladders) == {MAIN, OTHER}
    # One real game, between the two fastest rungs, played by GNU Go in the worker's task.
    payloads: list[dict] = []
    with session_scope(engine) as session:
        dispatch(session, ladders[MAIN], send=payloads.append)
        low = session.scalar(select(ScheduledGame.id).where(ScheduledGame.tournament_id == ladders[MAIN],
                                                            ScheduledGame.pairing.contains("gnugo-l1"),
                                                            ScheduledGame.pairing.contains("gnugo-l5"))
                             .order_by(ScheduledGame.id).limit(1))
    block = next(p for p in payloads if any(g["scheduled_game_id"] == low for g in p["games"]))
    payload = dict(block, games=[g for g in block["games"] if g["scheduled_game_id"] == low])
    sink = DatabaseSink(settings.database_url)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=settings.checkpoint_root(),
                                        engines=server_engines(settings)))
    try:
        tasks.play_block(payload)
    finally:
        sink.close()

    manifest_path = demo_manifests()[-1]
    manifest = read_manifest(manifest_path)
    rng = np.random.default_rng(7)
    with session_scope(engine) as session:
        real = session.scalars(select(FinishedGame.result).join(ScheduledGame)
                               .where(ScheduledGame.tournament_id == ladders[MAIN])).all()
        assert len(real) == 1
        simulated = _simulate(session, ladders[MAIN], TRUE_ELO, rng)
        get_or_create_checkpoint(session, sha256=manifest.weights_sha256, name="ckpt",
                            manifest=manifest.model_dump(mode="json"))
        for condition, komi in ((MAIN, 7.5), (OTHER, 5.5)):
            config = GauntletConfig(
                name=f"ckpt vs ladder {komi}", format="gauntlet", board_size=9, rules="chinese", komi=komi,
                games_per_pairing=100, candidates=["ckpt@16v"],
                participants=[{"name": "ckpt@16v", "kind": "checkpoint", "ref": "ckpt", "visits": 16},
                              *({"name": n, "kind": "engine", "ref": n} for n in TRUE_ELO)])
            tid = create_tournament(session, config, engines=server_engines(settings)).id
            _simulate(session, tid, {**TRUE_ELO, "ckpt@16v": CKPT_ELO}, rng)
    return {"ladders": ladders, "real": real, "simulated": simulated}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def client(settings: Settings, ladder_played: dict):
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_ladder_is_created_once_per_condition_and_kept(ladder_played: dict, settings: Settings,
                                                          engine) -> None:  # noqa: F811
    assert all(r.startswith(("B+", "W+", "0")) for r in ladder_played["real"])
    with session_scope(engine) as session:
        before = session.scalar(select(func.count()).select_from(FinishedGame))
        again = play_reference_ladder(session, configured_ladder(settings), engines=server_engines(settings))
        assert [t.created for t in again] == [False, False]
        assert {t.tournament_id for t in again} == set(ladder_played["ladders"].values())
        assert session.scalar(select(func.count()).select_from(FinishedGame)) == before
        config = session.get(Tournament, ladder_played["ladders"][MAIN]).configuration
    assert config["format"] == "round-robin" and config["games_per_pairing"] == 100
    assert [p["ref"] for p in config["participants"]] == ["gnugo-l1", "gnugo-l5", "gnugo-l10"]


def test_leaderboard_shows_relative_elo_and_equivalent_level(client: TestClient) -> None:
    board = client.get("/ratings/leaderboard", params={"condition": MAIN}).json()
    assert board["condition"] == MAIN
    assert board["reference"]["reference_point"] == "gnugo-l1" and board["reference"]["parameter"] == "level"
    rows = {p["name"]: p for p in board["players"]}
    assert rows["gnugo-l1"]["relative_elo"]["elo"] == 0.0
    ckpt = rows["ckpt@16v"]
    lo, hi = ckpt["relative_elo"]["ci95"]
    assert lo <= CKPT_ELO <= hi
    eq = ckpt["equivalent"]
    assert eq["rung_param"] == "level" and eq["position"] == "inside"
    assert eq["low"] <= 7.5 <= eq["high"] and eq["low"] <= eq["value"] <= eq["high"]
    assert eq["text"].startswith("plays like gnugo at level ")
    top = rows["gnugo-l10"]["equivalent"]
    assert top["value"] == pytest.approx(10.0) or top["position"] == "above"


def test_only_the_rungs_games_under_the_leaderboards_condition_count(client: TestClient) -> None:
    # Under komi 5.5 the ladder's tournament exists but has no games: the rungs hold only the
    # gauntlet's games there; the scale still comes from that pool alone, never from komi 7.5's.
    board = client.get("/ratings/leaderboard", params={"condition": OTHER}).json()
    assert board["condition"] == OTHER
    games = {p["name"]: p["games"] for p in board["players"]}
    assert games["gnugo-l1"] == 100  # the gauntlet's games only, not the ladder's 200 more of the ladder under 7.5
    main = {p["name"]: p for p in client.get("/ratings/leaderboard", params={"condition": MAIN}).json()["players"]}
    other = {p["name"]: p for p in board["players"]}
    assert other["ckpt@16v"]["equivalent"]["value"] != main["ckpt@16v"]["equivalent"]["value"]


def test_checkpoint_page_shows_the_scale_per_condition(client: TestClient) -> None:
    detail = client.get("/checkpoints/ckpt").json()
    rated = {r["condition"]: r for r in detail["players"]}
    assert set(rated) == {MAIN, OTHER}
    assert rated[MAIN]["equivalent"]["text"].startswith("plays like gnugo at level ")
    assert rated[MAIN]["relative_elo"]["reference_point"] == "gnugo-l1"


def test_a_ladder_naming_an_unknown_engine_or_bad_values_is_refused(settings: Settings, engine,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(LADDER.replace('engine = "gnugo-l10"', 'engine = "gnugo-l11"'))
    with session_scope(engine) as session, pytest.raises(ReferenceLadderError, match="gnugo-l11"):
        play_reference_ladder(session, load_reference_ladder(bad), engines=server_engines(settings))
    bad.write_text(LADDER.replace("value = 5", "value = 1"))
    with pytest.raises(ReferenceLadderError, match="same value"):
        load_reference_ladder(bad)
    assert load_reference_ladder(settings.reference_ladder, reference_point="gnugo-l5").ladder.reference_point == \
        "gnugo-l5"


def test_grpc_leaderboard_entries_carry_the_scale(settings: Settings, engine, ladder_played: dict) -> None:  # noqa: F811
    server = serve(settings, 0, host="127.0.0.1", db_engine=engine, authorize=allow_all, poll_s=0.05, engines={})
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        board = arena_pb2_grpc.ArenaStub(channel).GetLeaderboard(arena_pb2.GetLeaderboardRequest(condition=MAIN),
                                                                 timeout=30)
    finally:
        channel.close()
        server.stop(grace=None).wait()
    rows = {p.name: p for p in board.players}
    ckpt = rows["ckpt@16v"]
    assert ckpt.relative_elo.reference_point == "gnugo-l1" and ckpt.relative_elo.ci_low <= CKPT_ELO
    assert ckpt.equivalent.position == "inside" and ckpt.equivalent.HasField("value")
    assert ckpt.equivalent.low <= 7.5 <= ckpt.equivalent.high
    assert ckpt.equivalent.text.startswith("plays like gnugo at level ")
