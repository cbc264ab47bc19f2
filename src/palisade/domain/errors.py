"""Domain errors. Each has a stable code that becomes the RFC 9457 problem `type`."""

from __future__ import annotations


class DomainError(Exception):
    """An error a caller can act on. `code` is stable; `detail` is for a person to read."""

    code = "error"
    status = 400
    title = "The request cannot be carried out"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    code = "invalid-input"
    status = 422
    title = "The request contains an invalid value"


class InvalidIdentifier(InvalidInput):
    code = "invalid-identifier"
    title = "That phone number or email address is not valid"


class CodeIncorrect(DomainError):
    code = "code-incorrect"
    status = 400
    title = "The one-time code is not correct"


class CodeExpired(DomainError):
    code = "code-expired"
    status = 400
    title = "The one-time code is no longer valid; ask for a new one"


class RateLimited(DomainError):
    code = "rate-limited"
    status = 429
    title = "Too many requests; try again later"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401
    title = "Sign in to do this"


class SignInFailed(DomainError):
    code = "sign-in-failed"
    status = 401
    title = "Those sign-in details are not correct"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "You are not allowed to do this"


class NotFound(DomainError):
    code = "not-found"
    status = 404
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    status = 409
    title = "This conflicts with the current state"


class ReverificationRequired(DomainError):
    code = "reverification-required"
    status = 403
    title = "Confirm a one-time code before syncing contacts again"


class DiscoveryFrozen(DomainError):
    code = "discovery-frozen"
    status = 403
    title = "Contact discovery is switched off for this account pending review"


class TooLarge(DomainError):
    code = "too-large"
    status = 413
    title = "The request is larger than allowed"


class InvalidAppToken(DomainError):
    """An app's or partner's request without a valid DPoP-bound token and proof (RFC 9449 §7.1)."""

    code = "invalid-token"
    status = 401
    title = "A valid DPoP-bound access token and proof are required"

    def __init__(self, detail: str, error: str = "invalid_token") -> None:
        super().__init__(detail)
        self.error = error  # invalid_token | invalid_dpop_proof, for WWW-Authenticate


class OutsidePurpose(DomainError):
    code = "outside-purpose"
    status = 403
    title = "The call's purpose is not one the person granted"


ALL_ERRORS: tuple[type[DomainError], ...] = (
    DomainError,
    InvalidInput,
    InvalidIdentifier,
    CodeIncorrect,
    CodeExpired,
    RateLimited,
    Unauthenticated,
    SignInFailed,
    Forbidden,
    NotFound,
    Conflict,
    ReverificationRequired,
    DiscoveryFrozen,
    TooLarge,
    InvalidAppToken,
    OutsidePurpose,
)
