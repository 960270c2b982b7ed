"""Activation use case: a resident takes over the citizen account the importer made for them.

Proof of identity here is knowing the resident registration number together with the mobile
number the city registered for that resident. In production the phone would be confirmed by
an SMS code (PASS identity verification); this platform has no SMS gateway, so that
knowledge plus strict, database-backed rate limiting stands in for it.

* A wrong number, a wrong phone and an unknown resident all give the same answer.
* Failures are counted per client address and per resident (hash); past the limit the
  answer is 429 before anything is compared, even for the right phone.
* Only an account that still has the importer's unusable password can be taken over. The
  rename, the new password and the new session commit in one transaction; a conditional
  UPDATE makes a second, concurrent submit find the account already activated. A repeat of
  the same successful request (same username and password) logs in again instead.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from busanchain.accounts import repository as accounts_repository
from busanchain.accounts.schemas import normalise_username
from busanchain.accounts.service import AccountService, account_service_for
from busanchain.activation import repository
from busanchain.activation.rules import normalise_mobile, parse_resident_number
from busanchain.db.base import utcnow
from busanchain.domain.errors import (
    AuthenticationRequired,
    BusanchainError,
    Conflict,
    TooManyRequests,
    ValidationFailed,
)
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.programs.residents import open_resident, resident_crypto
from busanchain.programs.tables import ResidentRecord

log = logging.getLogger(__name__)

SERVICE_NAME = "activation"
_DUMMY_PHONE = "0" * 11  # compared against when no resident matches (same work, same answer)


class ActivationMismatch(BusanchainError):
    """Resident number and phone do not match a resident (never saying which, or whether
    the resident exists)."""

    status = 401
    code = "activation_mismatch"
    default_ko = (
        "주민등록번호와 휴대전화 번호가 등록된 정보와 일치하지 않습니다. 확인 후 다시 시도하세요."
    )
    default_en = (
        "The resident registration number and mobile number do not match our records. "
        "Check them and try again."
    )


class AlreadyActivated(Conflict):
    """The resident's account already has a password.

    `account_username` (never sent to the client) lets a repeated submit log in instead.
    """

    account_username: str | None = None

    code = "already_activated"
    default_ko = (
        "이미 활성화된 지갑입니다. 로그인하세요. "
        "아이디나 비밀번호를 잊으셨다면 주민센터에 문의하세요."
    )
    default_en = (
        "This wallet is already activated: please log in instead. "
        "If you forgot your username or password, ask your community service centre."
    )


class SelfCustodyWallet(Conflict):
    """The resident linked a self-custody wallet: there is no platform account to take over."""

    code = "self_custody_wallet"
    default_ko = (
        "이 주민의 수당은 연결된 개인 지갑으로 지급됩니다. 활성화할 플랫폼 지갑이 없습니다."
    )
    default_en = (
        "This resident's allowance goes to the linked self-custody wallet; "
        "there is no platform wallet to activate."
    )


class NothingToActivate(Conflict):
    """The resident has neither an account nor a linked wallet (not made by the importer)."""

    code = "nothing_to_activate"
    default_ko = "활성화할 지갑이 없습니다. 주민센터에 문의하세요."
    default_en = "There is no wallet to activate. Please ask your community service centre."


class UsernameTaken(Conflict):
    """Someone else already uses the chosen username."""

    code = "username_taken"
    default_ko = "이미 사용 중인 아이디입니다. 다른 아이디를 고르세요."
    default_en = "This username is already in use. Choose another one."


class ActivationThrottled(TooManyRequests):
    """Too many failed attempts from this address or for this resident."""

    code = "activation_throttled"
    default_ko = "확인 실패가 너무 많습니다. 15분 후에 다시 시도하세요."
    default_en = "Too many failed attempts. Please try again in 15 minutes."


@dataclass(frozen=True)
class ActivationPolicy:
    """Failed attempts allowed per client address and per resident within the window.

    Keep the window no longer than the login throttle's (15 minutes): login housekeeping
    prunes the shared failures table by its own window.
    """

    window: timedelta = timedelta(minutes=15)
    per_client: int = 5
    per_resident: int = 5


@dataclass(frozen=True)
class ActivationRequest:
    """What the resident typed (normalised again by the service)."""

    resident_number: str
    phone: str
    username: str
    password: str

    def __repr__(self) -> str:
        return "ActivationRequest(<redacted>)"


@dataclass(frozen=True)
class ActivationResult:
    """The activated account and its new session id."""

    token: str
    user_id: int
    username: str
    wallet_address: str | None
    replayed: bool = False


@dataclass(frozen=True)
class _Checked:
    """A request after normalisation."""

    digits: str
    phone: str
    username: str
    password: str


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _subjects(resident_hash: str, client: str) -> tuple[str, str]:
    """What failures count against: the client address and the resident."""
    prefix = repository.SUBJECT_PREFIX
    return f"{prefix}ip:{client[:100]}", f"{prefix}resident:{resident_hash}"


def _already(account_username: str | None) -> AlreadyActivated:
    error = AlreadyActivated()
    error.account_username = account_username
    return error


def _digits(phone: str) -> str:
    return re.sub(r"[^0-9]", "", phone)


class ActivationService:
    """Hands imported residents their citizen accounts."""

    def __init__(
        self,
        context: PlatformContext,
        accounts: AccountService,
        policy: ActivationPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._context = context
        self._accounts = accounts
        self._crypto = resident_crypto(context)
        self.policy = policy or ActivationPolicy()
        self._clock = clock

    def activate(
        self, request: ActivationRequest, client: str, previous_token: str | None = None
    ) -> ActivationResult:
        """Check the resident, take the account over and log in, all in one transaction.

        Args:
            request: Resident number, phone, new username and new password.
            client: The client address (for rate limiting).
            previous_token: The session id the client had before, if any (deleted).

        Raises:
            ValidationFailed: a field breaks its rule (nothing is counted).
            ActivationThrottled: too many failures for this address or resident.
            ActivationMismatch: number and phone do not match (counted as a failure).
            AlreadyActivated, SelfCustodyWallet, NothingToActivate, UsernameTaken.
        """
        checked = self._check(request)
        resident_hash = self._crypto.hash_id(checked.digits)
        subjects = _subjects(resident_hash, client)
        try:
            return self._take_over(checked, resident_hash, subjects, previous_token)
        except ActivationMismatch:
            self._record_failure(subjects)
            raise
        except AlreadyActivated as exc:
            if exc.account_username != checked.username:
                raise
            replayed = self._replay(checked, client, previous_token)
            if replayed is None:
                raise
            return replayed

    @staticmethod
    def _check(request: ActivationRequest) -> _Checked:
        try:
            username = normalise_username(request.username)
        except ValueError as exc:
            raise ValidationFailed(
                str(exc), "아이디는 영문 소문자·숫자·_ . - 로 3~32자여야 합니다.", field="username"
            ) from None
        return _Checked(
            parse_resident_number(request.resident_number),
            normalise_mobile(request.phone),
            username,
            request.password,
        )

    def _take_over(
        self,
        checked: _Checked,
        resident_hash: str,
        subjects: tuple[str, str],
        previous_token: str | None,
    ) -> ActivationResult:
        try:
            with self._context.unit_of_work() as session:
                self._check_throttle(session, subjects)
                resident = self._matching_resident(session, resident_hash, checked.phone)
                user_id = self._unactivated_user(session, resident)
                if repository.username_taken(session, checked.username, user_id):
                    raise UsernameTaken
                password_hash = self._accounts.hash_new_password(checked.password)
                if not repository.claim_unactivated(
                    session, user_id, checked.username, password_hash
                ):
                    raise _already(repository.username_of(session, user_id))
                token = self._accounts.open_session_in(session, user_id, previous_token)
                accounts_repository.clear_failures(session, subjects[1])
        except IntegrityError:
            raise UsernameTaken from None
        log.info("user %s activated by its resident", user_id)
        address = key_service_for(self._context).custodial_address(user_id)
        return ActivationResult(token, user_id, checked.username, address)

    def _matching_resident(
        self, session: Session, resident_hash: str, phone: str
    ) -> ResidentRecord:
        """The resident, if the phone matches the sealed one (constant-time compare)."""
        resident = repository.resident_by_hash(session, resident_hash)
        stored = _DUMMY_PHONE
        if resident is not None:
            stored = _digits(open_resident(self._context, resident).get("phone", ""))
        same = hmac.compare_digest(stored.encode("ascii"), phone.encode("ascii"))
        if resident is None or not same:
            raise ActivationMismatch
        return resident

    @staticmethod
    def _unactivated_user(session: Session, resident: ResidentRecord) -> int:
        """The id of the resident's account, if it can still be taken over."""
        if resident.user_id is None:
            if resident.wallet_address:
                raise SelfCustodyWallet
            raise NothingToActivate
        record = repository.user_by_id(session, resident.user_id)
        if record is None:
            raise NothingToActivate
        if not repository.is_unactivated(record):
            raise _already(record.username)
        return record.id

    def _replay(
        self, checked: _Checked, client: str, previous_token: str | None
    ) -> ActivationResult | None:
        """A repeated submit (double click, retry) for the account's own username: log in
        with its password; None if that is wrong. Goes through login, so a wrong password
        counts against login's own throttle (429 past it)."""
        try:
            result = self._accounts.login(
                checked.username, checked.password, client, None, previous_token
            )
        except AuthenticationRequired:  # wrong password, or the account now uses TOTP
            return None
        assert result.user is not None
        address = key_service_for(self._context).custodial_address(result.user.id)
        return ActivationResult(result.token, result.user.id, result.user.username, address, True)

    def _check_throttle(self, session: Session, subjects: tuple[str, str]) -> None:
        since = self._clock() - self.policy.window
        limits = (self.policy.per_client, self.policy.per_resident)
        for subject, limit in zip(subjects, limits, strict=True):
            if accounts_repository.count_failures(session, subject, since) >= limit:
                oldest = accounts_repository.oldest_failure(session, subject, since)
                wait = self.policy.window
                if oldest is not None:
                    wait = _aware(oldest) + self.policy.window - self._clock()
                raise ActivationThrottled(retry_after_s=max(1, int(wait.total_seconds())))

    def _record_failure(self, subjects: tuple[str, str]) -> None:
        now = self._clock()
        with self._context.unit_of_work() as session:
            repository.prune_failures(session, now - self.policy.window)
            accounts_repository.add_failures(session, subjects, now)


def activation_service_for(context: PlatformContext) -> ActivationService:
    """The process's ActivationService for a context, built on first use."""
    service = context.services.get(SERVICE_NAME)
    if service is None:
        service = ActivationService(context, account_service_for(context))
        context.services[SERVICE_NAME] = service
    return service  # type: ignore[no-any-return]
