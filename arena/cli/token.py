"""`arena token ...`: bearer tokens for the APIs, each with a scope (read, submit, admin).

    arena token create --name ci --expires-in-days 90    # scope submit; prints the token, once
    arena token create --name dashboards --scope read
    arena token list                                     # names, scopes, dates; never a token
    arena token revoke ci

Only a token's sha256 is stored; a lost token cannot be shown again, only revoked and replaced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from .console import NAME_COLUMN, cli_console
from .session import CliError, cli_session

app = typer.Typer(help="API tokens: create (shown once, stored hashed), list and revoke.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="A unique name saying who or what uses the token.")],
    expires_in_days: Annotated[float | None, typer.Option(help="Expire after this many days; default: "
                                                          "never.", min=0.001)] = None,
    # Checked by arena.tokens.create_token, the one list of scopes.
    scope: Annotated[str, typer.Option(help="read: GET routes only; submit: also register checkpoints, create "
                                       "tournaments and cancel its own; admin: also cancel any tournament.")
                     ] = "submit",
) -> None:
    """Make a new random token and print it (the only time it is shown)."""
    from arena.tokens import TokenError, create_token

    expires = None if expires_in_days is None else datetime.now(UTC) + timedelta(days=expires_in_days)
    try:
        with cli_session() as session:
            created = create_token(session, name=name, expires_at=expires, scope=scope)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    until = "never expires" if expires is None else f"expires {expires.isoformat(timespec='seconds')}"
    typer.echo(f"token {created.name!r} (scope {created.scope}, {until}); keep it, it is not shown again:",
               err=True)
    typer.echo(created.token)


@app.command("list")
def list_() -> None:
    """Every token: name, scope, created, expires, revoked (never the token: it is not stored)."""
    from rich.table import Table

    from arena.tokens import list_tokens

    with cli_session() as session:
        tokens = list_tokens(session)
    if not tokens:
        typer.echo("no tokens (`arena token create --name NAME`)")
        return
    table = Table(title=f"{len(tokens)} token{'s' if len(tokens) != 1 else ''}")
    table.add_column("name", **NAME_COLUMN)
    for header in ("scope", "created", "expires", "revoked"):
        table.add_column(header)

    def when(moment: datetime | None) -> str:
        return "-" if moment is None else moment.isoformat(timespec="seconds")

    for token in tokens:
        table.add_row(token.name, token.scope, when(token.created_at), when(token.expires_at), when(token.revoked_at))
    cli_console().print(table)


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token at once."""
    from arena.tokens import TokenError, revoke_token

    try:
        with cli_session() as session:
            revoke_token(session, name)
    except TokenError as exc:
        raise CliError(str(exc)) from None
    typer.echo(f"revoked token {name!r}")
