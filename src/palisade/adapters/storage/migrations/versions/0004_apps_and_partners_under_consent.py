"""apps and partners under consent

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:51:14

Registered apps and partner clients, partner agreements, people's per-field, per-purpose authorizations with
app-scoped ids, OAuth codes and DPoP-bound tokens (hashes only), O(1) revocation rows, and the
access events every app or partner read emits, and the deletion callbacks owed to apps.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import palisade.adapters.storage.tables


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('token_revocations',
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('revoked_before', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'subject', name=op.f('pk_token_revocations'))
    )
    op.create_table('access_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=True),
    sa.Column('actor_kind', sa.String(length=8), nullable=False),
    sa.Column('actor_id', sa.String(length=32), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=False),
    sa.Column('at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_access_events_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_events'))
    )
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_events_person_id'), ['person_id'], unique=False)

    op.create_table('apps',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner_id', sa.String(length=32), nullable=True),
    sa.Column('secret_hash', sa.String(length=255), nullable=True),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('requested', sa.JSON(), nullable=False),
    sa.Column('privacy_policy_url', sa.String(length=2048), nullable=False),
    sa.Column('deletion_callback_url', sa.String(length=2048), nullable=False),
    sa.Column('created_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_activity_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('suspended_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('suspended_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['persons.id'], name=op.f('fk_apps_owner_id_persons'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apps'))
    )
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apps_owner_id'), ['owner_id'], unique=False)

    op.create_table('partner_agreements',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('partner_id', sa.String(length=32), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('legal_basis', sa.String(length=32), nullable=False),
    sa.Column('starts_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('terminated_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wound_up_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['apps.id'], name=op.f('fk_partner_agreements_partner_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_agreements'))
    )
    with op.batch_alter_table('partner_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_agreements_partner_id'), ['partner_id'], unique=False)

    op.create_table('app_authorizations',
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('scoped_id', sa.String(length=32), nullable=False),
    sa.Column('grants', sa.JSON(), nullable=False),
    sa.Column('created_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_authorizations_app_id_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_app_authorizations_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('app_id', 'person_id', name=op.f('pk_app_authorizations')),
    sa.UniqueConstraint('app_id', 'scoped_id', name='uq_app_authorizations_scoped')
    )
    with op.batch_alter_table('app_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_authorizations_person_id'), ['person_id'], unique=False)

    op.create_table('oauth_codes',
    sa.Column('code_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('redirect_uri', sa.String(length=2048), nullable=False),
    sa.Column('scope', sa.String(length=2000), nullable=False),
    sa.Column('resource', sa.String(length=2048), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('code_challenge_method', sa.String(length=8), nullable=False),
    sa.Column('dpop_jkt', sa.String(length=64), nullable=True),
    sa.Column('expires_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('family_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_oauth_codes_app_id_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_oauth_codes_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_oauth_codes'))
    )
    with op.batch_alter_table('oauth_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_codes_person_id'), ['person_id'], unique=False)

    op.create_table('oauth_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('access_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('refresh_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('family_id', sa.String(length=32), nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=True),
    sa.Column('scope', sa.String(length=2000), nullable=False),
    sa.Column('resource', sa.String(length=2048), nullable=False),
    sa.Column('jkt', sa.String(length=64), nullable=False),
    sa.Column('issued_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rotated_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_oauth_tokens_app_id_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_oauth_tokens_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_tokens')),
    sa.UniqueConstraint('access_hash', name=op.f('uq_oauth_tokens_access_hash')),
    sa.UniqueConstraint('refresh_hash', name=op.f('uq_oauth_tokens_refresh_hash'))
    )
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_tokens_app_id'), ['app_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_tokens_family_id'), ['family_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_tokens_person_id'), ['person_id'], unique=False)

    op.create_table('app_callbacks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('scoped_id', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('created_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', palisade.adapters.storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_callbacks_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_callbacks'))
    )
    with op.batch_alter_table('app_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_callbacks_app_id'), ['app_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_app_callbacks_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('app_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_callbacks_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_app_callbacks_app_id'))

    op.drop_table('app_callbacks')
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_tokens_person_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_tokens_family_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_tokens_app_id'))

    op.drop_table('oauth_tokens')
    with op.batch_alter_table('oauth_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_codes_person_id'))

    op.drop_table('oauth_codes')
    with op.batch_alter_table('app_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_authorizations_person_id'))

    op.drop_table('app_authorizations')
    with op.batch_alter_table('partner_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_agreements_partner_id'))

    op.drop_table('partner_agreements')
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apps_owner_id'))

    op.drop_table('apps')
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_events_person_id'))
        batch_op.drop_index(batch_op.f('ix_access_events_at'))
        batch_op.drop_index(batch_op.f('ix_access_events_actor_id'))

    op.drop_table('access_events')
    op.drop_table('token_revocations')
