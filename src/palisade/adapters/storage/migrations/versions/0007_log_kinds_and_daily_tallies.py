"""log kinds and daily tallies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:40:00

The access log records more than app access: operator access with a reason, exports, app
removals, erasures (in the clear: the key is gone), and once a day the counted, never
itemised, discovery finds and friends' profile views.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=24), nullable=False,
                                      server_default='app_access'))
        batch_op.add_column(sa.Column('detail', sa.JSON(), nullable=True))
        # the sequencer's queue: only pending events, in id order (replaces the full index)
        batch_op.drop_index('ix_access_events_log_index')
        batch_op.create_index('ix_access_events_pending', ['id'], unique=False,
                              sqlite_where=sa.text('log_index IS NULL'),
                              postgresql_where=sa.text('log_index IS NULL'))
    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        # a person's entries in order and the end of their chain in one seek
        batch_op.drop_index('ix_log_leaves_person_id')
        batch_op.create_index('ix_log_leaves_person_id_index', ['person_id', 'index'],
                              unique=False)
    op.create_table('daily_tallies',
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('strangers', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_daily_tallies_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'day', 'kind', name=op.f('pk_daily_tallies'))
    )
    with op.batch_alter_table('daily_tallies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_daily_tallies_day'), ['day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('daily_tallies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_daily_tallies_day'))
    op.drop_table('daily_tallies')
    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.drop_index('ix_log_leaves_person_id_index')
        batch_op.create_index('ix_log_leaves_person_id', ['person_id'], unique=False)
        batch_op.drop_column('public')
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.drop_index('ix_access_events_pending')
        batch_op.create_index('ix_access_events_log_index', ['log_index'], unique=False)
        batch_op.drop_column('detail')
        batch_op.drop_column('kind')
