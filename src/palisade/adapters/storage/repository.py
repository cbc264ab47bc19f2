"""Queries over the schema, bound to one unit-of-work session.

It speaks in rows and ciphertext; it never decrypts and never decides access (the services
do both). `PairFacts` answers the access decision's graph questions for one (viewer, subject)
pair from facts fetched with the profile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import (
    Boolean,
    LargeBinary,
    Row,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from palisade.adapters.storage.tables import (
    ID,
    AddressBookEdge,
    Block,
    CanaryWatchRow,
    Conversation,
    DataKey,
    DiscoveryAlert,
    DiscoveryNotice,
    DiscoverySeen,
    DiscoveryState,
    FriendRequest,
    Friendship,
    IdentifierRow,
    Message,
    OneTimeCodeRow,
    OutboxRow,
    Person,
    ProfileRow,
    SessionRow,
    UTCDateTime,
)


def _mutual_friend_exists(a: object, b: object):  # type: ignore[no-untyped-def]
    f1, f2 = aliased(Friendship), aliased(Friendship)
    return exists().where(f1.person_id == a, f2.person_id == f1.friend_id, f2.friend_id == b)


def _profile_for_viewer_statement():  # type: ignore[no-untyped-def]
    viewer, subject = bindparam("viewer"), bindparam("subject")
    blocked = exists().where(or_(and_(Block.blocker_id == viewer, Block.blocked_id == subject),
                                 and_(Block.blocker_id == subject, Block.blocked_id == viewer)))
    friends = exists().where(Friendship.person_id == viewer, Friendship.friend_id == subject)
    return (
        select(ProfileRow.person_id, ProfileRow.fields_ct, ProfileRow.audiences,
               DataKey.master_key_id, DataKey.wrapped, blocked.label("blocked"),
               friends.label("friends"), _mutual_friend_exists(viewer, subject).label("mutual"))
        .join(DataKey, DataKey.person_id == ProfileRow.person_id)
        .where(ProfileRow.person_id == subject)
    )


# Built once: constructing it (aliases, column adaptation) costs more than running it.
_PROFILE_FOR_VIEWER = _profile_for_viewer_statement()


def _sync_facts_statement():  # type: ignore[no-untyped-def]
    """Everything a sync reads about its searcher, in one round trip: when the account was
    created, its standing (friends whose account was created by `born_by`; people whose
    synced book has it and who vouched), how many friends it has in all (`degree`), its
    persisted escalation level, its packed seen tags, and whether it is on the canary watch
    list."""
    person, born_by = bindparam("person", type_=ID), bindparam("born_by", type_=UTCDateTime())
    friend = aliased(Person)
    friends = (select(func.count()).select_from(Friendship)
               .join(friend, friend.id == Friendship.friend_id)
               .where(Friendship.person_id == person, friend.created_at <= born_by)
               .scalar_subquery())
    degree = (select(func.count()).select_from(Friendship)
              .where(Friendship.person_id == person).scalar_subquery())
    known_by = (select(func.count()).select_from(AddressBookEdge)
                .where(AddressBookEdge.contact_id == person, AddressBookEdge.vouches.is_(True))
                .scalar_subquery())
    level = select(DiscoveryState.level).where(DiscoveryState.person_id == person)
    seen = select(DiscoverySeen.tags).where(DiscoverySeen.person_id == person)
    watched = exists().where(CanaryWatchRow.recipient_kind == "discovery",
                             CanaryWatchRow.recipient_id == person)
    # FOR KEY SHARE OF persons: the searcher cannot be erased while their sync writes their
    # book (see AddressBookEdge); nothing on SQLite, which has one writer
    return select(Person.created_at, friends.label("friends"), degree.label("degree"),
                  known_by.label("known_by"),
                  level.scalar_subquery().label("level"), seen.scalar_subquery().label("seen"),
                  watched.label("watched")).where(Person.id == person).with_for_update(
        read=True, key_share=True, of=Person)


_SYNC_FACTS = _sync_facts_statement()  # every sync starts with it

_TIE_NAMES = ("friend", "fof", "has_you", "blocked_by_me", "blocked_me", "hidden", "mine",
              "revealed", "unvouched")
_TIE_NAME = String(16)


def any_of(column, values: Iterable[object], postgresql: bool):  # type: ignore[no-untyped-def]
    """Membership in a list of values with one bound parameter however long the list: on
    PostgreSQL `column = ANY(array)`; on SQLite, for text values (ids),
    `column IN (SELECT value FROM json_each(?))`. Why: a literal `IN (?, ?, ...)` has one
    placeholder per value and is rendered and prepared anew for every list length; for the
    hundreds of ids a sync handles that cost as much as the query. Short lists and non-text
    values keep the plain `IN`."""
    values = list(values)
    if postgresql:
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    if len(values) > _SHORT and all(isinstance(v, str) for v in values):
        return column.in_(json_values(bindparam(None, json.dumps(values))))
    return column.in_(values)


_SHORT = 8  # a short list is as quick inline


# A list of ids in a statement built once: one bound parameter whatever its length (see
# any_of), an array on PostgreSQL and a JSON array on SQLite.
def ids_param(name: str, postgresql: bool):  # type: ignore[no-untyped-def]
    return bindparam(name, type_=ARRAY(ID)) if postgresql else bindparam(name)


def ids_value(values: Iterable[str], postgresql: bool) -> object:
    """What to bind to an `ids_param`."""
    return list(values) if postgresql else json.dumps(list(values))


def among_ids(column, param, postgresql: bool, drives_scan: bool = False):  # type: ignore[no-untyped-def]
    """`column` in the `ids_param` list. On PostgreSQL, `= ANY(array)` when the list drives
    an index scan; as a filter on rows found another way, `IN (SELECT unnest(array))`,
    which it hashes once, where `= ANY` compares every row with every element in turn."""
    if not postgresql:
        return column.in_(json_values(param))
    return column == any_(param) if drives_scan else column.in_(select(func.unnest(param)))


# The statements a sync runs are built once per dialect (`postgresql`) by the functions below,
# each cached (functools.cache): building one and finding it in SQLAlchemy's compiled cache
# costs about as much as running it.


@cache
def insert_edges(table, postgresql: bool):  # type: ignore[no-untyped-def]
    """INSERT ... SELECT of address-book edges (owner_id, contact_id, created_at, vouches,
    revealed_at) into `table`, one row per id of the `contacts` list, built once per table
    and dialect (building it costs more than running it); bind with `edge_params`. Edges
    already there are left as they are. The caller passes people it holds (see
    AddressBookEdge): the owner's row and the identifier rows the contacts were found by."""
    insert = pg_insert if postgresql else sqlite_insert
    stamp = bindparam("now", type_=UTCDateTime())
    contacts, revealed = ids_param("contacts", postgresql), ids_param("revealed", postgresql)
    listed = (func.unnest(contacts).table_valued("value").render_derived() if postgresql
              else func.json_each(contacts).table_valued("value"))
    contact = listed.c.value
    members = select(bindparam("owner", type_=ID), contact, stamp,
                     bindparam("vouches", type_=Boolean),
                     case((among_ids(contact, revealed, postgresql), stamp), else_=null())
                     ).where(true())  # SQLite: so `ON CONFLICT` does not parse as a join's ON
    return insert(table).from_select(
        ["owner_id", "contact_id", "created_at", "vouches", "revealed_at"], members
    ).on_conflict_do_nothing()


