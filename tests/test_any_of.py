"""`any_of` (one bound parameter for a list of values) selects exactly what `IN` selects."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, String, Table, create_engine, select

from palisade.adapters.storage.repository import any_of

_META = MetaData()
_T = Table("t", _META, Column("id", String(32), primary_key=True))
_ENGINE = create_engine("sqlite://")
_META.create_all(_ENGINE)
_IDS = [f"{i:032x}" for i in range(200)]
with _ENGINE.begin() as c:
    c.execute(_T.insert(), [{"id": i} for i in _IDS])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_IDS) | st.text(max_size=40), max_size=60))
def test_any_of_matches_in_on_sqlite(values: list[str]) -> None:
    with _ENGINE.connect() as c:
        got = set(c.scalars(select(_T.c.id).where(any_of(_T.c.id, values, False))))
        want = set(c.scalars(select(_T.c.id).where(_T.c.id.in_(values))))
    assert got == want == set(values) & set(_IDS)
