"""docker-compose.yml and the Dockerfile: the stack they describe is the one the code runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from arena.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def check_arena_command(argv: list[str]) -> None:
    """`arena <argv>` names a real subcommand with real options: `--help` after it parses the whole
    line (exit 2 on an unknown command or option) and runs nothing."""
    result = CliRunner().invoke(app, [*argv, "--help"])
    assert result.exit_code == 0, f"arena {' '.join(argv)}: {result.output}"


def test_an_unknown_subcommand_or_option_is_caught() -> None:
    for argv in (["nope"], ["worker", "--bogus"]):
        with pytest.raises(AssertionError):
            check_arena_command(argv)


@pytest.mark.parametrize("service", ["migrate", "api", "worker", "scheduler"])
def test_arena_services_run_real_subcommands_with_real_options(service: str) -> None:
    spec = SERVICES[service]
    assert spec["image"] == "go-arena:latest" and spec["build"] == "."
    check_arena_command(spec["command"])


def test_the_stack_has_every_production_service() -> None:
    assert set(SERVICES) == {"postgres", "redis", "triton", "migrate", "api", "worker", "scheduler",
                             "prometheus", "grafana"}
    assert SERVICES["migrate"]["command"] == ["db", "upgrade"]
    for service in ("api", "worker", "scheduler"):
        assert SERVICES[service]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        env = SERVICES[service]["environment"]
        assert {"ARENA_DATABASE_URL", "ARENA_BROKER_URL", "ARENA_CHECKPOINT_DIR", "ARENA_ENGINES_FILE"} <= set(env)
    assert "replicas" in SERVICES["worker"]["deploy"]
    triton = SERVICES["triton"]
    assert "nvcr.io/nvidia/tritonserver:" in triton["image"]
    assert "--model-control-mode=explicit" in triton["command"]
    assert triton["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert any(v.startswith("models:") for v in triton["volumes"])
    assert "./dashboards/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in SERVICES["prometheus"]["volumes"]
    assert "./dashboards/provisioning:/etc/grafana/provisioning:ro" in SERVICES["grafana"]["volumes"]


def test_the_dockerfile_runs_arena() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["arena"]' in dockerfile and "gnugo" in dockerfile


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin) where there is one, else Debian's `docker-compose` (1.29,
    which reads the Compose specification: GPU reservations, completion conditions); neither needs
    a Docker engine to check a file."""
    docker = shutil.which("docker")
    if docker is not None and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    compose = _compose_command()
    if compose is None:
        pytest.skip("neither docker compose nor docker-compose is installed")
    env = {**os.environ, "ARENA_DB_PASSWORD": "x", "GRAFANA_ADMIN_PASSWORD": "y"}
    run = subprocess.run([*compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    # The passwords are required, not defaulted: without them the file is refused.
    bare = {k: v for k, v in os.environ.items() if k not in ("ARENA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD")}
    refused = subprocess.run([*compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                             capture_output=True, text=True, env=bare, timeout=60)
    assert refused.returncode != 0 and "PASSWORD" in refused.stderr
