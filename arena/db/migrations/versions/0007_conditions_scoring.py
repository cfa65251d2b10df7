"""Rating conditions and scoring disagreement.

- tournaments.condition: the conditions its games are played under, as one key
  (`"<N>x<N> <rules> komi <komi>"`, e.g. `"9x9 chinese komi 7.5"`, see
  arena.scheduling.conditions.condition_key). Rating pools are keyed by it: a checkpoint's 9x9
  strength says nothing of its 19x19 strength, nor of another komi or rule set. Existing
  tournaments get theirs from their stored configuration.
- finished_games.score_tromp_taylor: for games ended by passes, strict Tromp-Taylor's score of the
  final position (every stone alive) beside `score`, the referee's settled score;
  finished_games.scoring_disagrees: whether the two name different winners (NULL: not ended by
  passes, or no second opinion).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _condition(configuration: dict) -> str:
    # The same key as arena.scheduling.conditions.condition_key, written out here so that this
    # migration keeps meaning what it meant when the application code moves on.
    size = int(configuration.get("board_size", 9))
    rules = str(configuration.get("rules", "tromp-taylor"))
    komi = float(configuration.get("komi", 7.5))
    return f"{size}x{size} {rules} komi {komi:g}"


def upgrade() -> None:
    op.add_column('tournaments', sa.Column('condition', sa.String(length=100), server_default='', nullable=False))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, configuration FROM tournaments")).all()
    for tournament_id, configuration in rows:
        bind.execute(sa.text("UPDATE tournaments SET condition = :c WHERE id = :id"),
                     {"c": _condition(configuration or {}), "id": tournament_id})
    op.create_index('ix_tournaments_condition', 'tournaments', ['condition'])
    op.add_column('finished_games', sa.Column('score_tromp_taylor', sa.Float(), nullable=True))
    op.add_column('finished_games', sa.Column('scoring_disagrees', sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column('finished_games', 'scoring_disagrees')
    op.drop_column('finished_games', 'score_tromp_taylor')
    op.drop_index('ix_tournaments_condition', table_name='tournaments')
    op.drop_column('tournaments', 'condition')