def edge_params(owner_id: str, contacts: Sequence[str], now: datetime, vouches: bool,
                revealed: Sequence[str], postgresql: bool) -> dict[str, object]:
    """The parameters of `insert_edges`."""
    return {"owner": owner_id, "contacts": ids_value(contacts, postgresql),
            "revealed": ids_value(revealed, postgresql), "now": now, "vouches": vouches}


def json_values(param):  # type: ignore[no-untyped-def]
    """SQLite: the values of a JSON array parameter as a one-column subquery."""
    return select(func.json_each(param).table_valued("value").c.value)


# The order in which row locks on identifiers are taken, by a sync (Repository.members_by_bidx)
# and by erasure (Repository.lock_person): by id, so the two never hold one of a person's rows
# each while waiting for the other. COLLATE "C" compares bytes (the database's own collation
# would cost a sync 0.4 ms to sort 400 ids); only PostgreSQL runs two writers at once.
IDENTIFIER_LOCK_ORDER = IdentifierRow.id.collate("C")
TAKE_IDENTIFIERS = (select(IdentifierRow.id)
                    .where(IdentifierRow.person_id == bindparam("person", type_=ID))
                    .order_by(IDENTIFIER_LOCK_ORDER).with_for_update())


@cache
def _members_statement(which: str):  # type: ignore[no-untyped-def]
    """PostgreSQL: the look-ups of `Repository.members_by_bidx` (`all`, `held`, `own`), a
    sync's 1,000 blind indexes as one array parameter. `held` locks what it returns in
    IDENTIFIER_LOCK_ORDER, as erasure takes a person's rows: a sync never holds one of them
    while waiting for another."""
    bidx, person = IdentifierRow.value_bidx, IdentifierRow.person_id
    stmt = select(bidx, person, IdentifierRow.discoverability)
    searcher = bindparam("searcher", type_=ID)
    among = bidx == any_(bindparam("bidxs", type_=ARRAY(LargeBinary(32))))
    if which == "own":
        return stmt.where(person == searcher)
    if which == "held":  # FOR KEY SHARE (read + key_share)
        return (stmt.where(among, person != searcher).order_by(IDENTIFIER_LOCK_ORDER)
                .with_for_update(read=True, key_share=True))
    return stmt.where(among)


