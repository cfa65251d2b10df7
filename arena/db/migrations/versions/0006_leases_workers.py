"""Leases on scheduled games, attempts and failed games; the workers table.

- scheduled_games.lease_owner, lease_expires_at: the worker ("host:pid") playing the game and
  until when. A worker claims the games of a block before playing them and extends its leases
  while it plays; the scheduler reclaims expired ones (and games queued too long) and sends them
  again. This replaces the 6-hour resend of games sent long ago.
- scheduled_games.attempts: deliveries that claimed the game; at the maximum
  (ARENA_MAX_BLOCK_ATTEMPTS) a game whose lease expired again is marked failed instead.
- scheduled_games.failed_at, failed_reason: a game given up on, and why (client-safe words).
- workers: each worker process's last heartbeat, what it holds and what it stored.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-13 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('scheduled_games', sa.Column('lease_owner', sa.String(length=200), nullable=True))
    op.add_column('scheduled_games', sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('scheduled_games', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    op.add_column('scheduled_games', sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('scheduled_games', sa.Column('failed_reason', sa.Text(), nullable=True))
    op.create_check_constraint('attempts_non_negative', 'scheduled_games', 'attempts >= 0')
    op.create_index('ix_scheduled_games_lease_expires_at', 'scheduled_games', ['lease_expires_at'],
                    postgresql_where=sa.text('lease_expires_at IS NOT NULL'))
    op.create_index('ix_scheduled_games_failed', 'scheduled_games', ['tournament_id'],
                    postgresql_where=sa.text('failed_at IS NOT NULL'))
    op.create_table(
        'workers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('hostname', sa.String(length=200), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('blocks_in_hand', sa.Integer(), server_default='0', nullable=False),
        sa.Column('games_in_hand', sa.Integer(), server_default='0', nullable=False),
        sa.Column('games_stored', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('games_lost', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('blocks_in_hand >= 0 AND games_in_hand >= 0 AND games_stored >= 0 AND games_lost >= 0',
                           name=op.f('ck_workers_counts_non_negative')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workers')),
        sa.UniqueConstraint('name', name=op.f('uq_workers_name')),
    )


def downgrade() -> None:
    op.drop_table('workers')
    op.drop_index('ix_scheduled_games_failed', table_name='scheduled_games')
    op.drop_index('ix_scheduled_games_lease_expires_at', table_name='scheduled_games')
    op.drop_constraint(op.f('ck_scheduled_games_attempts_non_negative'), 'scheduled_games', type_='check')
    for column in ('failed_reason', 'failed_at', 'attempts', 'lease_expires_at', 'lease_owner'):
        op.drop_column('scheduled_games', column)
