"""Tournament state in columns of its own; `configuration` keeps only what the user asked for.

- tournaments.opening_book, tournaments.referee, tournaments.verdict: the openings its games are
  planned from, the engine that settles dead stones, an SPRT's result. They were keys of the
  `configuration` JSON, written beside the user's settings while the tournament ran; existing
  tournaments have them moved out.
- Tournament configurations became one model per format (arena.scheduling.config): the other
  formats' parameters, stored as null before, are removed from existing configurations.

Downgrade puts the three keys back into `configuration` (the null parameters meant their
defaults, so they are not restored).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE_KEYS = ("opening_book", "referee", "verdict")
# Every format's own parameters as of this revision, written out so that this migration keeps
# meaning what it meant when the application code moves on.
FORMAT_PARAMETERS = ("games_per_pairing", "candidates", "target_ci", "game_budget", "batch_pairs", "elo0", "elo1",
                     "alpha", "beta", "max_games", "checkpoint", "visits")

tournaments = sa.table(
    "tournaments",
    sa.column("id", sa.Integer),
    sa.column("configuration", postgresql.JSONB),
    sa.column("opening_book", postgresql.JSONB(none_as_null=True)),
    sa.column("referee", sa.String),
    sa.column("verdict", postgresql.JSONB(none_as_null=True)),
)


def upgrade() -> None:
    op.add_column('tournaments', sa.Column('opening_book', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('tournaments', sa.Column('referee', sa.String(length=200), nullable=True))
    op.add_column('tournaments', sa.Column('verdict', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    bind = op.get_bind()
    for tournament_id, configuration in bind.execute(sa.select(tournaments.c.id, tournaments.c.configuration)).all():
        configuration = dict(configuration or {})
        state = {key: configuration.pop(key, None) for key in STATE_KEYS}
        for key in FORMAT_PARAMETERS:
            if key in configuration and configuration[key] is None:
                del configuration[key]
        bind.execute(tournaments.update().where(tournaments.c.id == tournament_id)
                     .values(configuration=configuration, **state))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(tournaments.c.id, tournaments.c.configuration, tournaments.c.opening_book,
                                  tournaments.c.referee, tournaments.c.verdict)).all()
    for tournament_id, configuration, opening_book, referee, verdict in rows:
        configuration = dict(configuration or {})
        if opening_book is not None:
            configuration["opening_book"] = opening_book
        configuration["referee"] = referee  # always stored before, null for Tromp-Taylor
        if verdict is not None:
            configuration["verdict"] = verdict
        bind.execute(tournaments.update().where(tournaments.c.id == tournament_id)
                     .values(configuration=configuration))
    op.drop_column('tournaments', 'verdict')
    op.drop_column('tournaments', 'referee')
    op.drop_column('tournaments', 'opening_book')
