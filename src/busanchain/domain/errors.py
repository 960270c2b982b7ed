"""The error hierarchy.

Every error the platform raises on purpose derives from `BusanchainError`. Each carries a
stable machine code, an HTTP status and a message in Korean and English; the web layer maps
them to responses in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BusanchainError(Exception):
    """Root of all deliberate busanchain errors."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "error"
    default_ko: ClassVar[str] = "요청을 처리할 수 없습니다."
    default_en: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message_en: str | None = None,
        message_ko: str | None = None,
        **details: Any,
    ) -> None:
        self.message_en = message_en or self.default_en
        self.message_ko = message_ko or self.default_ko
        self.details = details
        super().__init__(self.message_en)

    def message(self, lang: str) -> str:
        """The message in the given language ("ko" or "en")."""
        return self.message_ko if lang == "ko" else self.message_en


class ValidationFailed(BusanchainError):
    """Input that breaks a rule."""

    status = 422
    code = "validation_failed"
    default_ko = "입력값이 올바르지 않습니다."
    default_en = "The input is not valid."


class NotFound(BusanchainError):
    """The object does not exist, or the caller may not know that it exists."""

    status = 404
    code = "not_found"
    default_ko = "찾을 수 없습니다."
    default_en = "Not found."


class AuthenticationRequired(BusanchainError):
    """The caller must log in."""

    status = 401
    code = "authentication_required"
    default_ko = "로그인이 필요합니다."
    default_en = "Please log in."


class PermissionDenied(BusanchainError):
    """The caller is logged in but may not do this."""

    status = 403
    code = "permission_denied"
    default_ko = "권한이 없습니다."
    default_en = "You do not have permission to do this."


class Conflict(BusanchainError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"
    default_ko = "현재 상태와 충돌하는 요청입니다."
    default_en = "The request conflicts with the current state."


class IdempotencyConflict(Conflict):
    """The same Idempotency-Key was sent with a different request."""

    status = 422
    code = "idempotency_key_reused"
    default_ko = "같은 멱등성 키가 다른 요청에 사용되었습니다."
    default_en = "This Idempotency-Key was already used for a different request."


class IdempotencyInProgress(Conflict):
    """The first request with this Idempotency-Key has not finished yet."""

    status = 409
    code = "idempotency_in_progress"
    default_ko = "같은 키의 요청이 아직 처리 중입니다. 잠시 후 다시 시도하세요."
    default_en = "A request with this Idempotency-Key is still being processed. Retry shortly."


class TooManyRequests(BusanchainError):
    """Throttled."""

    status = 429
    code = "too_many_requests"
    default_ko = "요청이 너무 많습니다. 잠시 후 다시 시도하세요."
    default_en = "Too many requests. Please wait and try again."


class ChainError(BusanchainError):
    """The chain refused or could not be reached."""

    status = 502
    code = "chain_error"
    default_ko = "블록체인 노드와 통신할 수 없습니다."
    default_en = "The blockchain node could not be reached."


class TransactionReverted(BusanchainError):
    """A transaction was mined but reverted; `reason` is the decoded revert reason."""

    status = 422
    code = "transaction_reverted"
    default_ko = "거래가 거부되었습니다."
    default_en = "The transaction was reverted."


class EvmVersionUnsupported(BusanchainError):
    """The target chain lacks an opcode the contracts need."""

    status = 503
    code = "evm_version_unsupported"
    default_ko = "대상 체인이 필요한 EVM 버전(cancun)을 지원하지 않습니다."
    default_en = "The target chain does not support the required EVM version (cancun)."


class ConfigurationError(BusanchainError):
    """The platform is configured wrongly."""

    status = 500
    code = "configuration_error"
    default_ko = "설정 오류입니다."
    default_en = "Configuration error."
