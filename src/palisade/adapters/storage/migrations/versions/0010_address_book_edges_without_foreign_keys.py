"""address-book edges without foreign keys

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:20:00

A first sync writes hundreds of edges; PostgreSQL checked each row's two foreign keys with a
query apiece. What the keys guaranteed (no edge to or from an erased person) is now kept by
the rows a sync holds and the order in which erasure takes them: see AddressBookEdge in
tables.py.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('address_book_edges') as batch:
        batch.drop_constraint('fk_address_book_edges_owner_id_persons', type_='foreignkey')
        batch.drop_constraint('fk_address_book_edges_contact_id_persons', type_='foreignkey')


def downgrade() -> None:
    # edges left by people erased since (none: erasure deletes them) would fail the keys
    op.execute(sa.text("DELETE FROM address_book_edges WHERE owner_id NOT IN "
                       "(SELECT id FROM persons) OR contact_id NOT IN (SELECT id FROM persons)"))
    with op.batch_alter_table('address_book_edges') as batch:
        batch.create_foreign_key('fk_address_book_edges_owner_id_persons', 'persons',
                                 ['owner_id'], ['id'], ondelete='CASCADE')
        batch.create_foreign_key('fk_address_book_edges_contact_id_persons', 'persons',
                                 ['contact_id'], ['id'], ondelete='CASCADE')