def _sqlite_members_sql(n: int) -> str:
    """SQLite: the same look-up as plain SQL binding the `n` blind indexes as they are, one
    `?` each. The one-parameter JSON list of `any_of` and `ids_param` carries text, and blind
    indexes are bytes (SQLite 3.40, Debian 12's, has no `unhex` to turn hex back); through
    SQLAlchemy's expanding IN, each of a sync's 1,000 values was rendered and processed in
    Python, 1.3-2.4 ms more than the query itself on a 1,000,000-person database. A length
    not seen before costs SQLite one more prepare (about 0.2 ms for 1,000 values)."""
    t = IdentifierRow.__table__
    columns = ", ".join(c.name for c in (t.c.value_bidx, t.c.person_id, t.c.discoverability))
    return f"SELECT {columns} FROM {t.name} WHERE value_bidx IN ({', '.join('?' * n)})"


@cache
def _save_seen_statement(pg: bool):  # type: ignore[no-untyped-def]
    insert = (pg_insert if pg else sqlite_insert)(DiscoverySeen).values(
        person_id=bindparam("person"), tags=bindparam("tags"))
    return insert.on_conflict_do_update(index_elements=[DiscoverySeen.person_id],
                                        set_={"tags": insert.excluded.tags})


@cache
def _remove_edges_statement(pg: bool):  # type: ignore[no-untyped-def]
    edge = AddressBookEdge
    return delete(edge).where(
        edge.owner_id == bindparam("owner", type_=ID),
        among_ids(edge.contact_id, ids_param("contacts", pg), pg, drives_scan=True))


@cache
def _profiles_with_keys_statement(pg: bool):  # type: ignore[no-untyped-def]
    # `audiences` as the stored JSON text: a sync's few hundred rows share a handful of
    # values, which the caller decodes once each (Profiles.render_many)
    return (select(ProfileRow.person_id, ProfileRow.fields_ct,
                   cast(ProfileRow.audiences, Text).label("audiences_json"),
                   DataKey.master_key_id, DataKey.wrapped)
            .join(DataKey, DataKey.person_id == ProfileRow.person_id)
            .where(among_ids(ProfileRow.person_id, ids_param("people", pg), pg,
                             drives_scan=True)))


