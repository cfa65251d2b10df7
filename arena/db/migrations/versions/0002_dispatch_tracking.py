"""Dispatch tracking: when each scheduled game was last sent to the workers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 14:00:00

The scheduler sends only games never sent (dispatched_at IS NULL), and sends again a game
sent long ago that never finished (its block was lost with a broker that does not redeliver).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('scheduled_games', sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_scheduled_games_dispatched_at', 'scheduled_games', ['dispatched_at'])


def downgrade() -> None:
    op.drop_index('ix_scheduled_games_dispatched_at', table_name='scheduled_games')
    op.drop_column('scheduled_games', 'dispatched_at')
