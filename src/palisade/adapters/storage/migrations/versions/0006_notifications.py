"""notifications

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:20:06

The in-app notification feed, each person's email preferences per kind, and the first use
of each field by each app (to tell people when an app starts using something new).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palisade.adapters.storage.tables


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification_settings',
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('email', sa.JSON(), nullable=False),
    sa.Column('last_digest_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_notification_settings_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_notification_settings'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('created_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_notifications_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_emailed_at'), ['emailed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_person_id'), ['person_id'], unique=False)

    op.create_table('app_field_uses',
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('first_used_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_field_uses_app_id_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_app_field_uses_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', 'person_id', 'field', name=op.f('pk_app_field_uses'))
    )
    with op.batch_alter_table('app_field_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_field_uses_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('app_field_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_field_uses_person_id'))

    op.drop_table('app_field_uses')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_person_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_emailed_at'))

    op.drop_table('notifications')
    op.drop_table('notification_settings')
