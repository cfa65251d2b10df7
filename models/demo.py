"""Where the committed demo checkpoints live, oldest first.

They are one real training run of small 9x9 networks (see `models/demo_training.py` and
`models/demo_checkpoints/RESULTS.md`): the demo's players and the tests' fixtures.
"""

from __future__ import annotations

from pathlib import Path

from .manifest import CheckpointError, read_manifest

DEMO_DIR = Path(__file__).resolve().parent / "demo_checkpoints"


def demo_manifests(directory: Path = DEMO_DIR) -> list[Path]:
    """Manifest paths of the demo run, sorted by training step (oldest first)."""
    found = []
    for path in directory.glob("*.json"):
        try:
            step = read_manifest(path).training_step
        except CheckpointError:
            continue  # not a checkpoint manifest
        found.append((step, path))
    return [path for _, path in sorted(found)]


def newest_demo_manifest(directory: Path = DEMO_DIR) -> Path:
    manifests = demo_manifests(directory)
    if not manifests:
        raise FileNotFoundError(f"no demo checkpoints in {directory}; run `python -m models.demo_training`")
    return manifests[-1]
