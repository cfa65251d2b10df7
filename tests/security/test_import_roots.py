"""Hostile server paths, with a valid submit token.

Before: `{"path": ...}` read any file the server could read, said whether it existed and quoted
up to 80 characters of field values from any JSON file; `openings.directory` did the same for
folders, and the SGF moves ended up public in the opening book. Now a path must resolve (symlinks
followed) under ARENA_IMPORT_DIRS, and every other path gets one and the same refusal, which says
neither whether it exists nor anything of its content or where the server keeps things.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.db.connection import session_scope
from arena.db.models import Checkpoint, Tournament
from arena.import_roots import REFUSAL
from models.demo import demo_manifests
from models.manifest import read_manifest
from search_workers.go import GameRecord, Rules, random_game, write_sgf
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, app_with, db_url, engine, headers, settings, tokens, tournament_config)

SECRET = "hunter2-the-server-secret"


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An import root holding a demo checkpoint, and a folder outside every root holding another."""
    root, outside = tmp_path_factory.mktemp("imports"), tmp_path_factory.mktemp("private")
    for folder, manifest in ((root, demo_manifests()[0]), (outside, demo_manifests()[1])):
        shutil.copy(manifest, folder)
        shutil.copy(manifest.parent / read_manifest(manifest).weights_file, folder)
    (outside / "config.json").write_text(json.dumps({"name": SECRET, "weights_file": SECRET, "password": SECRET}))
    return {"root": root, "outside": outside, "inside": root / demo_manifests()[0].name,
            "private": outside / demo_manifests()[1].name}


@pytest.fixture(scope="module")
def client(settings, places):  # noqa: F811
    with app_with(settings, import_dirs=[places["root"]]) as client:
        yield client


def _state(engine, settings) -> tuple[int, int, list[str]]:  # noqa: F811
    with session_scope(engine) as session:
        checkpoints = session.scalar(select(func.count()).select_from(Checkpoint))
        tournaments = session.scalar(select(func.count()).select_from(Tournament))
    root = settings.checkpoint_root()
    return checkpoints, tournaments, sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _refused_generically(response, *secrets: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [{"loc": ["body", "path"], "msg": REFUSAL, "type": "value_error"}]
    for secret in (SECRET, "/tmp", *secrets):
        assert secret not in response.text


def _register(client, headers, path: Path | str):  # noqa: F811
    return client.post("/checkpoints", json={"path": str(path)}, headers=headers["submit"])


def test_a_checkpoint_outside_the_roots_is_refused(client, headers, engine, settings, places) -> None:  # noqa: F811
    before = _state(engine, settings)
    _refused_generically(_register(client, headers, places["private"]), str(places["outside"]))
    assert _state(engine, settings) == before


def test_a_symlink_out_of_a_root_is_refused(client, headers, engine, settings, places) -> None:  # noqa: F811
    link = places["root"] / "escape.json"
    link.symlink_to(places["private"])
    weights_link = places["root"] / "half"
    weights_link.mkdir()
    # A real manifest inside the root whose weights file is a symlink to a file outside it.
    shutil.copy(places["private"], weights_link)
    weights = read_manifest(places["private"]).weights_file
    (weights_link / weights).symlink_to(places["outside"] / weights)
    before = _state(engine, settings)
    _refused_generically(_register(client, headers, link), str(places["outside"]))
    _refused_generically(_register(client, headers, weights_link / places["private"].name), str(places["outside"]))
    _refused_generically(_register(client, headers, places["root"] / ".." / places["outside"].name /
                                   places["private"].name))
    assert _state(engine, settings) == before


def test_a_missing_path_gets_the_same_refusal(client, headers, engine, settings, places) -> None:  # noqa: F811
    before = _state(engine, settings)
    _refused_generically(_register(client, headers, places["root"] / "missing.json"))
    _refused_generically(_register(client, headers, "/nonexistent/x.json"))
    _refused_generically(_register(client, headers, "relative/x.json"))
    assert _state(engine, settings) == before


def test_a_json_file_outside_the_roots_is_not_quoted(client, headers, engine, settings, places) -> None:  # noqa: F811
    before = _state(engine, settings)
    _refused_generically(_register(client, headers, places["outside"] / "config.json"), "password")
    _refused_generically(_register(client, headers, "/etc/passwd"), "root:")
    assert _state(engine, settings) == before


def test_a_checkpoint_inside_a_root_registers(client, headers, engine, settings, places) -> None:  # noqa: F811
    response = _register(client, headers, places["inside"])
    assert response.status_code == 201, response.text
    assert response.json()["checkpoint"]["sha256"] == read_manifest(places["inside"]).weights_sha256


# ------------------------------------------------------------------------------------ openings.directory

def _sgf_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rules = Rules.preset("tromp-taylor")
    for seed in range(3):
        (folder / f"g{seed}.sgf").write_text(write_sgf(GameRecord.from_state(random_game(9, rules, seed=seed))))
    return folder


def _sgf_tournament(client, headers, name: str, directory: Path):  # noqa: F811
    config = tournament_config(name, openings={"source": "sgf", "plies": 2, "directory": str(directory)})
    return client.post("/tournaments", json=config, headers=headers["submit"])


def test_openings_directory_outside_the_roots_is_refused(client, headers, engine, settings, places) -> None:  # noqa: F811
    private = _sgf_folder(places["outside"] / "games")
    escape = places["root"] / "games-link"
    escape.symlink_to(private, target_is_directory=True)
    mixed = _sgf_folder(places["root"] / "mixed")
    (mixed / "zz-secret.sgf").symlink_to(private / "g0.sgf")  # one file leads out of the root
    before = _state(engine, settings)
    for name, directory in (("outside", private), ("via-link", escape), ("mixed", mixed),
                            ("missing", places["root"] / "nothing-here")):
        response = _sgf_tournament(client, headers, f"sgf-{name}", directory)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["msg"] == f"openings: {REFUSAL}"
        assert str(places["outside"]) not in response.text and "/tmp" not in response.text
    assert _state(engine, settings) == before


def test_openings_directory_inside_a_root_works(client, headers, places) -> None:  # noqa: F811
    response = _sgf_tournament(client, headers, "sgf-inside", _sgf_folder(places["root"] / "openings"))
    assert response.status_code == 201, response.text
    assert len(response.json()["tournament"]["opening_book"]) >= 1
