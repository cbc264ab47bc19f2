"""tally batches

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 22:00:00

One row per request that adds to daily tallies (the people a sync found, a friend's profile
view), folded into daily_tallies by the background job, instead of one upsert per person in
the request.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tally_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tally_batches'))
    )


def downgrade() -> None:
    op.drop_table('tally_batches')