@cache
def _ties_statement(pg: bool, walk: bool):  # type: ignore[no-untyped-def]
    """One UNION ALL for every relation, built once per dialect and plan: one round trip
    and one array (PostgreSQL) or list (SQLite) of the people found, however many
    relations. Also the searcher's own synced book: `mine` (every contact), `revealed`
    (shown to them before) and `unvouched` (edges that do not count yet), which the sync
    needs to write only what changed.

    Friends of friends (`walk`): walking out from the searcher's own friends reads about
    degree^2 rows (a few hundred); asking, for each person found, whether one of their
    friends is the searcher's friend costs an index probe per friend of each person found
    (thousands), which is the plan a database picks for the join when it cannot size it.
    A very connected searcher, for whom walking out would read more, keeps that plan,
    whose cost does not grow with their degree."""
    me, now = bindparam("me", type_=ID), bindparam("now", type_=UTCDateTime())
    others = ids_param("others", pg)

    def among(column, drives_scan: bool = False):  # type: ignore[no-untyped-def]
        return among_ids(column, others, pg, drives_scan)

    def rel(name: str, column, *where):  # type: ignore[no-untyped-def]
        return select(literal(name, _TIE_NAME).label("relation"),
                      column.label("pid")).where(*where)

    mine, theirs = aliased(Friendship), aliased(Friendship)
    if walk:
        # MATERIALIZED: computed on its own, then matched with the people found. A
        # prepared statement's generic plan takes an array parameter for 10 values
        # and would start from the people found instead (17 ms instead of 0.3 for a
        # searcher with 11 friends and 400 people found).
        fof = (select(theirs.friend_id.label("pid"))
               .join(mine, theirs.person_id == mine.friend_id)
               .where(mine.person_id == me)
               .cte("friends_of_friends").prefix_with("MATERIALIZED"))
        friends = (rel("friend", Friendship.friend_id, Friendship.person_id == me),
                   rel("fof", fof.c.pid, among(fof.c.pid)))
    else:
        friends = (rel("friend", Friendship.friend_id, Friendship.person_id == me,
                       among(Friendship.friend_id, drives_scan=True)),
                   rel("fof", theirs.friend_id,
                       exists().where(mine.person_id == me,
                                      mine.friend_id == theirs.person_id),
                       among(theirs.friend_id, drives_scan=True)))
    edge = AddressBookEdge
    return union_all(
        *friends,
        rel("has_you", edge.owner_id, edge.contact_id == me, among(edge.owner_id)),
        rel("blocked_by_me", Block.blocked_id, Block.blocker_id == me,
            among(Block.blocked_id)),
        rel("blocked_me", Block.blocker_id, Block.blocked_id == me,
            among(Block.blocker_id)),
        rel("hidden", DiscoveryState.person_id,
            among(DiscoveryState.person_id, drives_scan=True),
            DiscoveryState.hidden_until > now),
        rel("mine", edge.contact_id, edge.owner_id == me),
        rel("revealed", edge.contact_id, edge.owner_id == me,
            edge.revealed_at.is_not(None)),
        rel("unvouched", edge.contact_id, edge.owner_id == me, edge.vouches.is_(False)),
    )


