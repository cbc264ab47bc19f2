"""contact discovery: vouching edges, seen-tag sets packed one row a person

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:40:00

1. Standing (DiscoveryLimits) counts a place in someone's synced book only if that person
   vouched: was established, or had an account at least `voucher_min_age_days` old (30 by
   default), when they synced. Existing edges vouch if their owner's account is that old now;
   the others are promoted at their owner's next sync if the owner has standing by then.
2. The seen tags move from one row per (person, tag) to one packed row per person
   (adapters.crypto.seen_tags.pack): the same lossy 20-bit tags, written in one statement.
"""
import sys
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from palisade.adapters.storage.tables import UTCDateTime

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VOUCHER_MIN_AGE_DAYS = 30  # the default of DiscoveryLimits.voucher_min_age_days, frozen here


def _pack(tags: list[int]) -> bytes:  # frozen copy of seen_tags.pack
    packed = array("I", sorted(tags))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def _unpack(blob: bytes) -> list[int]:
    tags = array("I")
    tags.frombytes(blob)
    if sys.byteorder == "big":
        tags.byteswap()
    return list(tags)


def upgrade() -> None:
    with op.batch_alter_table('address_book_edges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vouches', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    edges = sa.table('address_book_edges', sa.column('owner_id'), sa.column('vouches'))
    persons = sa.table('persons', sa.column('id'), sa.column('created_at', UTCDateTime()))
    cutoff = datetime.now(UTC) - timedelta(days=VOUCHER_MIN_AGE_DAYS)
    op.execute(edges.update().where(edges.c.owner_id.in_(
        sa.select(persons.c.id).where(persons.c.created_at <= cutoff))).values(vouches=True))

    sets = op.create_table('discovery_seen_sets',
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('tags', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_discovery_seen_sets_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_discovery_seen_sets'))
    )
    conn = op.get_bind()
    grouped: dict[str, list[int]] = {}
    for person_id, tag in conn.execute(sa.text("SELECT person_id, tag FROM discovery_seen")):
        grouped.setdefault(person_id, []).append(tag)
    if grouped:
        op.bulk_insert(sets, [{"person_id": p, "tags": _pack(t)} for p, t in grouped.items()])
    op.drop_table('discovery_seen')


def downgrade() -> None:
    seen = op.create_table('discovery_seen',
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('tag', sa.Integer(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_discovery_seen_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'tag', name=op.f('pk_discovery_seen'))
    )
    conn = op.get_bind()
    rows = [{"person_id": p, "tag": t} for p, blob in conn.execute(
        sa.text("SELECT person_id, tags FROM discovery_seen_sets")) for t in _unpack(blob)]
    if rows:
        op.bulk_insert(seen, rows)
    op.drop_table('discovery_seen_sets')
    with op.batch_alter_table('address_book_edges', schema=None) as batch_op:
        batch_op.drop_column('vouches')
