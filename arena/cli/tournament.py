"""`arena tournament ...` and `arena engine list`: schedule tournaments, follow them, list engines."""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Tournaments: create, follow, cancel.", no_args_is_help=True)
engine_app = typer.Typer(help="External engines of this server's configuration.", no_args_is_help=True)


def _participant(text: str, kind: str, default_visits: int) -> dict:
    """`REF`, `REF@VISITS` or `NAME=REF[@VISITS]` from the command line."""
    name, _, ref = text.rpartition("=") if "=" in text else ("", "", text)
    visits = None
    if kind == "checkpoint":
        ref, _, count = ref.partition("@")
        try:
            visits = int(count) if count else default_visits
        except ValueError:
            raise typer.BadParameter(f"{text!r}: visits after @ must be a number", param_hint="--checkpoint") from None
        name = name or f"{ref}@{visits}v"
    return {"name": name or ref, "kind": kind, "ref": ref, "visits": visits}


def build_config(*, config_file: Path | None, overrides: dict) -> "TournamentConfig":  # noqa: F821
    """The tournament configuration from a file (TOML or JSON) and the command-line options."""
    from pydantic import ValidationError

    from arena.scheduling import parse_config

    data: dict = {}
    if config_file is not None:
        try:
            text = config_file.read_text(encoding="utf-8")
            data = json.loads(text) if config_file.suffix == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(f"{config_file}: {exc}", param_hint="--config") from None
    data.update({k: v for k, v in overrides.items() if v not in (None, [], {})})
    try:
        return parse_config(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(problems, param_hint="tournament configuration") from None


@app.command("create")
def create(
    name: Annotated[str | None, typer.Option(help="Unique tournament name.")] = None,
    format: Annotated[str | None, typer.Option(help="round-robin, gauntlet, visits-ladder, adaptive or sprt.")] = None,
    checkpoint: Annotated[list[str], typer.Option("--checkpoint", help="A checkpoint player: REF[@VISITS] or "
                                                  "NAME=REF[@VISITS]; repeat.")] = [],  # noqa: B006
    engine: Annotated[list[str], typer.Option("--engine", help="An engine player by configured name; repeat.")] = [],  # noqa: B006
    visits: Annotated[int, typer.Option(help="Visits of checkpoint players without @VISITS.", min=1)] = 64,
    games: Annotated[int | None, typer.Option("--games-per-pairing", help="Games per pairing (even).")] = None,
    board_size: Annotated[int | None, typer.Option("--board-size")] = None,
    komi: Annotated[float | None, typer.Option()] = None,
    rules: Annotated[str | None, typer.Option()] = None,
    openings: Annotated[str | None, typer.Option(help="none, random (with --opening-plies) or a JSON object.")] = None,
    opening_plies: Annotated[int, typer.Option(help="Plies of random openings.", min=0)] = 4,
    config: Annotated[Path | None, typer.Option("--config", help="A TOML or JSON file with the whole "
                                                "configuration (arena.scheduling.TournamentConfig); "
                                                "options override it.")] = None,
    wait: Annotated[bool, typer.Option(help="Schedule and follow it here until it finishes.")] = False,
    local_workers: Annotated[int, typer.Option(help="With --wait: start this many local workers.", min=0)] = 0,
) -> None:
    """Check and schedule a tournament. Nothing is stored if anything is wrong."""
    from arena.cli.session import cli_context, cli_session
    from arena.tournament_creation import create_and_dispatch
    from arena.tournaments import TournamentError

    participants = [_participant(c, "checkpoint", visits) for c in checkpoint] + \
        [_participant(e, "engine", visits) for e in engine]
    opening_spec = None
    if openings == "random" or (openings is None and config is None):
        opening_spec = {"source": "random", "plies": opening_plies, "count": 64}
    elif openings == "none":
        opening_spec = {"source": "none", "plies": 0}
    elif openings is not None:
        opening_spec = json.loads(openings)
    overrides = {"name": name, "format": format, "participants": participants, "games_per_pairing": games,
                 "board_size": board_size, "komi": komi, "rules": rules, "openings": opening_spec}
    cfg = build_config(config_file=config, overrides=overrides)
    try:
        with cli_session() as session:
            # The scheduler sends its games (`--wait`, or `arena scheduler`), as before.
            created = create_and_dispatch(session, cfg, cli_context(), send_now=False)
            tid, scheduled = created.tournament_id, created.games_scheduled
    except TournamentError as exc:
        raise typer.BadParameter(str(exc), param_hint="tournament") from None
    typer.echo(f"tournament {tid} {cfg.name!r}: {cfg.format}, {len(cfg.players())} players, {scheduled} games scheduled")
    if wait:
        follow_tournament([tid], local_workers=local_workers)


def follow_tournament(ids: list[int], *, local_workers: int = 0, poll_s: float = 1.0, torch_threads: int = 1) -> dict:
    """Run the scheduler for `ids` here with a live progress bar (and local workers) until done."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from arena.cli.session import cli_context
    from arena.scheduler import LocalWorkers, LocalWorkersFailed, run_scheduler

    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), transient=False)
    tasks: dict[int, int] = {}

    def show(report) -> None:
        workers.keep_alive()  # after every pass: a worker that exited is replaced
        for tid, p in report.items():
            if tid not in tasks:
                tasks[tid] = bars.add_task(f"{p.name} ({p.format})", total=p.scheduled)
            bars.update(tasks[tid], completed=p.finished, total=p.scheduled)

    context = cli_context()
    log = context.settings.data_dir / "workers.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    workers = LocalWorkers(local_workers, torch_threads=torch_threads, log_path=log)
    try:
        workers.start()
        with bars:
            return run_scheduler(ids, context=context, poll_s=poll_s, on_progress=show)
    except LocalWorkersFailed as exc:
        typer.echo(f"arena: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        workers.stop()


@app.command("status")
def status(
    tournament: Annotated[str, typer.Argument(help="Tournament id or name.")],
    follow: Annotated[bool, typer.Option(help="Keep printing until it finishes.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per report.")] = False,
) -> None:
    """Progress: games finished of scheduled, forfeits, games per hour and ETA."""
    from dataclasses import asdict

    from arena.cli.session import cli_session
    from arena.tournaments import TournamentError, find_tournament, progress

    while True:
        try:
            with cli_session() as session:
                report = progress(session, find_tournament(session, tournament).id)
        except TournamentError as exc:
            raise typer.BadParameter(str(exc), param_hint="TOURNAMENT") from None
        if as_json:
            typer.echo(json.dumps(asdict(report), default=str))  # error_at: ISO 8601
        else:
            eta = f", ETA {report.eta_s / 60:.1f} min" if report.eta_s is not None else ""
            rate = f", {report.games_per_hour:.0f} games/h" if report.games_per_hour else ""
            typer.echo(f"tournament {report.tournament_id} {report.name} ({report.format}): {report.status}, "
                       f"{report.finished}/{report.scheduled} games, {report.forfeits} forfeits{rate}{eta}")
            if report.verdict:
                typer.echo(f"SPRT verdict: {report.verdict}")
            if report.scoring is not None and report.scoring.pass_ended:
                typer.echo(scoring_line(report.scoring))
            if report.error:
                typer.echo(f"last scheduler error ({report.error_at:%Y-%m-%d %H:%M:%S %Z}): {report.error}")
        if not follow or report.status in ("finished", "cancelled"):
            return
        time.sleep(2.0)


def scoring_line(scoring) -> str:
    """How often the referee's settled score named another winner than strict Tromp-Taylor."""
    line = f"scoring: {scoring.pass_ended} games ended by passes, {scoring.refereed} settled by a referee"
    if scoring.rate is None:
        return line
    return f"{line}, {scoring.disagreements} disagree with strict Tromp-Taylor ({scoring.rate:.1%})"


@app.command("cancel")
def cancel(tournament: Annotated[str, typer.Argument(help="Tournament id or name.")]) -> None:
    """Stop scheduling a tournament (stored games stay)."""
    from arena import tournaments as service
    from arena.cli.session import cli_session

    try:
        with cli_session() as session:
            service.cancel(session, service.find_tournament(session, tournament).id)
    except service.TournamentError as exc:
        raise typer.BadParameter(str(exc), param_hint="TOURNAMENT") from None
    typer.echo(f"tournament {tournament} cancelled")


@engine_app.command("list")
def engine_list() -> None:
    """The engines this server may run (ARENA_ENGINES_FILE, else built-in GNU Go presets)."""
    from rich.table import Table

    from arena.cli.console import NAME_COLUMN, cli_console
    from arena.server_engines import server_engines
    from arena.settings import get_settings
    from search_workers.go import Rules

    table = Table()
    table.add_column("name", **NAME_COLUMN)
    for header in ("kind", "board sizes", "command"):
        table.add_column(header)
    for name, spec in sorted(server_engines(get_settings()).items()):  # no context: no torch to list engines
        sizes = spec.playable_sizes
        shown = f"{min(sizes)}-{max(sizes)}" if len(sizes) > 3 else ", ".join(map(str, sizes))
        table.add_row(name, getattr(spec, "preset", "command"), shown, " ".join(spec.argv(Rules())))
    cli_console().print(table)
