"""Registration, one-time codes, sign-in, sessions, passwords and identifiers (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from palisade.domain import one_time_codes as otp
from palisade.domain.errors import (
    CodeExpired,
    CodeIncorrect,
    Conflict,
    InvalidIdentifier,
    InvalidInput,
    NotFound,
    RateLimited,
    SignInFailed,
    Unauthenticated,
)
from tests.conftest import last_code, register, unique_email, unique_phone, wrong_code


def test_pure_code_rules() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    state = otp.CodeState.issued(now, ttl=timedelta(minutes=10))
    outcome, state = otp.check(state, False, now)
    assert outcome is otp.Outcome.WRONG and otp.tries_left(state) == 4
    for _ in range(3):
        outcome, state = otp.check(state, False, now)
    outcome, state = otp.check(state, False, now)
    assert outcome is otp.Outcome.EXHAUSTED
    assert otp.check(state, True, now)[0] is otp.Outcome.EXHAUSTED  # even the right code
    fresh = otp.CodeState.issued(now, ttl=timedelta(minutes=10))
    ok, used = otp.check(fresh, True, now)
    assert ok is otp.Outcome.ACCEPTED and otp.check(used, True, now)[0] is otp.Outcome.USED
    assert otp.check(fresh, True, fresh.expires_at)[0] is otp.Outcome.EXPIRED


def test_register_by_code_creates_a_person_once(platform) -> None:
    phone = unique_phone()
    first = register(platform, phone)
    assert first.id
    platform.clock.advance(seconds=31)
    spaced = f"{phone[:2]} ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    platform.accounts.request_code(spaced, "192.0.2.1")
    again = platform.accounts.sign_in_with_code(spaced, last_code(platform, phone))
    assert again.person_id == first.id and not again.created


def test_code_request_answers_the_same_for_members_and_strangers(platform) -> None:
    member = register(platform)
    platform.clock.advance(seconds=31)
    a = platform.accounts.request_code(member.phone, "192.0.2.1")
    b = platform.accounts.request_code(unique_phone(), "192.0.2.1")
    assert type(a) is type(b) and a.expires_in == b.expires_in
    assert set(vars(a)) == {"sent_to", "expires_in"}


def test_code_is_single_use(platform) -> None:
    phone = unique_phone()
    platform.accounts.request_code(phone, "192.0.2.1")
    code = last_code(platform, phone)
    platform.accounts.sign_in_with_code(phone, code)
    with pytest.raises(CodeExpired):
        platform.accounts.sign_in_with_code(phone, code)


def test_code_expires(platform) -> None:
    phone = unique_phone()
    platform.accounts.request_code(phone, "192.0.2.1")
    platform.clock.advance(seconds=platform.settings.code_ttl_seconds + 1)
    with pytest.raises(CodeExpired):
        platform.accounts.sign_in_with_code(phone, last_code(platform, phone))


def test_five_wrong_tries_kill_the_code(platform) -> None:
    phone = unique_phone()
    platform.accounts.request_code(phone, "192.0.2.1")
    code = last_code(platform, phone)
    wrong = wrong_code(code)
    for left in (4, 3, 2, 1):
        with pytest.raises(CodeIncorrect) as err:
            platform.accounts.sign_in_with_code(phone, wrong)
        assert err.value.extra["tries_left"] == left
    with pytest.raises(CodeExpired):
        platform.accounts.sign_in_with_code(phone, wrong)
    with pytest.raises(CodeExpired):  # the right code no longer works either
        platform.accounts.sign_in_with_code(phone, code)


def test_only_the_newest_code_is_valid(platform) -> None:
    phone = unique_phone()
    platform.accounts.request_code(phone, "192.0.2.1")
    old = last_code(platform, phone)
    platform.clock.advance(seconds=31)
    platform.accounts.request_code(phone, "192.0.2.1")
    new = last_code(platform, phone)
    if old != new:
        with pytest.raises(CodeIncorrect):
            platform.accounts.sign_in_with_code(phone, old)
    assert platform.accounts.sign_in_with_code(phone, new).created


def test_code_sending_is_rate_limited_per_identifier(platform) -> None:
    phone = unique_phone()
    platform.accounts.request_code(phone, "192.0.2.1")
    with pytest.raises(RateLimited) as err:  # resend too soon
        platform.accounts.request_code(phone, "192.0.2.2")
    assert 0 < err.value.retry_after <= 30
    for _ in range(platform.settings.code_sends_per_identifier_per_hour - 1):
        platform.clock.advance(seconds=31)
        platform.accounts.request_code(phone, "192.0.2.3")
    platform.clock.advance(seconds=31)
    with pytest.raises(RateLimited):  # hourly cap, whatever the address
        platform.accounts.request_code(phone, "192.0.2.4")


def test_code_sending_is_rate_limited_per_address(platform) -> None:
    platform.settings.code_sends_per_address_per_hour = 3
    for _ in range(3):
        platform.accounts.request_code(unique_phone(), "198.51.100.7")
    with pytest.raises(RateLimited):
        platform.accounts.request_code(unique_phone(), "198.51.100.7")
    platform.accounts.request_code(unique_phone(), "198.51.100.8")  # another address is fine


def test_invalid_identifier_is_refused_before_anything_is_written(platform) -> None:
    with pytest.raises(InvalidIdentifier):
        platform.accounts.request_code("+1 555", "192.0.2.1")


def test_sessions_sign_out_and_sign_out_everywhere(platform) -> None:
    person = register(platform)
    assert platform.accounts.authenticate(person.token).person_id == person.id
    platform.clock.advance(seconds=31)
    platform.accounts.request_code(person.phone, "192.0.2.1")
    second = platform.accounts.sign_in_with_code(person.phone, last_code(platform, person.phone))
    auth = platform.accounts.authenticate(person.token)
    platform.accounts.sign_out(auth)
    with pytest.raises(Unauthenticated):
        platform.accounts.authenticate(person.token)
    assert platform.accounts.authenticate(second.token).person_id == person.id
    platform.accounts.sign_out_everywhere(person.id)
    with pytest.raises(Unauthenticated):
        platform.accounts.authenticate(second.token)


def test_tokens_are_stored_only_as_hashes(platform) -> None:
    person = register(platform)
    rows = platform.accounts.sessions(person.id)
    assert rows and all(person.token.encode() not in r.token_hash for r in rows)
    assert all(len(r.token_hash) == 32 for r in rows)


@pytest.mark.parametrize("token", [None, "", "garbage", "pls_" + "x" * 43, "pls_" + "y" * 500])
def test_bad_tokens_are_unauthenticated(platform, token) -> None:
    with pytest.raises(Unauthenticated):
        platform.accounts.authenticate(token)


def test_idle_sessions_expire(platform) -> None:
    person = register(platform)
    platform.clock.advance(days=platform.settings.session_idle_days + 1)
    with pytest.raises(Unauthenticated):
        platform.accounts.authenticate(person.token)


def test_password_sign_in_and_identical_failures(platform) -> None:
    person = register(platform)
    platform.accounts.set_password(person.id, "correct horse battery", None)
    ok = platform.accounts.sign_in_with_password(person.phone, "correct horse battery", "a")
    assert ok.person_id == person.id
    with pytest.raises(SignInFailed) as wrong_password:
        platform.accounts.sign_in_with_password(person.phone, "wrong password!!", "a")
    with pytest.raises(SignInFailed) as unknown_person:
        platform.accounts.sign_in_with_password(unique_phone(), "wrong password!!", "a")
    assert wrong_password.value.detail == unknown_person.value.detail
    with pytest.raises(SignInFailed):  # changing it needs the current one
        platform.accounts.set_password(person.id, "another long one", "not it at all")
    with pytest.raises(InvalidInput):
        platform.accounts.set_password(person.id, "short", "correct horse battery")


def test_password_guessing_is_rate_limited(platform) -> None:
    person = register(platform)
    platform.accounts.set_password(person.id, "correct horse battery", None)
    for _ in range(platform.settings.password_attempts_per_identifier_per_15min):
        with pytest.raises(SignInFailed):
            platform.accounts.sign_in_with_password(person.phone, "wrong guess 123", "a")
    with pytest.raises(RateLimited):
        platform.accounts.sign_in_with_password(person.phone, "correct horse battery", "a")


def test_add_and_remove_identifiers(platform) -> None:
    person = register(platform)
    email = unique_email()
    platform.accounts.request_code(email, "192.0.2.1", otp.Purpose.ADD_IDENTIFIER, person.id)
    platform.accounts.add_identifier(person.id, email.upper(), last_code(platform, email))
    kinds = {i["kind"]: i for i in platform.accounts.identifiers(person.id)}
    assert kinds["email"]["value"] == email and kinds["phone"]["value"] == person.phone
    # the email now signs in to the same person
    platform.clock.advance(seconds=31)
    platform.accounts.request_code(email, "192.0.2.1")
    assert platform.accounts.sign_in_with_code(email, last_code(platform, email)).person_id \
        == person.id
    platform.accounts.remove_identifier(person.id, kinds["phone"]["id"])
    with pytest.raises(InvalidInput):  # the last one cannot go
        platform.accounts.remove_identifier(person.id, kinds["email"]["id"])
    with pytest.raises(NotFound):
        platform.accounts.remove_identifier(person.id, "not-an-id")


def test_an_identifier_of_another_account_is_refused_only_after_proof(platform) -> None:
    owner = register(platform)
    other = register(platform)
    platform.clock.advance(seconds=31)
    platform.accounts.request_code(owner.phone, "192.0.2.1", otp.Purpose.ADD_IDENTIFIER,
                                   other.id)
    with pytest.raises(CodeIncorrect):  # without the code, nothing is said about ownership
        platform.accounts.add_identifier(other.id, owner.phone,
                                         wrong_code(last_code(platform, owner.phone)))
    with pytest.raises(Conflict):
        platform.accounts.add_identifier(other.id, owner.phone, last_code(platform, owner.phone))


def test_a_code_for_one_person_cannot_be_used_by_another(platform) -> None:
    alice, mallory = register(platform), register(platform)
    email = unique_email()
    platform.accounts.request_code(email, "192.0.2.1", otp.Purpose.ADD_IDENTIFIER, alice.id)
    with pytest.raises(CodeExpired):
        platform.accounts.add_identifier(mallory.id, email, last_code(platform, email))
