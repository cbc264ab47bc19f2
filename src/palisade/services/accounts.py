"""People and their identifiers: one-time codes, registration, sign-in, sessions, passwords.

Privacy rules enforced here:
- Asking for a code answers the same whether or not the identifier belongs to anyone, so the
  sign-in form is not a membership oracle. Registration happens only once the code proves
  control of the identifier.
- Wrong identifier and wrong password fail identically and take the same time.
- Session tokens and codes are stored only as hashes/MACs and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from palisade.adapters.crypto.blind_index import BlindIndex
from palisade.adapters.crypto.envelope import seal
from palisade.adapters.delivery.codes import CodeDelivery, DeliveryFailed
from palisade.adapters.limits.counters import RateLimiter
from palisade.adapters.passwords import Passwords
from palisade.adapters.storage.database import UnitOfWork
from palisade.adapters.storage.repository import Repository
from palisade.adapters.storage.tables import IdentifierRow, OneTimeCodeRow, SessionRow
from palisade.config import Settings
from palisade.domain import one_time_codes as otp
from palisade.domain.errors import (
    CodeExpired,
    CodeIncorrect,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    RateLimited,
    SignInFailed,
    Unauthenticated,
)
from palisade.domain.identifiers import Identifier, parse_identifier
from palisade.domain.notifications import NotificationKind
from palisade.services.clock import Clock
from palisade.services.notifications import notify
from palisade.services.people import PersonKeys, identifier_context, new_id

TOKEN_PREFIX = "pls_"
TOUCH_EVERY = timedelta(minutes=5)
# The same words whether the identifier is someone else's or nobody's: no membership oracle.
NOT_YOURS = "Use one of your own verified phone numbers or email addresses."


class DeliveryUnavailable(DomainError):
    code = "delivery-unavailable"
    status = 503
    title = "The code could not be sent right now; try again shortly"


@dataclass(frozen=True)
class CodeSent:
    sent_to: str  # masked
    expires_in: int


@dataclass(frozen=True)
class SignedIn:
    token: str
    person_id: str
    created: bool
    expires_at: datetime


@dataclass(frozen=True)
class AuthSession:
    person_id: str
    session_id: str


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Accounts:
    def __init__(self, settings: Settings, uow: UnitOfWork, keys: PersonKeys,
                 blind_index: BlindIndex, code_key: Callable[[], bytes], passwords: Passwords,
                 limiter: RateLimiter, delivery: CodeDelivery, clock: Clock) -> None:
        self.settings = settings
        self.uow = uow
        self.keys = keys
        self.bidx = blind_index
        self._code_key = code_key  # a callable, so a reloaded keyring is picked up
        self.passwords = passwords
        self.limiter = limiter
        self.delivery = delivery
        self.clock = clock

    # --- helpers -----------------------------------------------------------------------
    def parse(self, raw: str) -> Identifier:
        return parse_identifier(raw, self.settings.default_region)

    def _code_mac(self, bidx: bytes, purpose: str, code: str) -> bytes:
        msg = bidx + purpose.encode() + b"\x00" + code.encode()
        return hmac.new(self._code_key(), msg, hashlib.sha256).digest()

    def _limit(self, key: str, limit: int, window: int, detail: str) -> None:
        verdict = self.limiter.hit(key, limit, window)
        if not verdict.allowed:
            raise RateLimited(detail, retry_after=verdict.retry_after)

    def _new_session(self, repo: Repository, person_id: str, method: str,
                     now: datetime) -> tuple[str, datetime]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = now + timedelta(days=self.settings.session_idle_days)
        repo.add(SessionRow(id=new_id(), token_hash=hash_token(token), person_id=person_id,
                            created_at=now, last_seen_at=now, expires_at=expires, method=method))
        return token, expires

    # --- codes -------------------------------------------------------------------------
    def request_code(self, raw_identifier: str, client_address: str,
                     purpose: otp.Purpose = otp.Purpose.SIGN_IN,
                     person_id: str | None = None) -> CodeSent:
        identifier = self.parse(raw_identifier)
        bidx = self.bidx.of(identifier)
        s = self.settings
        self._limit(f"code:addr:{client_address}", s.code_sends_per_address_per_hour, 3600,
                    "Too many codes were requested from your network. Try again later.")
        tag = bidx.hex()  # limiter keys never hold the identifier itself
        self._limit(f"code:id:{tag}:burst", 1, s.code_resend_interval_seconds,
                    "A code was just sent. Wait a little before asking for another.")
        self._limit(f"code:id:{tag}:hour", s.code_sends_per_identifier_per_hour, 3600,
                    "Too many codes were sent to this address. Try again later.")
        now = self.clock()
        code = f"{secrets.randbelow(10**otp.CODE_DIGITS):0{otp.CODE_DIGITS}d}"
        with self.uow() as session:
            repo = Repository(session)
            if purpose is otp.Purpose.REVERIFY:
                owner = repo.identifier_by_bidx(bidx)
                if owner is None or owner.person_id != person_id:
                    raise InvalidInput(NOT_YOURS)
            if purpose is otp.Purpose.ADD_IDENTIFIER:
                owner = repo.identifier_by_bidx(bidx)
                if owner is not None and owner.person_id == person_id:
                    raise Conflict("This is already one of your verified identifiers.")
            repo.delete_codes(bidx, purpose.value)  # only the newest code is ever valid
            repo.add(OneTimeCodeRow(
                id=new_id(), identifier_bidx=bidx, purpose=purpose.value, person_id=person_id,
                code_mac=self._code_mac(bidx, purpose.value, code), created_at=now,
                expires_at=now + timedelta(seconds=s.code_ttl_seconds), attempts=0))
            text = (f"Your Palisade code is {code}. It expires in "
                    f"{s.code_ttl_seconds // 60} minutes. Never share it with anyone.")
            try:
                self.delivery.send(repo, identifier, text, now)
            except DeliveryFailed as exc:
                raise DeliveryUnavailable(str(exc)) from None
        return CodeSent(sent_to=identifier.masked(), expires_in=s.code_ttl_seconds)

    def _consume_code(self, repo: Repository, bidx: bytes, purpose: otp.Purpose, code: str,
                      person_id: str | None = None) -> None:
        """Check a code; record the attempt even when it fails (so it commits)."""
        now = self.clock()
        row = repo.latest_code(bidx, purpose.value)
        if row is None or (person_id is not None and row.person_id != person_id):
            raise CodeExpired("There is no valid code for this. Ask for a new one.")
        code = (code or "").strip()
        matches = hmac.compare_digest(row.code_mac, self._code_mac(bidx, purpose.value, code))
        state = otp.CodeState(expires_at=row.expires_at, attempts=row.attempts,
                              consumed=row.consumed_at is not None)
        outcome, new_state = otp.check(state, matches, now)
        row.attempts = new_state.attempts
        if new_state.consumed:
            row.consumed_at = now
        if outcome is otp.Outcome.ACCEPTED:
            return
        repo.s.commit()  # keep the failed attempt even though we raise
        if outcome is otp.Outcome.WRONG:
            raise CodeIncorrect(f"That code is not correct. {otp.tries_left(new_state)} "
                                "tries left.", tries_left=otp.tries_left(new_state))
        if outcome is otp.Outcome.EXHAUSTED:
            raise CodeExpired("Too many wrong tries: this code no longer works. "
                              "Ask for a new one.")
        raise CodeExpired("This code has expired or was already used. Ask for a new one.")

    def confirm_control(self, person_id: str, raw_identifier: str, code: str) -> None:
        """The signed-in person proves again that they control one of their identifiers."""
        identifier = self.parse(raw_identifier)
        bidx = self.bidx.of(identifier)
        with self.uow() as session:
            repo = Repository(session)
            row = repo.identifier_by_bidx(bidx)
            if row is None or row.person_id != person_id:
                raise InvalidInput(NOT_YOURS)
            self._consume_code(repo, bidx, otp.Purpose.REVERIFY, code, person_id)

    def prove_control(self, raw_identifier: str, code: str, purpose: otp.Purpose) -> bytes:
        """Anyone, member or not, proves control of an identifier with the code sent to it;
        returns its blind index (for the exposure check)."""
        bidx = self.bidx.of(self.parse(raw_identifier))
        with self.uow() as session:
            self._consume_code(Repository(session), bidx, purpose, code)
        return bidx

    # --- sign-in -------------------------------------------------------------------------
    def sign_in_with_code(self, raw_identifier: str, code: str) -> SignedIn:
        identifier = self.parse(raw_identifier)
        bidx = self.bidx.of(identifier)
        with self.uow() as session:
            repo = Repository(session)
            self._consume_code(repo, bidx, otp.Purpose.SIGN_IN, code)
            now = self.clock()
            existing = repo.identifier_by_bidx(bidx)
            if existing is None:
                person_id = self.keys.create_person(repo, identifier, bidx, now)
                created = True
            else:
                person_id, created = existing.person_id, False
                notify(session, person_id, NotificationKind.NEW_SIGN_IN,
                       "New sign-in to your account with a one-time code.", now)
            token, expires = self._new_session(repo, person_id, "code", now)
        return SignedIn(token, person_id, created, expires)

    def sign_in_with_password(self, raw_identifier: str, password: str,
                              client_address: str) -> SignedIn:
        identifier = self.parse(raw_identifier)
        bidx = self.bidx.of(identifier)
        self._limit(f"password:id:{bidx.hex()}",
                    self.settings.password_attempts_per_identifier_per_15min, 900,
                    "Too many sign-in attempts for this account. Try again later.")
        with self.uow() as session:
            repo = Repository(session)
            row = repo.identifier_by_bidx(bidx)
            person = repo.person(row.person_id) if row else None
            ok = self.passwords.verify(person.password_hash if person else None, password or "")
            if not ok or person is None:
                raise SignInFailed("The identifier or password is not correct.")
            now = self.clock()
            notify(session, person.id, NotificationKind.NEW_SIGN_IN,
                   "New sign-in to your account with your password.", now)
            token, expires = self._new_session(repo, person.id, "password", now)
        return SignedIn(token, person.id, False, expires)

    def authenticate(self, token: str | None) -> AuthSession:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise Unauthenticated("Sign in first: send 'Authorization: Bearer <session token>'.")
        now = self.clock()
        with self.uow() as session:
            repo = Repository(session)
            row = repo.session_by_hash(hash_token(token))  # look-up by hash: no timing oracle
            if row is None or row.expires_at <= now:
                raise Unauthenticated("Your session has ended. Sign in again.")
            if now - row.last_seen_at > TOUCH_EVERY:
                repo.touch_session(row.id, now,
                                   now + timedelta(days=self.settings.session_idle_days))
            return AuthSession(row.person_id, row.id)

    def sign_out(self, auth: AuthSession) -> None:
        with self.uow() as session:
            Repository(session).delete_session(auth.session_id)

    def sign_out_everywhere(self, person_id: str) -> int:
        with self.uow() as session:
            return Repository(session).delete_sessions_of(person_id)

    def end_sessions_of(self, person_id: str) -> int:
        """Operator: end every session of one person, who must exist (an unknown id is a
        404, not a silent `ended: 0` that reads like success)."""
        with self.uow() as session:
            repo = Repository(session)
            if repo.person(person_id) is None:
                raise NotFound("No such person.")
            return repo.delete_sessions_of(person_id)

    def sign_out_everyone(self) -> int:
        """Operator: end every session of every person (after a credential theft), one
        statement; each process checks sessions in the database on every request, so the
        next request with any of them is refused."""
        with self.uow() as session:
            return Repository(session).delete_all_sessions()

    def sessions(self, person_id: str) -> list[SessionRow]:
        with self.uow() as session:
            return list(Repository(session).sessions_of(person_id))

    def set_password(self, person_id: str, new_password: str,
                     current_password: str | None) -> None:
        new_hash = self.passwords.hash(new_password)
        with self.uow() as session:
            repo = Repository(session)
            person = repo.person(person_id)
            if person is None:
                raise NotFound("No such person.")
            if person.password_hash and not self.passwords.verify(person.password_hash,
                                                                  current_password or ""):
                raise SignInFailed("The current password is not correct.")
            person.password_hash = new_hash

    # --- identifiers -----------------------------------------------------------------------
    def identifiers(self, person_id: str) -> list[dict[str, str]]:
        with self.uow() as session:
            repo = Repository(session)
            key = self.keys.data_key(repo, person_id)
            return [{"id": r.id, "kind": r.kind, "value": self.keys.open_identifier(key, r),
                     "verified_at": r.verified_at.isoformat()}
                    for r in repo.identifiers_of(person_id)]

    def add_identifier(self, person_id: str, raw_identifier: str, code: str) -> str:
        identifier = self.parse(raw_identifier)
        bidx = self.bidx.of(identifier)
        with self.uow() as session:
            repo = Repository(session)
            self._consume_code(repo, bidx, otp.Purpose.ADD_IDENTIFIER, code, person_id)
            existing = repo.identifier_by_bidx(bidx)
            if existing is not None:
                # Said only after the caller proved control of the identifier.
                if existing.person_id == person_id:
                    raise Conflict("This is already one of your verified identifiers.")
                raise Conflict("This identifier belongs to another account. Sign in to it "
                               "and remove it there first.")
            key = self.keys.data_key(repo, person_id)
            row_id = new_id()
            repo.add(IdentifierRow(
                id=row_id, person_id=person_id, kind=identifier.kind.value, value_bidx=bidx,
                verified_at=self.clock(),
                value_ct=seal(key, identifier.value.encode(),
                              identifier_context(person_id, identifier.kind.value))))
            return row_id

    def remove_identifier(self, person_id: str, identifier_id: str) -> None:
        with self.uow() as session:
            repo = Repository(session)
            rows = repo.identifiers_of(person_id)
            target = next((r for r in rows if r.id == identifier_id), None)
            if target is None:
                raise NotFound("You have no identifier with that id.")
            if len(rows) == 1:
                raise InvalidInput("This is your only way to sign in; add another identifier "
                                   "before removing it.")
            session.delete(target)
