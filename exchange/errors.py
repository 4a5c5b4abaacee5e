"""One error tree for the whole exchange.

Every error carries a stable ``code`` (the problem+json ``type`` is
``urn:avsec:error:<code>``), an HTTP ``status`` and a safe ``title``.  ``detail`` is
what the peer may be told; a failed cryptographic check says only that it failed.

Two branches matter to callers: :class:`InputError` (the peer sent bad data, never
retry as is) and :class:`StorageError` (a transport or storage failure, retry later).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "BY_CODE",
    "AuthError",
    "BadInnerSignature",
    "BadSignature",
    "CommitmentMismatch",
    "Conflict",
    "CryptoError",
    "DecryptFailed",
    "DuplicateRecipient",
    "EndpointRefused",
    "ExchangeError",
    "Forbidden",
    "InputError",
    "InvalidBulletin",
    "InvalidKey",
    "LogInconsistent",
    "MalformedEnvelope",
    "MetadataMismatch",
    "MethodNotAllowed",
    "NotARecipient",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RecipientMismatch",
    "RequestTimeout",
    "StorageError",
    "Unavailable",
    "UnknownKey",
    "UnsupportedAlgorithm",
    "UnsupportedMediaType",
    "UnwrapFailed",
    "class_for_status",
]


class ExchangeError(Exception):
    """Root of every error the exchange raises on purpose."""

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        #: extra members for the problem+json body (e.g. ``expected_kids``)
        self.extra = extra
        super().__init__(self.detail)

    @property
    def type_uri(self) -> str:
        return f"urn:avsec:error:{self.code}"

    def problem(self) -> dict[str, Any]:
        """RFC 9457 problem details for this error."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


# --- the peer sent bad data -------------------------------------------------------------


class InputError(ExchangeError):
    code = "invalid-request"
    status = 400
    title = "Invalid request"


class MethodNotAllowed(InputError):
    code = "method-not-allowed"
    status = 405
    title = "Method not allowed"


class RequestTimeout(InputError):
    """The request's body did not arrive in time (slow clients, ``Limits.body_timeout``)."""

    code = "request-timeout"
    status = 408
    title = "Request timeout"


class UnsupportedMediaType(InputError):
    code = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


class InvalidBulletin(InputError):
    """A bulletin (section 4) or its body fails its schema."""

    code = "invalid-bulletin"
    title = "Invalid bulletin"


class InvalidKey(InputError):
    """A JWK is malformed, of the wrong kind, or a small-order point."""

    code = "invalid-key"
    title = "Invalid key"


class CryptoError(InputError):
    """Base of every failed cryptographic or structural check on a JWS/JWE."""

    code = "crypto-error"
    title = "Cryptographic check failed"


class MalformedEnvelope(CryptoError):
    code = "malformed-envelope"
    title = "Malformed envelope"


class UnsupportedAlgorithm(CryptoError):
    code = "unsupported-algorithm"
    title = "Unsupported algorithm or header"


class UnknownKey(CryptoError):
    code = "unknown-kid"
    title = "Unknown key"


class BadSignature(CryptoError):
    code = "bad-signature"
    title = "Signature verification failed"


class DuplicateRecipient(CryptoError):
    code = "duplicate-recipient"
    title = "A recipient is listed twice"


class NotARecipient(CryptoError):
    code = "not-a-recipient"
    title = "Not a recipient of this bulletin"


class UnwrapFailed(CryptoError):
    code = "unwrap-failed"
    title = "Content key could not be unwrapped"


class CommitmentMismatch(CryptoError):
    code = "commitment-mismatch"
    title = "Content key does not match its commitment"


class DecryptFailed(CryptoError):
    code = "decrypt-failed"
    title = "Decryption failed"


class BadInnerSignature(CryptoError):
    code = "bad-inner-signature"
    title = "Inner signature verification failed"


class LogInconsistent(CryptoError):
    """The audit log or a tree head does not prove what it must (PROTOCOL §8)."""

    code = "log-inconsistent"
    title = "Audit log verification failed"


class MetadataMismatch(CryptoError):
    code = "metadata-mismatch"
    title = "Routing metadata does not match the signed bulletin"


# --- authentication, authorisation and admission ----------------------------------------


class AuthError(ExchangeError):
    code = "unauthorized"
    status = 401
    title = "Authentication failed"


class Forbidden(ExchangeError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class NotFound(ExchangeError):
    code = "not-found"
    status = 404
    title = "Not found"


class Conflict(ExchangeError):
    code = "conflict"
    status = 409
    title = "Conflict"


class PayloadTooLarge(ExchangeError):
    code = "payload-too-large"
    status = 413
    title = "Payload too large"


class RecipientMismatch(ExchangeError):
    """PROTOCOL §5: the JWE's recipient kids are not exactly the expected ones."""

    code = "recipient-mismatch"
    status = 422
    title = "Recipients do not match the directory"


class EndpointRefused(InputError):
    """An alert endpoint the exchange will not send to (SSRF rules, docs/alerts.md)."""

    code = "endpoint-refused"
    status = 422
    title = "Endpoint refused"


class RateLimited(ExchangeError):
    code = "rate-limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        #: seconds to wait before retrying (the ``Retry-After`` header)
        self.retry_after = retry_after


# --- transport or storage failures ------------------------------------------------------


class StorageError(ExchangeError):
    """The database failed or is out of reach: retry later."""

    code = "unavailable"
    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        #: seconds to wait before retrying (the ``Retry-After`` header)
        self.retry_after = retry_after


class Unavailable(StorageError):
    """Overload or shutdown: retry later."""

    code = "overloaded"
    title = "Service overloaded"


# --- the registry: problem ``type`` code -> class ---------------------------------------

#: Every class of the tree, listed once by hand: a peer's problem+json ``type`` is looked
#: up here (``tests/test_errors.py`` checks that no class is missing and no code repeats).
_ALL: tuple[type[ExchangeError], ...] = (
    ExchangeError,
    InputError,
    MethodNotAllowed,
    RequestTimeout,
    UnsupportedMediaType,
    InvalidBulletin,
    InvalidKey,
    CryptoError,
    MalformedEnvelope,
    UnsupportedAlgorithm,
    UnknownKey,
    BadSignature,
    DuplicateRecipient,
    NotARecipient,
    UnwrapFailed,
    CommitmentMismatch,
    DecryptFailed,
    BadInnerSignature,
    LogInconsistent,
    MetadataMismatch,
    AuthError,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    RecipientMismatch,
    EndpointRefused,
    RateLimited,
    StorageError,
    Unavailable,
)

#: problem ``type`` code (``urn:avsec:error:<code>``) -> class
BY_CODE: Mapping[str, type[ExchangeError]] = {cls.code: cls for cls in _ALL}

#: the class an HTTP status stands for when the answer names no code we know (a proxy's
#: 502, aiohttp's own 400): the most general class with that status
_BY_STATUS: Mapping[int, type[ExchangeError]] = {
    400: InputError,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    408: RequestTimeout,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: RateLimited,
    502: StorageError,
    503: StorageError,
    504: StorageError,
}


def class_for_status(status: int) -> type[ExchangeError]:
    """The class for an HTTP error status: its own, else ``InputError`` for any other
    4xx (the request was refused as is) and ``ExchangeError`` for the rest."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return InputError if 400 <= status < 500 else ExchangeError
