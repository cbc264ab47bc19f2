"""The schema. Every column that holds PII is ciphertext (`*_ct`) or a blind index (`*_bidx`).

Plaintext columns hold only what is not personal data by itself: random ids, timestamps,
audience settings, counters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(32)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Person(Base):
    __tablename__ = "persons"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_hash: Mapped[str | None] = mapped_column(String(255))


class DataKey(Base):
    """A person's data key, wrapped by a master key. Deleting this row crypto-shreds them."""

    __tablename__ = "data_keys"
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    master_key_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class IdentifierRow(Base):
    __tablename__ = "identifiers"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    value_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    value_ct: Mapped[bytes] = mapped_column(LargeBinary)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # who may find the owner by this identifier (domain.discovery.discoverability)
    discoverability: Mapped[str] = mapped_column(String(24), server_default="mutual_contacts")


class ProfileRow(Base):
    __tablename__ = "profiles"
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    fields_ct: Mapped[bytes] = mapped_column(LargeBinary)  # sealed JSON of the edited fields
    audiences: Mapped[dict[str, str]] = mapped_column(JSON)  # field -> audience (not PII)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OneTimeCodeRow(Base):
    __tablename__ = "one_time_codes"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    identifier_bidx: Mapped[bytes] = mapped_column(LargeBinary(32))
    purpose: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE")
    )
    code_mac: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_one_time_codes_lookup", "identifier_bidx", "purpose"),)


class SessionRow(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(16))


class FriendRequest(Base):
    __tablename__ = "friend_requests"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    from_id: Mapped[str] = mapped_column(ID, ForeignKey("persons.id", ondelete="CASCADE"))
    to_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("from_id", "to_id", name="uq_friend_requests_pair"),)


class Friendship(Base):
    """Stored in both directions, so 'friends of X' is one index range."""

    __tablename__ = "friendships"
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    friend_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_friendships_friend_person", "friend_id", "person_id"),)


class Block(Base):
    __tablename__ = "blocks"
    blocker_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_blocks_blocked_blocker", "blocked_id", "blocker_id"),)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    person_a: Mapped[str] = mapped_column(ID, ForeignKey("persons.id", ondelete="CASCADE"))
    person_b: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    disappearing_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("person_a", "person_b", name="uq_conversations_pair"),)


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    sender_id: Mapped[str] = mapped_column(ID, ForeignKey("persons.id", ondelete="CASCADE"))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)  # sealed under the sender's data key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    __table_args__ = (Index("ix_messages_conversation_id_id", "conversation_id", "id"),)


