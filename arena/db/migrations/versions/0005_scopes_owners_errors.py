"""Token scopes, owners of checkpoints and tournaments, one name per checkpoint, tournament errors.

- api_tokens.scope: 'read', 'submit' (register checkpoints, create and cancel its own
  tournaments) or 'admin' (cancel any, manage tokens). Existing tokens keep what they could do
  on the API's write routes: 'submit'.
- checkpoints.created_by_token_id, tournaments.created_by_token_id: the token that created the
  row (NULL: the CLI, or a token since deleted).
- checkpoints.name becomes unique: a name resolves to one sha256 for good. Names that several
  checkpoints already share are kept by the oldest; the others are renamed `name~<sha256[:12]>`
  so nothing stored is lost and each stays reachable by its sha256.
- tournaments.last_error, last_error_at: the client-safe reason the scheduler last failed to
  advance the tournament (the details go to its log).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('api_tokens', sa.Column('scope', sa.String(length=20), server_default='submit', nullable=False))
    op.create_check_constraint('scope_known', 'api_tokens', "scope IN ('read', 'submit', 'admin')")
    for table in ('checkpoints', 'tournaments'):
        op.add_column(table, sa.Column('created_by_token_id', sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f(f'fk_{table}_created_by_token_id_api_tokens'), table, 'api_tokens',
            ['created_by_token_id'], ['id'], ondelete='SET NULL',
        )
    op.execute(
        """
        UPDATE checkpoints AS c SET name = left(c.name, 186) || '~' || left(c.sha256, 12)
        WHERE EXISTS (
            SELECT 1 FROM checkpoints AS older
            WHERE older.name = c.name AND (older.created_at, older.id) < (c.created_at, c.id)
        )
        """
    )
    op.create_unique_constraint(op.f('uq_checkpoints_name'), 'checkpoints', ['name'])
    op.add_column('tournaments', sa.Column('last_error', sa.Text(), nullable=True))
    op.add_column('tournaments', sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('tournaments', 'last_error_at')
    op.drop_column('tournaments', 'last_error')
    op.drop_constraint(op.f('uq_checkpoints_name'), 'checkpoints', type_='unique')
    for table in ('tournaments', 'checkpoints'):
        op.drop_constraint(op.f(f'fk_{table}_created_by_token_id_api_tokens'), table, type_='foreignkey')
        op.drop_column(table, 'created_by_token_id')
    op.drop_constraint(op.f('ck_api_tokens_scope_known'), 'api_tokens', type_='check')
    op.drop_column('api_tokens', 'scope')
