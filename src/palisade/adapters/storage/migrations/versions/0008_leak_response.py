"""leak response

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00

Canary records and the recipients under watch, leak incidents, the people each exposes, and
the blind indexes of every identifier in a scanned dump (for the exposure check).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palisade.adapters.storage.tables

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = palisade.adapters.storage.tables.UTCDateTime


def upgrade() -> None:
    op.create_table('canaries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('recipient_kind', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('scoped_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canaries')),
    sa.UniqueConstraint('phone', name=op.f('uq_canaries_phone')),
    sa.UniqueConstraint('email', name=op.f('uq_canaries_email')),
    sa.UniqueConstraint('scoped_id', name=op.f('uq_canaries_scoped_id'))
    )
    op.create_index(op.f('ix_canaries_recipient_id'), 'canaries', ['recipient_id'])
    op.create_table('canary_watch',
    sa.Column('recipient_kind', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTC(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('recipient_kind', 'recipient_id', name=op.f('pk_canary_watch'))
    )
    op.create_table('leak_incidents',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('first_seen_at', UTC(timezone=True), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('failed_rows', sa.BigInteger(), nullable=False),
    sa.Column('matched_people', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('attribution', sa.JSON(), nullable=False),
    sa.Column('notified_at', UTC(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leak_incidents')),
    sa.UniqueConstraint('sha256', name=op.f('uq_leak_incidents_sha256'))
    )
    op.create_table('leak_exposures',
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['leak_incidents.id'], name=op.f('fk_leak_exposures_incident_id_leak_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_leak_exposures_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', 'person_id', name=op.f('pk_leak_exposures'))
    )
    op.create_index(op.f('ix_leak_exposures_person_id'), 'leak_exposures', ['person_id'])
    op.create_table('leak_identifiers',
    sa.Column('incident_id', sa.String(length=32), nullable=False),
    sa.Column('value_bidx', sa.LargeBinary(length=32), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['leak_incidents.id'], name=op.f('fk_leak_identifiers_incident_id_leak_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', 'value_bidx', name=op.f('pk_leak_identifiers'))
    )
    op.create_index(op.f('ix_leak_identifiers_value_bidx'), 'leak_identifiers', ['value_bidx'])


def downgrade() -> None:
    op.drop_index(op.f('ix_leak_identifiers_value_bidx'), table_name='leak_identifiers')
    op.drop_table('leak_identifiers')
    op.drop_index(op.f('ix_leak_exposures_person_id'), table_name='leak_exposures')
    op.drop_table('leak_exposures')
    op.drop_table('leak_incidents')
    op.drop_table('canary_watch')
    op.drop_index(op.f('ix_canaries_recipient_id'), table_name='canaries')
    op.drop_table('canaries')
