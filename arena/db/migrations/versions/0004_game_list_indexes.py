"""Indexes for game lists: a player pair's games, a tournament's and a result's, by id.

The API pages finished games by descending id under filters (player, pair, tournament, result).
With these, a rare filter (a pair, draws, forfeits) reads its own entries in id order instead of
walking the whole id range; the player ids are also the foreign keys PostgreSQL checks.
(tournament_id, id) replaces the index on tournament_id alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 14:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_scheduled_games_black_white', 'scheduled_games', ['black_player_id', 'white_player_id', 'id'])
    op.create_index('ix_scheduled_games_white_black', 'scheduled_games', ['white_player_id', 'black_player_id', 'id'])
    op.create_index('ix_scheduled_games_tournament_id_id', 'scheduled_games', ['tournament_id', 'id'])
    op.drop_index('ix_scheduled_games_tournament_id', table_name='scheduled_games')
    op.create_index('ix_finished_games_result', 'finished_games', ['result', 'scheduled_game_id'])


def downgrade() -> None:
    op.drop_index('ix_finished_games_result', table_name='finished_games')
    op.create_index('ix_scheduled_games_tournament_id', 'scheduled_games', ['tournament_id'])
    op.drop_index('ix_scheduled_games_tournament_id_id', table_name='scheduled_games')
    op.drop_index('ix_scheduled_games_white_black', table_name='scheduled_games')
    op.drop_index('ix_scheduled_games_black_white', table_name='scheduled_games')
