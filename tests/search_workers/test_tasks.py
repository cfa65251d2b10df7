"""The match task without a broker: payload validation, a block played into a sink, redelivery."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from celery.exceptions import Reject
from pydantic import ValidationError

from models.demo import demo_manifests
from models.manifest import read_manifest
from search_workers import tasks
from search_workers.go import read_sgf
from search_workers.schemas import BlockPayload, FinishedGameRecord


class MemorySink:
    def __init__(self):
        self.games: dict[int, FinishedGameRecord] = {}

    def finished_ids(self, ids):
        return {i for i in ids if i in self.games}

    def record(self, game: FinishedGameRecord) -> bool:
        if game.scheduled_game_id in self.games:
            return False
        self.games[game.scheduled_game_id] = game
        return True

    def tournament_status(self, tournament_id: int) -> str:
        return "running"


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, list[str]]:
    """A checkpoint store holding the two newest demo checkpoints; their sha256s."""
    shas = []
    for path in demo_manifests()[-2:]:
        manifest = read_manifest(path)
        folder = tmp_path / manifest.weights_sha256
        folder.mkdir()
        shutil.copy(path, folder / path.name)
        shutil.copy(path.parent / manifest.weights_file, folder / manifest.weights_file)
        shas.append(manifest.weights_sha256)
    return tmp_path, shas


def payload(shas: list[str], **changes) -> dict:
    data = {
        "tournament_id": 1, "board_size": 9, "rules": "chinese", "komi": 7.5, "move_limit": 120,
        "players": [{"kind": "checkpoint", "name": "new@4v", "sha256": shas[1], "search": {"visits": 4}},
                    {"kind": "checkpoint", "name": "old@4v", "sha256": shas[0], "search": {"visits": 4}}],
        "games": [{"scheduled_game_id": 11, "black": "new@4v", "white": "old@4v", "opening": [40, 30], "seed": 1},
                  {"scheduled_game_id": 12, "black": "old@4v", "white": "new@4v", "opening": [40, 30], "seed": 2}],
    }
    data.update(changes)
    return data


SHAS = ["a" * 64, "b" * 64]


@pytest.mark.parametrize("changes, message", [
    ({"schema_version": 2}, "schema_version"),
    ({"komi": 7.3}, "multiple of 0.5"),
    ({"rules": "go-moku"}, "rules"),
    ({"board_size": 1}, "board_size"),
    ({"unexpected": 1}, "unexpected"),
    ({"games": [{"scheduled_game_id": 1, "black": "new@4v", "white": "ghost", "seed": 1}]}, "ghost"),
    ({"games": [{"scheduled_game_id": 1, "black": "new@4v", "white": "new@4v", "seed": 1}]}, "itself"),
    ({"games": [{"scheduled_game_id": 1, "black": "new@4v", "white": "old@4v", "seed": 1, "opening": [81 + 1]}]},
     "opening"),
    ({"players": [{"kind": "checkpoint", "name": "x", "sha256": "../../etc", "search": {"visits": 4}},
                  {"kind": "engine", "name": "g", "engine": "gnugo"}]}, "sha256"),
    ({"players": [{"kind": "engine", "name": "g", "engine": "gnugo", "command": ["rm", "-rf", "/"]},
                  {"kind": "engine", "name": "h", "engine": "gnugo"}]}, "command"),
    ({"players": [{"kind": "checkpoint", "name": "x y", "sha256": "a" * 64, "search": {"visits": 4}},
                  {"kind": "engine", "name": "g", "engine": "gnugo"}]}, "player name"),
])
def test_a_bad_payload_is_refused_naming_the_problem(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BlockPayload.model_validate(payload(SHAS, **changes))


def test_the_celery_task_rejects_a_bad_payload_without_retrying() -> None:
    with pytest.raises(Reject) as raised:
        tasks.play_block_task.run(payload(SHAS, komi="lots"))
    assert raised.value.requeue is False


def test_a_block_is_stored_game_by_game_and_a_redelivery_skips_stored_games(store) -> None:
    root, shas = store
    sink = MemorySink()
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=root, engines={}))
    first = tasks.play_block(payload(shas))
    assert (first.played, first.skipped, first.forfeits) == (2, 0, 0)
    assert set(sink.games) == {11, 12}
    for game in sink.games.values():
        record = read_sgf(game.sgf)
        assert record.result == game.result and record.moves[:2] == ((record.moves[0][0], 40),
                                                                    (record.moves[1][0], 30))
        assert len(game.move_stats) == game.move_count
        assert game.provenance["players"]["new@4v"]["sha256"] == shas[1]
        assert game.provenance["scoring"] in ("tromp-taylor", "resignation", "move-limit")
    again = tasks.play_block(payload(shas))
    assert (again.played, again.skipped) == (0, 2)


def test_a_checkpoint_missing_from_the_store_is_a_clear_error(store) -> None:
    root, shas = store
    tasks.configure(tasks.WorkerContext(sink=MemorySink(), checkpoint_root=root, engines={}))
    with pytest.raises(FileNotFoundError, match="not in the store"):
        tasks.play_block(payload(["c" * 64, shas[1]]))


def test_each_game_of_a_block_plays_from_its_own_seed(store, monkeypatch) -> None:
    root, shas = store
    played = []
    monkeypatch.setattr(tasks, "play_games", lambda games, **kw: played.extend(games))
    tasks.configure(tasks.WorkerContext(sink=MemorySink(), checkpoint_root=root, engines={}))
    tasks.play_block(payload(shas))
    assert [(g.key, g.seed) for g in played] == [(11, 1), (12, 2)]
