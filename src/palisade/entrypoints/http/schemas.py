"""Request and response bodies: the API contract as it appears in OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from palisade.domain.access import Relationship
from palisade.domain.profile import Audience, ProfileField

# Every id Palisade issues is url-safe base64 (secrets.token_urlsafe). Anything else is refused
# at the contract with a 422, before it can reach a database (PostgreSQL rejects NUL in text).
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
PathId = Annotated[str, Path(pattern=ID_PATTERN)]
QueryId = Annotated[str | None, Query(pattern=ID_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeRequest(Strict):
    identifier: str = Field(max_length=320, examples=["+1 201 555 0100", "ada@example.com"])


class CodeSentOut(BaseModel):
    sent_to: str = Field(description="Masked: enough to recognise, not to read back")
    expires_in_seconds: int


class SignInRequest(Strict):
    identifier: str = Field(max_length=320)
    code: str | None = Field(None, max_length=16, description="The one-time code, or…")
    password: str | None = Field(None, max_length=1024, description="…a password, if set")


class SessionOut(BaseModel):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    person_id: str
    created: bool = Field(description="True when this sign-in registered a new person")
    expires_at: datetime


class SessionInfo(BaseModel):
    id: str
    method: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


class ProfileFields(BaseModel):
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    birthday: str | None = None
    location: str | None = None
    bio: str | None = None
    relationship_status: str | None = None
    photo_url: str | None = None


class ProfileOut(BaseModel):
    person_id: str
    relationship: Relationship
    fields: ProfileFields


class OwnProfileOut(BaseModel):
    person_id: str
    fields: ProfileFields
    audiences: dict[ProfileField, Audience]


class ProfileUpdate(Strict):
    fields: dict[ProfileField, str | None] = Field(
        default_factory=dict, description="null clears a field")
    audiences: dict[ProfileField, Audience] = Field(default_factory=dict)


class ViewAsOut(BaseModel):
    viewed_as: str = Field(description="everyone, friends_of_friends, friends, or person")
    fields: ProfileFields
    note: str = "A preview only: no session or token was created for anyone."


class IdentifierOut(BaseModel):
    id: str
    kind: Literal["phone", "email"]
    value: str
    verified_at: datetime


class IdentifierVerify(Strict):
    identifier: str = Field(max_length=320)
    code: str = Field(max_length=16)


class PasswordChange(Strict):
    new_password: str = Field(max_length=1024)
    current_password: str | None = Field(None, max_length=1024)


class PersonRef(Strict):
    person_id: Id


class FriendRequestResult(BaseModel):
    status: Literal["pending", "friends"]
    request_id: str | None


class FriendRequestOut(BaseModel):
    id: str
    from_person: str
    to_person: str
    created_at: datetime


class FriendOut(BaseModel):
    person_id: str
    name: str | None


class FriendsPage(BaseModel):
    friends: list[FriendOut]
    next_after: str | None


class BlockOut(BaseModel):
    person_id: str
    created_at: datetime


class ConversationOut(BaseModel):
    id: str
    with_person: str
    disappearing_seconds: int | None
    created_at: datetime


class TimerUpdate(Strict):
    disappearing_seconds: int | None = Field(
        description="5 s to 365 days; 0 or null switches the timer off")


class MessageIn(Strict):
    body: str = Field(max_length=10_000)


class MessageOut(BaseModel):
    id: int
    sender_id: str
    body: str
    sent_at: datetime
    expires_at: datetime | None


# --- contact discovery -------------------------------------------------------------------------
Entry = Annotated[str, StringConstraints(max_length=320)]


class SyncIn(Strict):
    mode: Literal["full", "incremental"] = Field(
        "full", description="full: this is the whole address book (re-sending it is free); "
        "incremental: additions and removals since the last sync")
    contacts: list[Entry] = Field(default_factory=list, max_length=10_000,
                                  description="Phone numbers and emails, in any common format")
    removed: list[Entry] = Field(default_factory=list, max_length=10_000,
                                 description="incremental only: entries deleted from the book")


class MatchOut(BaseModel):
    person_id: str
    relationship: Relationship
    identifiers: list[str] = Field(description="Your entries (normalised) that found them")
    fields: ProfileFields


class SyncOut(BaseModel):
    matches: list[MatchOut]
    received: int
    unreadable: int = Field(description="Entries that are not a phone number or email")
    charged: int = Field(description="Entries you had not sent before (only these count "
                         "against your allowance)")


class DiscoverabilityOut(BaseModel):
    identifier_id: str
    kind: str
    discoverability: Literal["everyone", "friends_of_friends", "mutual_contacts", "nobody"]


class DiscoverabilityIn(Strict):
    discoverability: Literal["everyone", "friends_of_friends", "mutual_contacts", "nobody"]


class NoticeOut(BaseModel):
    kind: str
    detail: str
    created_at: datetime


class ReverifyIn(Strict):
    identifier: str = Field(max_length=320)
    code: str = Field(max_length=16)


class AlertOut(BaseModel):
    id: int
    kind: str
    subject: str = Field(description="An account id, an address group or a number block")
    account_id: str | None
    level: str | None
    detail: str
    created_at: datetime


# --- apps and partners ----------------------------------------------------------------------

from palisade.domain.apps.grants import AppField, Purpose  # noqa: E402


class AppRegistration(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Birthday Calendar"])
    redirect_uris: list[Annotated[str, StringConstraints(max_length=2048)]] = Field(
        min_length=1, max_length=10, examples=[["https://calendar.example.com/callback"]],
        description="Exact redirect URIs (https, or http to a loopback address)")
    requested: dict[AppField, list[Purpose]] = Field(
        min_length=1, examples=[{"name": ["sign_in"], "birthday": ["personalisation"]}],
        description="Each field the app may ask for, with the purposes it declares for it")
    privacy_policy_url: str = Field(max_length=2048)
    deletion_callback_url: str = Field(
        max_length=2048, description="Called when a person removes the app or is erased")
    confidential: bool = Field(True, description="False for a public client (no secret)")


class AppRegistered(BaseModel):
    client_id: str
    client_secret: str | None = Field(description="Shown once; keep it secret")
    callback_signing_secret: str = Field(
        description="Verifies the Palisade-Signature (HMAC-SHA-256) of deletion callbacks")


class AppOut(BaseModel):
    client_id: str
    kind: str
    name: str
    redirect_uris: list[str]
    requested: dict[str, list[str]]
    privacy_policy_url: str
    deletion_callback_url: str
    confidential: bool
    created_at: datetime
    suspended: bool


class AuthorizedAppOut(BaseModel):
    app_id: str
    name: str
    kind: str
    grants: list[str] = Field(description="field:purpose pairs you allowed")
    authorized_at: datetime
    last_used_at: datetime
    non_public_access_until: datetime


class GraphPersonOut(BaseModel):
    id: str = Field(description="This person's id for your app only")
    fields: dict[str, str]


class GraphPageOut(BaseModel):
    data: list[GraphPersonOut]
    next_cursor: str | None


class RevokeTokensRequest(Strict):
    app_id: Id | None = None
    person_id: Id | None = None
    everyone: bool = False


class RevokedOut(BaseModel):
    revoked_before: datetime


class SessionsEndRequest(Strict):
    person_id: Id | None = None
    everyone: bool = False


class SessionsEndedOut(BaseModel):
    ended: int


class SuspendRequest(Strict):
    reason: str = Field(min_length=1, max_length=500)


class PartnerCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    privacy_policy_url: str = Field(max_length=2048)
    deletion_callback_url: str = Field(max_length=2048)


class AgreementCreate(Strict):
    scopes: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        min_length=1, max_length=100, examples=[["birthday:research"]])
    legal_basis: Literal["consent", "contract", "legal_obligation", "vital_interests",
                         "public_task", "legitimate_interests"]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str = Field("", max_length=500)


class AgreementOut(BaseModel):
    id: str
    partner_id: str
    scopes: list[str]
    legal_basis: str
    starts_at: datetime
    ends_at: datetime
    terminated_at: datetime | None
    note: str


class PartnerOfferOut(BaseModel):
    partner_id: str
    name: str
    privacy_policy_url: str
    may_ask_for: list[str]
    legal_bases: list[str]
    ends_at: datetime
    opted_in: list[str]


class OptIn(Strict):
    grants: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        min_length=1, max_length=100, description="field:purpose pairs you allow this partner")


class AuditFindingOut(BaseModel):
    kind: str
    detail: str
    suspend: bool


class AuditReportOut(BaseModel):
    app_id: str
    consenting: int
    received: int
    refused_calls: int
    reads_last_day: int
    granted: list[str]
    used: list[str]
    findings: list[AuditFindingOut]
    suspended: bool


# --- transparency -----------------------------------------------------------------------------


class TreeHeadOut(BaseModel):
    size: int
    root: str = Field(description="base64 SHA-256 Merkle tree head (RFC 6962)")
    timestamp_ms: int
    signature: str = Field(description="base64 Ed25519 signature of the head")
    public_key: str = Field(description="base64 raw Ed25519 public key of the log")


class LogEntryOut(BaseModel):
    index: int
    entry: dict
    leaf_hash: str
    inclusion_proof: list[str] = Field(description="base64 audit path, leaf side first")


class ErasureReceipt(BaseModel):
    person_id: str
    erased_at: datetime
    data_key_destroyed: bool
    rows_deleted: dict[str, int]
    log_entry: LogEntryOut = Field(description="The erasure's entry in the access log, with "
                                   "its inclusion proof against `log_head`")
    log_head: TreeHeadOut


class EarlierHeadOut(BaseModel):
    head: TreeHeadOut
    consistency_proof: list[str] = Field(description="base64, RFC 9162 §2.1.4")


class AccessLogOut(BaseModel):
    format: str = "palisade-access-log/v1"
    head: TreeHeadOut
    earlier: EarlierHeadOut | None = None
    entries: list[LogEntryOut]


# --- notifications --------------------------------------------------------------------------


class NotificationOut(BaseModel):
    id: int
    kind: str
    detail: str
    created_at: datetime
    read: bool


class NotificationFeedOut(BaseModel):
    unread: int
    items: list[NotificationOut]


class MarkRead(Strict):
    up_to: int | None = Field(None, ge=1, le=2**62, description="Mark read up to this id; "
                              "omit for all")


class NotificationPreferences(Strict):
    email: dict[Literal["new_app_access", "app_new_field", "new_sign_in", "stranger_lookups",
                        "leak_found"], Literal["immediate", "daily", "off"]] = Field(
        description="For each kind: email at once, in a daily digest, or not at all (the "
        "in-app feed always has everything)")


# --- operator access ---------------------------------------------------------------------------
class OperatorViewOut(BaseModel):
    person_id: str
    fields: dict[str, str | None]
    identifiers: list[dict[str, str]]
    recorded: str = Field(description="Where the person will see this read")


# --- exposure check ----------------------------------------------------------------------------
class ExposureRequest(ReverifyIn):
    """The identifier to check and the code sent to it."""


class IncidentExposureOut(BaseModel):
    incident_id: str
    name: str
    first_seen_at: datetime
    fields: list[str] = Field(description="What the leaked row with this identifier held")


class ExposureOut(BaseModel):
    found: bool
    incidents: list[IncidentExposureOut]


class AttributionOut(BaseModel):
    recipient: str = Field(description="discovery:<account>, app:<client_id> or "
                           "partner:<client_id>")
    kind: str = Field(description="canary, or scoped_id (an app's own ids)")
    shown: int
    found: int
    p_value: float = Field(description="Corrected for the number of recipients tested")
    verdict: Literal["attributed", "suspected", "not_attributed"]


class LeakScanOut(BaseModel):
    incident_id: str | None = Field(description="None when the scan was not recorded")
    new: bool = Field(description="False when this file (by SHA-256) was recorded before")
    sha256: str
    size: int
    format: str
    rows: int
    failed_rows: int
    people_matched: int
    fields: dict[str, int] = Field(description="field -> matched people whose row held it")
    canary_hits: int
    attribution: list[AttributionOut]
    notified: int