class OutboxRow(Base):
    """Development delivery: what would have been sent, sealed under the outbox key."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- contact discovery ----------------------------------------------------------------------

class AddressBookEdge(Base):
    """One member in a person's synced address book: `owner_id` has `contact_id`'s number or
    email. Only members are kept, as ids; non-members' identifiers are never stored.

    Both ids are people, but not by foreign key: a first sync writes hundreds of edges, and
    PostgreSQL checks a foreign key with one query per row and column (two per edge, 40% of
    the insert), probing and locking rows the sync has just read. Instead the sync holds,
    until it commits, the rows it already reads: the searcher's own (`Repository.sync_facts`,
    FOR KEY SHARE, what a foreign-key check locks) and the identifier rows its book matched
    (`Repository.members_by_bidx` with `hold_for`, FOR KEY SHARE; the searcher's own are
    only read); the edges are then written from that list (`Repository.add_edges_always`).
    Erasing a person first takes their identifier rows, then their row, FOR UPDATE
    (`Repository.lock_person`, the order in which a sync takes them), so it waits for any
    sync that found them or is theirs, then deletes that sync's edges with the rest
    (`Repository.erase_person`), and a later sync finds nobody. tests/test_address_book_edges.py
    (each lock and the order checked against a mutated version, deadlocks included)."""

    __tablename__ = "address_book_edges"
    owner_id: Mapped[str] = mapped_column(ID, primary_key=True)
    contact_id: Mapped[str] = mapped_column(ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # owner was shown contact
    # the owner vouched for the contact: counts toward the contact's standing (known_by). Set
    # when the owner syncs while established or old enough (DiscoveryLimits.vouches)
    vouches: Mapped[bool] = mapped_column(Boolean, server_default=false())
    __table_args__ = (Index("ix_address_book_edges_contact_owner", "contact_id", "owner_id"),)


class DiscoverySeen(Base):
    """Which identifiers a person has sent before (so re-sending is free), as lossy 20-bit
    tags keyed per person: a tag stands for a large set of possible numbers, so the table
    cannot be turned back into anyone's address book. One row a person, the tags packed
    (adapters.crypto.seen_tags.pack): a first sync writes one row, not a thousand."""

    __tablename__ = "discovery_seen_sets"
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    tags: Mapped[bytes] = mapped_column(LargeBinary)


class DiscoveryState(Base):
    """Durable discovery facts about a person: an escalation level that must survive a
    restart (re-verify, frozen), and until when they are hidden from strangers."""

    __tablename__ = "discovery_state"
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, default=0)
    hidden_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DiscoveryNotice(Base):
    """Something the person is told about discovery (e.g. hidden after many strangers)."""

    __tablename__ = "discovery_notices"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DiscoveryAlert(Base):
    """An operator alert from the discovery detectors. Subjects are account ids, address
    groups or number blocks; never a phone number or an email address."""

    __tablename__ = "discovery_alerts"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[str | None] = mapped_column(String(32), index=True)
    level: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- apps and partners (services.apps) --------------------------------------------------------


class AppRow(Base):
    """A registered third-party app or partner client. Not PII: it describes a company."""

    __tablename__ = "apps"
    id: Mapped[str] = mapped_column(ID, primary_key=True)  # the OAuth client_id
    kind: Mapped[str] = mapped_column(String(8))  # "app" | "partner"
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    secret_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id; None: public client
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    requested: Mapped[dict[str, list[str]]] = mapped_column(JSON)  # field -> purposes
    privacy_policy_url: Mapped[str] = mapped_column(String(2048))
    deletion_callback_url: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_reason: Mapped[str | None] = mapped_column(String(500))


class PartnerAgreementRow(Base):
    """An operator's agreement with a partner: what it may receive (field:purpose pairs), on
    what legal basis, from when until when. People still opt in one by one before anything
    about them flows; the agreement only bounds what they can be asked for."""

    __tablename__ = "partner_agreements"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"),
                                            index=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    legal_basis: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the people who opted in were queued deletion callbacks, once the partner had no
    # agreement left in force (set once)
    wound_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(500))


class AppAuthorizationRow(Base):
    """One person's authorization of one app: the grants (field:purpose) they ticked, the id the
    app knows them by, and when they last used it (access to non-public fields expires)."""

    __tablename__ = "app_authorizations"
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"),
                                        primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True, index=True)
    scoped_id: Mapped[str] = mapped_column(String(32))  # random, per app: unlinkable across apps
    grants: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("app_id", "scoped_id", name="uq_app_authorizations_scoped"),)


class OAuthCodeRow(Base):
    __tablename__ = "oauth_codes"
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(ID, ForeignKey("persons.id", ondelete="CASCADE"),
                                           index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(2000))
    resource: Mapped[str] = mapped_column(String(2048))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))  # RFC 9449 §10: code bound to a key
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    family_id: Mapped[str] = mapped_column(ID)  # the tokens this code was exchanged for


class OAuthTokenRow(Base):
    """An access token and its refresh token, both stored only as SHA-256, bound to the DPoP
    key `jkt`. Refreshing makes a new row in the same family; reuse of a rotated refresh token
    revokes the family (RFC 9700 §4.14.2)."""

    __tablename__ = "oauth_tokens"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    access_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    refresh_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    family_id: Mapped[str] = mapped_column(ID, index=True)
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(2000))
    resource: Mapped[str] = mapped_column(String(2048))
    jkt: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TokenRevocationRow(Base):
    """Revoke every token issued before a moment, for one app, one person or everyone, with
    one row write (the 90-million logout is one statement, not 90 million)."""

    __tablename__ = "token_revocations"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # "all" | "app" | "person"
    subject: Mapped[str] = mapped_column(String(32), primary_key=True)  # "*" for "all"
    revoked_before: Mapped[datetime] = mapped_column(UTCDateTime)


class AccessEventRow(Base):
    """Every access to a person's data by an app or partner: who, which fields, which purpose,
    when. The transparency log (a later capability) is fed from here."""

    __tablename__ = "access_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    # None only for a refused call that named nobody (a partner's, outside its purposes)
    person_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    # what the entry records: "app_access", "operator_access", "export", "app_removed",
    # "discovery_finds" and "friend_views" (one a day, counted), "erasure"
    kind: Mapped[str] = mapped_column(String(24), default="app_access",
                                      server_default="app_access")
    actor_kind: Mapped[str] = mapped_column(String(8))
    actor_id: Mapped[str] = mapped_column(ID, index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # "released" | "refused"
    route: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    detail: Mapped[dict | None] = mapped_column(JSON)  # counts, reason references
    # its leaf in the tamper-evident log once the sequencer has appended it (None until then)
    log_index: Mapped[int | None] = mapped_column(BigInteger)
    # the sequencer's queue, oldest first: a partial index holds only the pending events
    __table_args__ = (Index("ix_access_events_pending", "id",
                            sqlite_where=text("log_index IS NULL"),
                            postgresql_where=text("log_index IS NULL")),)


class DailyTallyRow(Base):
    """Today's running counts that the access log records once a day, never itemised: how
    many people found this person through contact discovery (and how many of them were
    strangers), how many times friends viewed their profile. Itemising friends' views would
    tell the person who looked at them: the viewer's privacy matters too."""

    __tablename__ = "daily_tallies"
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    strangers: Mapped[int] = mapped_column(Integer)


