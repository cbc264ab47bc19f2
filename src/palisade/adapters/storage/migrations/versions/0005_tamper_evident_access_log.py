"""tamper-evident access log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:47:55

The append-only Merkle log (RFC 6962): leaves (each entry sealed under its person's data key,
so erasure crypto-shreds it while its hash stays in the tree), the hashes of complete
subtrees, signed tree heads, and each access event's place in the log.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('log_heads',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('timestamp_ms', sa.BigInteger(), nullable=False),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=False),
    sa.PrimaryKeyConstraint('size', name=op.f('pk_log_heads'))
    )
    op.create_table('log_nodes',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'index', name=op.f('pk_log_nodes'))
    )
    op.create_table('log_leaves',
    sa.Column('index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=True),
    sa.Column('person_seq', sa.Integer(), nullable=False),
    sa.Column('entry_ct', sa.LargeBinary(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_log_leaves_person_id_persons'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('index', name=op.f('pk_log_leaves'))
    )
    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_leaves_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_index', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_access_events_log_index'), ['log_index'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_events_log_index'))
        batch_op.drop_column('log_index')

    with op.batch_alter_table('log_leaves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_leaves_person_id'))

    op.drop_table('log_leaves')
    op.drop_table('log_nodes')
    op.drop_table('log_heads')
