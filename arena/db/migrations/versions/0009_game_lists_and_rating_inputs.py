"""Game lists and rating inputs that scale to millions of games.

- finished_games.tournament_id, black_player_id, white_player_id: copies of the scheduled game's
  identity (never rewritten), backfilled, with indexes for each filter of the game lists (a
  tournament, a result inside one, a player as either colour, a pair), so that a page reads its own
  entries in id order from one table; and one on the finish time of games whose per-move
  statistics are kept, for retention (arena.retention).
- rating_pairs: per tournament and ordered (black, white) pair, the rated games' counts and the XOR
  of their sha256 fingerprints, kept by every stored game (arena.db.rating_inputs); backfilled here.
- leaderboard_fits: fitted ratings shared by every API process, keyed by game set, policy and
  fitting code; old ones are deleted as new ones are stored (arena.leaderboards.shared).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 19:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GAME_COLUMNS = ("tournament_id", "black_player_id", "white_player_id")
INDEXES = (
    ("ix_finished_games_tournament", ["tournament_id", "scheduled_game_id"]),
    ("ix_finished_games_tournament_result", ["tournament_id", "result", "scheduled_game_id"]),
    ("ix_finished_games_black", ["black_player_id", "scheduled_game_id"]),
    ("ix_finished_games_white", ["white_player_id", "scheduled_game_id"]),
    ("ix_finished_games_pair", ["black_player_id", "white_player_id", "scheduled_game_id"]),
)


def upgrade() -> None:
    for column in GAME_COLUMNS:
        op.add_column('finished_games', sa.Column(column, sa.Integer(), nullable=True))
    op.execute("UPDATE finished_games f SET tournament_id = s.tournament_id, black_player_id = s.black_player_id, "
               "white_player_id = s.white_player_id FROM scheduled_games s WHERE s.id = f.scheduled_game_id")
    for column in GAME_COLUMNS:
        op.alter_column('finished_games', column, nullable=False)
    op.create_foreign_key('fk_finished_games_tournament_id_tournaments', 'finished_games', 'tournaments',
                          ['tournament_id'], ['id'], ondelete='RESTRICT')
    op.create_check_constraint('ck_finished_games_distinct_players', 'finished_games',
                               'black_player_id <> white_player_id')
    op.create_foreign_key('fk_finished_games_black_player_id_players', 'finished_games', 'players',
                          ['black_player_id'], ['id'], ondelete='RESTRICT')
    op.create_foreign_key('fk_finished_games_white_player_id_players', 'finished_games', 'players',
                          ['white_player_id'], ['id'], ondelete='RESTRICT')
    for name, columns in INDEXES:
        op.create_index(name, 'finished_games', columns)
    op.create_index('ix_finished_games_move_stats_kept', 'finished_games', ['finished_at'],
                    postgresql_where=sa.text("move_stats <> '[]'::jsonb"))

    op.create_table(
        'rating_pairs',
        sa.Column('tournament_id', sa.Integer(), nullable=False),
        sa.Column('black_player_id', sa.Integer(), nullable=False),
        sa.Column('white_player_id', sa.Integer(), nullable=False),
        sa.Column('wins_black', sa.Integer(), nullable=False),
        sa.Column('wins_white', sa.Integer(), nullable=False),
        sa.Column('draws', sa.Integer(), nullable=False),
        sa.Column('digest', postgresql.BIT(256), nullable=False),
        sa.CheckConstraint('wins_black >= 0 AND wins_white >= 0 AND draws >= 0',
                           name=op.f('ck_rating_pairs_counts_non_negative')),
        sa.ForeignKeyConstraint(['tournament_id'], ['tournaments.id'], ondelete='RESTRICT',
                                name=op.f('fk_rating_pairs_tournament_id_tournaments')),
        sa.ForeignKeyConstraint(['black_player_id'], ['players.id'], ondelete='RESTRICT',
                                name=op.f('fk_rating_pairs_black_player_id_players')),
        sa.ForeignKeyConstraint(['white_player_id'], ['players.id'], ondelete='RESTRICT',
                                name=op.f('fk_rating_pairs_white_player_id_players')),
        sa.PrimaryKeyConstraint('tournament_id', 'black_player_id', 'white_player_id', name=op.f('pk_rating_pairs')),
    )
    # The rule arena.db.rating_inputs keeps (written out here, so that this revision keeps meaning
    # what it meant): Void games do not count, a winner is named by the "B+"/"W+" prefix, and each
    # game's fingerprint is sha256("<id>\t<black id>\t<white id>\t<result>").
    op.execute(r"""
        INSERT INTO rating_pairs (tournament_id, black_player_id, white_player_id, wins_black, wins_white, draws,
                                  digest)
        SELECT tournament_id, black_player_id, white_player_id,
               count(*) FILTER (WHERE left(result, 2) = 'B+'),
               count(*) FILTER (WHERE left(result, 2) = 'W+'),
               count(*) FILTER (WHERE left(result, 2) NOT IN ('B+', 'W+')),
               bit_xor(('x' || encode(sha256(convert_to(scheduled_game_id::text || E'\t' || black_player_id::text
                       || E'\t' || white_player_id::text || E'\t' || result, 'UTF8')), 'hex'))::bit(256))
        FROM finished_games WHERE result <> 'Void'
        GROUP BY tournament_id, black_player_id, white_player_id
    """)

    op.create_table(
        'leaderboard_fits',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('ratings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('fit_s', sa.Float(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_leaderboard_fits')),
    )
    op.create_index('ix_leaderboard_fits_created_at', 'leaderboard_fits', ['created_at'])


def downgrade() -> None:
    op.drop_table('leaderboard_fits')
    op.drop_table('rating_pairs')
    op.drop_index('ix_finished_games_move_stats_kept', table_name='finished_games')
    for name, _ in INDEXES:
        op.drop_index(name, table_name='finished_games')
    op.drop_constraint('ck_finished_games_distinct_players', 'finished_games', type_='check')
    for column in GAME_COLUMNS:
        op.drop_column('finished_games', column)