class TallyBatchRow(Base):
    """One request's additions to `daily_tallies` (the people one sync found, a friend's view
    of a profile), written in the request's transaction as a single row and folded into the
    tallies by the background job (`log_repository.fold_tallies`): a sync finds hundreds of
    people, and an upsert per person was a tenth of its cost (a page of the tallies' key
    index per person). `counts` is JSON: {person_id: [count, strangers]}."""

    __tablename__ = "tally_batches"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    day: Mapped[date] = mapped_column(Date)
    counts: Mapped[str] = mapped_column(Text)


class AppCallbackRow(Base):
    """A deletion callback owed to an app or partner: the person (by their app-scoped id, which
    means nothing once they are erased) removed it or was erased. Delivered with retries."""

    __tablename__ = "app_callbacks"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"),
                                        index=True)
    scoped_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(16))  # removed | erased | agreement_ended
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))


# --- the tamper-evident access log (services.transparency) ----------------------------------


class LogLeafRow(Base):
    """One entry of the append-only Merkle log (RFC 6962). The canonical entry bytes (what the
    leaf hash covers) are sealed under the person's data key: erasure makes them unreadable
    while the hash keeps the tree, and every earlier proof, intact."""

    __tablename__ = "log_leaves"
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    person_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="SET NULL"))
    person_seq: Mapped[int] = mapped_column(Integer)  # the entry's number among the person's
    entry_ct: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # True for the entry that records an erasure: written in the clear (it holds an opaque id
    # and counts, nothing personal), since the key that sealed everything else is gone
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # a person's entries in order, and the end of their chain, in one index seek
    __table_args__ = (Index("ix_log_leaves_person_id_index", "person_id", "index"),)


class LogNodeRow(Base):
    """The hash of every complete, aligned subtree above the leaves: level k >= 1, index i
    covers leaves [i * 2^k, (i + 1) * 2^k) (level 0 is `log_leaves.leaf_hash`). Proofs for
    any size are built from these."""

    __tablename__ = "log_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogHeadRow(Base):
    """A signed tree head, written in the same transaction as the leaves it covers."""

    __tablename__ = "log_heads"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


# --- notifications (services.notifications) -----------------------------------------------------


class NotificationRow(Base):
    """One item of a person's in-app feed. `detail` names apps and counts, never another
    person's data."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ID, ForeignKey("persons.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None: not yet considered for email; set when emailed or when email was not wanted
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class NotificationSettingsRow(Base):
    __tablename__ = "notification_settings"
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[dict[str, str]] = mapped_column(JSON)  # kind -> immediate | daily | off
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppFieldUseRow(Base):
    """The first time an app or partner received one field of one person: when an app starts
    using a field it had not used before, the person is told."""

    __tablename__ = "app_field_uses"
    app_id: Mapped[str] = mapped_column(ID, ForeignKey("apps.id", ondelete="CASCADE"),
                                        primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True, index=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CanaryRow(Base):
    """A synthetic person minted for exactly one recipient (a discovery account, an app, a
    partner) and shown to nobody else: if it turns up in a dump, that recipient is where the
    dump came from. Stored in the clear: nothing here is about a real person."""

    __tablename__ = "canaries"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(String(16))  # "discovery" | "app" | "partner"
    recipient_id: Mapped[str] = mapped_column(ID, index=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164, unregistered here
    email: Mapped[str] = mapped_column(String(320), unique=True)  # random, unguessable
    profile: Mapped[dict] = mapped_column(JSON)  # name, birthday, location, ...
    # the id the recipient was shown for it: an app-scoped id, or the person id a discovery
    # match carries; random, so finding it in a dump is strong evidence on its own
    scoped_id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CanaryWatchRow(Base):
    """A recipient under watch: canaries are served to it (a discovery account the detectors
    flagged, an app or partner the audits or the operator flagged)."""

    __tablename__ = "canary_watch"
    recipient_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(ID, primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LeakIncidentRow(Base):
    """A dump that was scanned: what it is (its SHA-256), when it was first seen, what it
    held and who it is attributed to."""

    __tablename__ = "leak_incidents"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(500))  # the file name the operator gave
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(BigInteger)
    failed_rows: Mapped[int] = mapped_column(BigInteger)
    matched_people: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict] = mapped_column(JSON)  # field -> matched people it exposes
    attribution: Mapped[list] = mapped_column(JSON)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LeakExposureRow(Base):
    """One person held here found in an incident, and which of their fields it holds."""

    __tablename__ = "leak_exposures"
    incident_id: Mapped[str] = mapped_column(
        ID, ForeignKey("leak_incidents.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True, index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)


class LeakIdentifierRow(Base):
    """Every phone number and email in an incident's dump, by blind index, with the fields
    its row held: what the exposure check answers from, for members and non-members alike,
    once the asker has proved control of the identifier. The dump itself is not kept."""

    __tablename__ = "leak_identifiers"
    incident_id: Mapped[str] = mapped_column(
        ID, ForeignKey("leak_incidents.id", ondelete="CASCADE"), primary_key=True)
    value_bidx: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True, index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
