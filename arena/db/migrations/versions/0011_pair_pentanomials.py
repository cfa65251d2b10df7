"""pair_pentanomials: an SPRT's complete pairs, counted as games are stored.

The scheduler decides an SPRT tournament's next batch from its complete colour-swapped pairs,
counted by total score (the pentanomial). It paired the games up again for every batch: 0.8 s
at 200,000 games, batch after batch. This table keeps the counts per tournament and pairing,
updated by the game that completes a pair (arena.db.rating_inputs.count_pentanomial), and is
backfilled here by the same rule: a pair counts when both its games are stored and neither is
Void; a result starting B+ or W+ names its winner, anything else rated is a draw.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rule of arena.db.rating_inputs.count_pentanomial, written out here (this revision keeps
# meaning what it meant): per complete pair, the half points of the even game's Black.
BACKFILL = """
    INSERT INTO pair_pentanomials (tournament_id, pairing, first_player_id, scored_0, scored_half, scored_1,
                                   scored_1_half, scored_2)
    SELECT tournament_id, pairing, min(first), count(*) FILTER (WHERE total = 0), count(*) FILTER (WHERE total = 1),
           count(*) FILTER (WHERE total = 2), count(*) FILTER (WHERE total = 3), count(*) FILTER (WHERE total = 4)
    FROM (SELECT s.tournament_id, s.pairing,
                 max(CASE WHEN s.game_index % 2 = 0 THEN f.black_player_id ELSE f.white_player_id END) AS first,
                 sum(CASE WHEN f.result LIKE 'B+%' THEN CASE WHEN s.game_index % 2 = 0 THEN 2 ELSE 0 END
                          WHEN f.result LIKE 'W+%' THEN CASE WHEN s.game_index % 2 = 0 THEN 0 ELSE 2 END
                          ELSE 1 END) AS total
          FROM scheduled_games s JOIN finished_games f ON f.scheduled_game_id = s.id
          WHERE f.result <> 'Void'
          GROUP BY s.tournament_id, s.pairing, s.game_index / 2
          HAVING count(*) = 2) pairs
    GROUP BY tournament_id, pairing
"""


def upgrade() -> None:
    op.create_table(
        'pair_pentanomials',
        sa.Column('tournament_id', sa.Integer(), nullable=False),
        sa.Column('pairing', sa.String(length=200), nullable=False),
        sa.Column('first_player_id', sa.Integer(), nullable=False),
        sa.Column('scored_0', sa.Integer(), nullable=False),
        sa.Column('scored_half', sa.Integer(), nullable=False),
        sa.Column('scored_1', sa.Integer(), nullable=False),
        sa.Column('scored_1_half', sa.Integer(), nullable=False),
        sa.Column('scored_2', sa.Integer(), nullable=False),
        sa.CheckConstraint('scored_0 >= 0 AND scored_half >= 0 AND scored_1 >= 0 AND scored_1_half >= 0 '
                           'AND scored_2 >= 0', name=op.f('ck_pair_pentanomials_counts_non_negative')),
        sa.ForeignKeyConstraint(['first_player_id'], ['players.id'], ondelete='RESTRICT',
                                name=op.f('fk_pair_pentanomials_first_player_id_players')),
        sa.ForeignKeyConstraint(['tournament_id'], ['tournaments.id'], ondelete='RESTRICT',
                                name=op.f('fk_pair_pentanomials_tournament_id_tournaments')),
        sa.PrimaryKeyConstraint('tournament_id', 'pairing', name=op.f('pk_pair_pentanomials')),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table('pair_pentanomials')