class Repository:
    # up to this many friends, friends of friends are found by walking out from the friends
    FOF_EXPAND_MAX_FRIENDS = 200

    def __init__(self, session: Session) -> None:
        self.s = session
        self._pg: bool | None = None

    # Membership in a long list of values (an address book's blind indexes, the people found).
    # SQLite: IN (?, ?, ...). PostgreSQL: = ANY(one array parameter): an IN list of a thousand
    # values is rendered, cast, sent and parsed one bound value at a time on every call, which
    # cost more than the queries themselves.
    def _is_pg(self) -> bool:
        if self._pg is None:
            self._pg = self.s.get_bind().dialect.name == "postgresql"
        return self._pg

    def _in(self, column, values: Iterable[object]):  # type: ignore[no-untyped-def]
        return any_of(column, values, self._is_pg())

    # --- people and keys ---------------------------------------------------------------
    def add(self, *rows: object) -> None:
        self.s.add_all(rows)
        self.s.flush()

    def person(self, person_id: str) -> Person | None:
        return self.s.get(Person, person_id)

    def person_exists(self, person_id: str) -> bool:
        return self.s.scalar(select(exists().where(Person.id == person_id))) or False

    def data_key(self, person_id: str) -> DataKey | None:
        return self.s.get(DataKey, person_id)

    def data_keys_not_under(self, key_id: str, limit: int) -> Sequence[DataKey]:
        stmt = select(DataKey).where(DataKey.master_key_id != key_id).limit(limit)
        return self.s.scalars(stmt).all()

    def master_key_ids_in_use(self) -> set[str]:
        return set(self.s.scalars(select(DataKey.master_key_id).distinct()))

    def count_people(self) -> int:
        return self.s.scalar(select(func.count()).select_from(Person)) or 0

    # --- identifiers -------------------------------------------------------------------
    def identifier_by_bidx(self, bidx: bytes) -> IdentifierRow | None:
        return self.s.scalar(select(IdentifierRow).where(IdentifierRow.value_bidx == bidx))

    def identifiers_of(self, person_id: str) -> Sequence[IdentifierRow]:
        stmt = (
            select(IdentifierRow)
            .where(IdentifierRow.person_id == person_id)
            .order_by(IdentifierRow.verified_at)
        )
        return self.s.scalars(stmt).all()

    # --- profiles ----------------------------------------------------------------------
    def profile(self, person_id: str) -> ProfileRow | None:
        return self.s.get(ProfileRow, person_id)

    def profile_for_viewer(self, viewer: str, subject: str) -> Row | None:
        """In one round trip: the subject's profile ciphertext, audiences and wrapped data key,
        plus the three graph facts the access decision needs about (viewer, subject). The
        read path is the hottest in the service; this keeps it to one prebuilt query."""
        return self.s.execute(_PROFILE_FOR_VIEWER, {"viewer": viewer, "subject": subject}).first()

    # --- one-time codes ----------------------------------------------------------------
    def latest_code(self, bidx: bytes, purpose: str) -> OneTimeCodeRow | None:
        stmt = (
            select(OneTimeCodeRow)
            .where(OneTimeCodeRow.identifier_bidx == bidx, OneTimeCodeRow.purpose == purpose)
            .order_by(OneTimeCodeRow.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        return self.s.scalar(stmt)

    def delete_codes(self, bidx: bytes, purpose: str) -> None:
        self.s.execute(
            delete(OneTimeCodeRow).where(
                OneTimeCodeRow.identifier_bidx == bidx, OneTimeCodeRow.purpose == purpose
            )
        )

    def purge_codes(self, now: datetime) -> int:
        return self.s.execute(delete(OneTimeCodeRow).where(OneTimeCodeRow.expires_at <= now)).rowcount

    # --- sessions ----------------------------------------------------------------------
    def session_by_hash(self, token_hash: bytes) -> SessionRow | None:
        return self.s.scalar(select(SessionRow).where(SessionRow.token_hash == token_hash))

    def sessions_of(self, person_id: str) -> Sequence[SessionRow]:
        return self.s.scalars(select(SessionRow).where(SessionRow.person_id == person_id)).all()

    def delete_session(self, session_id: str) -> None:
        self.s.execute(delete(SessionRow).where(SessionRow.id == session_id))

    def delete_sessions_of(self, person_id: str) -> int:
        return self.s.execute(delete(SessionRow).where(SessionRow.person_id == person_id)).rowcount

    def delete_all_sessions(self) -> int:
        return self.s.execute(delete(SessionRow)).rowcount

    def touch_session(self, session_id: str, now: datetime, expires_at: datetime) -> None:
        self.s.execute(
            update(SessionRow)
            .where(SessionRow.id == session_id)
            .values(last_seen_at=now, expires_at=expires_at)
        )

    def purge_sessions(self, now: datetime) -> int:
        return self.s.execute(delete(SessionRow).where(SessionRow.expires_at <= now)).rowcount

    # --- friendships, requests, blocks ---------------------------------------------------
    def are_friends(self, a: str, b: str) -> bool:
        stmt = select(exists().where(Friendship.person_id == a, Friendship.friend_id == b))
        return self.s.scalar(stmt) or False

    def is_blocked_between(self, a: str, b: str) -> bool:
        stmt = select(
            exists().where(
                or_(
                    and_(Block.blocker_id == a, Block.blocked_id == b),
                    and_(Block.blocker_id == b, Block.blocked_id == a),
                )
            )
        )
        return self.s.scalar(stmt) or False

    def friend_ids(self, person_id: str) -> list[str]:
        stmt = select(Friendship.friend_id).where(Friendship.person_id == person_id)
        return list(self.s.scalars(stmt))

    def friends_page(self, person_id: str, after: str | None, limit: int) -> list[str]:
        stmt = select(Friendship.friend_id).where(Friendship.person_id == person_id)
        if after:
            stmt = stmt.where(Friendship.friend_id > after)
        return list(self.s.scalars(stmt.order_by(Friendship.friend_id).limit(limit)))

    def add_friendship(self, a: str, b: str, now: datetime) -> None:
        self.add(
            Friendship(person_id=a, friend_id=b, created_at=now),
            Friendship(person_id=b, friend_id=a, created_at=now),
        )

    def remove_friendship(self, a: str, b: str) -> int:
        return self.s.execute(
            delete(Friendship).where(
                or_(
                    and_(Friendship.person_id == a, Friendship.friend_id == b),
                    and_(Friendship.person_id == b, Friendship.friend_id == a),
                )
            )
        ).rowcount

    def friend_request(self, from_id: str, to_id: str) -> FriendRequest | None:
        stmt = select(FriendRequest).where(
            FriendRequest.from_id == from_id, FriendRequest.to_id == to_id
        )
        return self.s.scalar(stmt)

    def friend_request_by_id(self, request_id: str) -> FriendRequest | None:
        return self.s.get(FriendRequest, request_id)

    def friend_requests(self, person_id: str, incoming: bool) -> Sequence[FriendRequest]:
        column = FriendRequest.to_id if incoming else FriendRequest.from_id
        stmt = select(FriendRequest).where(column == person_id).order_by(FriendRequest.created_at)
        return self.s.scalars(stmt).all()

    def delete_requests_between(self, a: str, b: str) -> None:
        self.s.execute(
            delete(FriendRequest).where(
                or_(
                    and_(FriendRequest.from_id == a, FriendRequest.to_id == b),
                    and_(FriendRequest.from_id == b, FriendRequest.to_id == a),
                )
            )
        )

    def block(self, blocker: str, blocked: str) -> Block | None:
        return self.s.get(Block, (blocker, blocked))

    def blocks_by(self, blocker: str) -> Sequence[Block]:
        stmt = select(Block).where(Block.blocker_id == blocker).order_by(Block.created_at)
        return self.s.scalars(stmt).all()

    # --- conversations and messages --------------------------------------------------------
    def conversation(self, conversation_id: str) -> Conversation | None:
        return self.s.get(Conversation, conversation_id)

    def conversation_between(self, a: str, b: str) -> Conversation | None:
        stmt = select(Conversation).where(Conversation.person_a == a, Conversation.person_b == b)
        return self.s.scalar(stmt)

    def conversations_of(self, person_id: str) -> Sequence[Conversation]:
        stmt = (
            select(Conversation)
            .where(or_(Conversation.person_a == person_id, Conversation.person_b == person_id))
            .order_by(Conversation.created_at)
        )
        return self.s.scalars(stmt).all()

    def messages(
        self, conversation_id: str, now: datetime, after_id: int | None, limit: int
    ) -> Sequence[Message]:
        stmt = select(Message).where(
            Message.conversation_id == conversation_id,
            or_(Message.expires_at.is_(None), Message.expires_at > now),
        )
        if after_id is not None:
            stmt = stmt.where(Message.id > after_id)
        return self.s.scalars(stmt.order_by(Message.id).limit(limit)).all()

    def purge_messages(self, now: datetime) -> int:
        stmt = delete(Message).where(Message.expires_at.is_not(None), Message.expires_at <= now)
        return self.s.execute(stmt).rowcount

    # --- contact discovery ---------------------------------------------------------------
    def members_by_bidx(self, bidxs: Sequence[bytes],
                        hold_for: str | None = None) -> Sequence[Row]:
        """(value_bidx, person_id, discoverability) of every identifier among `bidxs`. With
        `hold_for` (the searcher of a sync), the identifier rows of the other people found
        are locked FOR KEY SHARE until the transaction ends, so none of them can be erased
        meanwhile (see AddressBookEdge); the searcher's own are read without a lock (the
        sync holds the searcher's row already, and erasure takes identifiers first)."""
        if not bidxs:
            return []
        conn = self.s.connection()
        if not self._is_pg():  # SQLite has one writer: nothing to hold
            return conn.exec_driver_sql(_sqlite_members_sql(len(bidxs)), tuple(bidxs)).all()
        if hold_for is None:
            return conn.execute(_members_statement("all"), {"bidxs": list(bidxs)}).all()
        wanted = set(bidxs)
        others = conn.execute(_members_statement("held"),
                              {"bidxs": list(wanted), "searcher": hold_for}).all()
        # the searcher's own (one to three rows, by their person index), matched here, so no
        # plan can take the blind-index list to find them
        own = conn.execute(_members_statement("own"), {"searcher": hold_for})
        return [*others, *(row for row in own if row.value_bidx in wanted)]

    def save_seen(self, person_id: str, packed: bytes) -> None:
        # Two concurrent syncs of one account: the last write wins. A tag lost that way only
        # makes its identifier count as new once more (charged again), never free.
        self.s.connection().execute(_save_seen_statement(self._is_pg()),
                                    {"person": person_id, "tags": packed})

    def sync_facts(self, person_id: str, friends_born_by: datetime) -> Row | None:
        """(created_at, friends, degree, known_by, level, seen, watched) of a searcher, None
        if there is no such person: see `_sync_facts_statement`. `level` and `seen` are None
        when the person has no discovery state or seen tags yet."""
        return self.s.connection().execute(_SYNC_FACTS, {"person": person_id,
                                                         "born_by": friends_born_by}).first()

    def discovery_ties(self, me: str, others: Sequence[str], now: datetime,
                       degree: int) -> dict[str, set[str]]:
        """For each relation, which of `others` stand in it to `me` (who has `degree`
        friends), in one round trip (see `_ties_statement`). The same statement runs whether
        or not `others` is empty, so the work does not say whether an address book held
        members (it depends only on the searcher's own friends and book)."""
        wanted = set(others)
        rows = self.s.connection().execute(
            _ties_statement(self._is_pg(), walk=degree <= self.FOF_EXPAND_MAX_FRIENDS),
            {"me": me, "others": ids_value(wanted, self._is_pg()), "now": now}).all()
        out: dict[str, set[str]] = {name: set() for name in _TIE_NAMES}
        for relation, pid in rows:
            out[relation].add(pid)
        out["friend"] &= wanted  # the walk reads all of the searcher's friends
        out["blocked"] = out.pop("blocked_by_me") | out.pop("blocked_me")
        return out

    def add_edges_always(self, owner_id: str, contacts: Sequence[str], now: datetime,
                         vouches: bool, unvouched: bool = True,
                         revealed: Sequence[str] = ()) -> None:
        """Record `contacts` as members of `owner_id`'s synced book (those among `revealed`
        as shown to the owner now): one INSERT ... SELECT that runs even when `contacts` is
        empty, so the work does not depend on it. The caller holds the owner's row
        (`sync_facts`) and the identifier rows the contacts were found by (`members_by_bidx`
        with `hold_for`), so none of them can be erased before this transaction ends (see
        AddressBookEdge). An owner who vouches now also vouches for the contacts they
        synced before they could (if any of their edges is `unvouched`)."""
        pg = self._is_pg()
        self.s.connection().execute(insert_edges(AddressBookEdge.__table__, pg),
                                    edge_params(owner_id, contacts, now, vouches, revealed, pg))
        if vouches and unvouched:
            self.s.execute(update(AddressBookEdge).where(
                AddressBookEdge.owner_id == owner_id, AddressBookEdge.vouches.is_(False))
                .values(vouches=True))

    def remove_edges(self, owner_id: str, contacts: Iterable[str]) -> int:
        # on the connection: nothing of this table is ever loaded as objects to keep in step
        pg = self._is_pg()
        return self.s.connection().execute(_remove_edges_statement(pg), {
            "owner": owner_id, "contacts": ids_value(contacts, pg)}).rowcount

    def mark_revealed(self, owner_id: str, contacts: Sequence[str], now: datetime) -> None:
        if contacts:
            self.s.execute(update(AddressBookEdge).where(
                AddressBookEdge.owner_id == owner_id, self._in(AddressBookEdge.contact_id, contacts),
                AddressBookEdge.revealed_at.is_(None)).values(revealed_at=now))

    def discovery_state(self, person_id: str, for_update: bool = False) -> DiscoveryState | None:
        return self.s.get(DiscoveryState, person_id, with_for_update=for_update)

    def upsert_discovery_state(self, person_id: str, now: datetime, **values: object) -> None:
        row = self.s.get(DiscoveryState, person_id)
        if row is None:
            row = DiscoveryState(person_id=person_id, level=0, hidden_until=None, updated_at=now)
            self.s.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        self.s.flush()

    def frozen_or_reverify(self) -> Sequence[DiscoveryState]:
        return self.s.scalars(select(DiscoveryState).where(DiscoveryState.level >= 2)).all()

    def notices(self, person_id: str, limit: int = 50) -> Sequence[DiscoveryNotice]:
        stmt = (select(DiscoveryNotice).where(DiscoveryNotice.person_id == person_id)
                .order_by(DiscoveryNotice.id.desc()).limit(limit))
        return self.s.scalars(stmt).all()

    def alerts(self, after_id: int | None, limit: int) -> Sequence[DiscoveryAlert]:
        stmt = select(DiscoveryAlert)
        if after_id is not None:
            stmt = stmt.where(DiscoveryAlert.id > after_id)
        return self.s.scalars(stmt.order_by(DiscoveryAlert.id).limit(limit)).all()

    def profiles_with_keys(self, person_ids: Sequence[str]) -> dict[str, Row]:
        """Profile ciphertext, audiences (as JSON text, `audiences_json`) and wrapped data key
        of several people at once."""
        if not person_ids:
            return {}
        pg = self._is_pg()
        rows = self.s.connection().execute(_profiles_with_keys_statement(pg),
                                           {"people": ids_value(person_ids, pg)})
        return {row.person_id: row for row in rows}

    def identifiers_of_many(self, person_ids: Sequence[str]) -> dict[str, list[IdentifierRow]]:
        out: dict[str, list[IdentifierRow]] = {}
        if person_ids:
            stmt = (select(IdentifierRow).where(self._in(IdentifierRow.person_id, person_ids))
                    .order_by(IdentifierRow.verified_at))
            for row in self.s.scalars(stmt):
                out.setdefault(row.person_id, []).append(row)
        return out

    # --- erasure -------------------------------------------------------------------------
    def lock_person(self, person_id: str) -> bool:
        """Take a person for erasure (FOR UPDATE), before anything else: first their
        identifier rows, which waits for every sync that found them (it holds them FOR KEY
        SHARE) and makes later syncs wait, then find nobody; then their own row, which waits
        for a sync of their own book. The order is a sync's (which may write rows about a
        person it found, taking that person's row, after holding their identifiers), so the
        two never wait for each other. False if there is no such person."""
        if self._is_pg():  # SQLite: one writer, and no "C" collation
            self.s.execute(TAKE_IDENTIFIERS, {"person": person_id})
        return self.s.scalar(select(Person.id).where(Person.id == person_id)
                             .with_for_update()) is not None

    def erase_person(self, person_id: str) -> dict[str, int]:
        """Delete every row about a person (whose row the caller holds: lock_person). The data
        key goes first: from that statement on, whatever copy of their ciphertext survives
        anywhere (a replica, a backup) is noise."""
        counts: dict[str, int] = {}

        def run(name: str, stmt: object) -> None:
            counts[name] = self.s.execute(stmt).rowcount  # type: ignore[arg-type]

        conv_ids = select(Conversation.id).where(
            or_(Conversation.person_a == person_id, Conversation.person_b == person_id)
        )
        run("data_keys", delete(DataKey).where(DataKey.person_id == person_id))
        run("messages", delete(Message).where(
            or_(Message.conversation_id.in_(conv_ids), Message.sender_id == person_id)))
        run("conversations", delete(Conversation).where(
            or_(Conversation.person_a == person_id, Conversation.person_b == person_id)))
        run("friendships", delete(Friendship).where(
            or_(Friendship.person_id == person_id, Friendship.friend_id == person_id)))
        run("friend_requests", delete(FriendRequest).where(
            or_(FriendRequest.from_id == person_id, FriendRequest.to_id == person_id)))
        run("blocks", delete(Block).where(
            or_(Block.blocker_id == person_id, Block.blocked_id == person_id)))
        run("address_book_edges", delete(AddressBookEdge).where(
            or_(AddressBookEdge.owner_id == person_id, AddressBookEdge.contact_id == person_id)))
        run("discovery_seen_sets",
            delete(DiscoverySeen).where(DiscoverySeen.person_id == person_id))
        run("discovery_state", delete(DiscoveryState).where(DiscoveryState.person_id == person_id))
        run("discovery_notices", delete(DiscoveryNotice).where(
            DiscoveryNotice.person_id == person_id))
        run("sessions", delete(SessionRow).where(SessionRow.person_id == person_id))
        run("one_time_codes", delete(OneTimeCodeRow).where(OneTimeCodeRow.person_id == person_id))
        run("identifiers", delete(IdentifierRow).where(IdentifierRow.person_id == person_id))
        run("profiles", delete(ProfileRow).where(ProfileRow.person_id == person_id))
        run("persons", delete(Person).where(Person.id == person_id))
        return counts

    # --- outbox (development delivery) -----------------------------------------------------
    def outbox(self, limit: int) -> Sequence[OutboxRow]:
        return self.s.scalars(select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)).all()

    # --- bulk loading (demo population, benchmarks) ----------------------------------------
    def bulk_insert(self, table: type, rows: Iterable[dict[str, object]]) -> None:
        rows = list(rows)
        if not rows:
            return
        insert = pg_insert if self._is_pg() else sqlite_insert
        # Core execution (executemany), not the ORM's bulk path: several times faster.
        self.s.connection().execute(insert(table).on_conflict_do_nothing(), rows)


class PairFacts:
    """The `SocialGraph` port answered from facts already fetched for one (viewer, subject)
    pair, e.g. by `Repository.profile_for_viewer`. Asking about any other pair is a bug."""

    def __init__(self, viewer: str, subject: str, blocked: bool, friends: bool,
                 mutual: bool) -> None:
        self._pair = frozenset((viewer, subject))
        self._blocked, self._friends, self._mutual = blocked, friends, mutual

    def _check(self, a: str, b: str) -> None:
        if frozenset((a, b)) != self._pair:
            raise LookupError("PairFacts only knows about the pair it was built for")

    def is_blocked_between(self, a: str, b: str) -> bool:
        self._check(a, b)
        return self._blocked

    def are_friends(self, a: str, b: str) -> bool:
        self._check(a, b)
        return self._friends

    def have_mutual_friend(self, a: str, b: str) -> bool:
        self._check(a, b)
        return self._mutual
