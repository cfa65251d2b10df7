"""Policy openings (moves sampled from a registered network's policy) from the HTTP API: the
router creates through `arena.tournament_creation.create_and_dispatch`, which hands the arena
context's evaluator factory down, so the network is loaded from the checkpoint store."""

from __future__ import annotations

from sqlalchemy import select

from arena.db.connection import session_scope
from arena.db.models import ScheduledGame
from models.demo import demo_manifests
from models.manifest import read_manifest


def test_a_tournament_with_policy_openings_is_created_and_dispatched(client, auth, engine) -> None:  # noqa: F811
    names = []
    for manifest in demo_manifests()[-2:]:
        assert client.post("/checkpoints", json={"path": str(manifest)}, headers=auth).status_code == 201
        names.append(read_manifest(manifest).name)
    config = {"name": "policy-openings", "format": "round-robin", "board_size": 9, "rules": "chinese",
              "games_per_pairing": 4,
              "openings": {"source": "policy", "plies": 3, "count": 2, "checkpoint": names[-1], "max_abs_value": 1.0},
              "participants": [{"name": f"{n}@4v", "kind": "checkpoint", "ref": n, "visits": 4} for n in names]}
    response = client.post("/tournaments", json=config, headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["dispatched"] == body["tournament"]["progress"]["scheduled"] == 4 and body["dispatch_error"] is None
    with session_scope(engine) as session:
        openings = session.scalars(select(ScheduledGame.opening).where(
            ScheduledGame.tournament_id == body["tournament"]["progress"]["tournament_id"])).all()
    # Every game starts from a 3-ply opening of the network's policy (colour-swapped pairs share one).
    assert len(openings) == 4 and all(o and len(o.split()) == 3 for o in openings)
    assert len(set(openings)) == 2


def test_policy_openings_of_an_unknown_checkpoint_are_422(client, auth) -> None:  # noqa: F811
    name = read_manifest(demo_manifests()[-1]).name
    config = {"name": "policy-unknown", "format": "round-robin", "board_size": 9, "games_per_pairing": 2,
              "openings": {"source": "policy", "plies": 2, "count": 2, "checkpoint": "no-such-network"},
              "participants": [{"name": f"{name}@{v}v", "kind": "checkpoint", "ref": name, "visits": v}
                               for v in (2, 4)]}
    response = client.post("/tournaments", json=config, headers=auth)
    assert response.status_code == 422 and "no-such-network" in response.text
