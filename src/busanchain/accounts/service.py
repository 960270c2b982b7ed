"""Accounts use cases: sign-up, login with throttling and TOTP, sessions, roles, SIWE links.

Every public method owns its transaction(s). Passwords are hashed with Argon2id; sessions
are stored server-side by the SHA-256 of their random id; TOTP secrets and personal data
are sealed by the KeyService; nothing secret is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from busanchain.accounts import repository
from busanchain.accounts.schemas import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    check_password,
    normalise_email,
    normalise_username,
)
from busanchain.accounts.siwe import (
    SiweMessage,
    SiweRejected,
    check_message,
    parse_message,
    recover_signer,
)
from busanchain.accounts.tables import LinkedWallet, SessionRecord, SiweNonce, UserRecord
from busanchain.db.base import utcnow
from busanchain.domain.errors import (
    AuthenticationRequired,
    Conflict,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    ValidationFailed,
)
from busanchain.domain.personal import (
    PERSONAL_FIELDS,
    PersonalData,
    parse_birth_date,
    parse_name,
    parse_phone,
)
from busanchain.domain.roles import SECOND_FACTOR_ROLES, SELF_SIGNUP_ROLES, Role
from busanchain.keys.service import KeyService, key_service_for
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

SERVICE_NAME = "accounts"
TOTP_SECRET_FIELD = "totp_secret"  # noqa: S105 (a field name, not a secret)
TOTP_PENDING_FIELD = "totp_pending"
TOTP_ISSUER = "busanchain"
TOTP_PERIOD_S = 30
SIWE_NONCE_TTL = timedelta(minutes=10)


class InvalidCredentials(AuthenticationRequired):
    """Wrong login or password (deliberately not saying which)."""

    code = "invalid_credentials"
    default_ko = "아이디(이메일) 또는 비밀번호가 올바르지 않습니다."
    default_en = "The login or the password is wrong."


class TotpRequired(AuthenticationRequired):
    """The account uses TOTP and no code was given."""

    code = "totp_required"
    default_ko = "인증 앱의 6자리 코드를 입력하세요."
    default_en = "Enter the six-digit code from your authenticator app."


class InvalidTotp(AuthenticationRequired):
    """The TOTP code is wrong, expired or was already used."""

    code = "totp_invalid"
    default_ko = "인증 코드가 올바르지 않거나 이미 사용되었습니다."
    default_en = "The code is wrong or was already used."


class LoginThrottled(TooManyRequests):
    """Too many failed logins for this account or from this address."""

    code = "login_throttled"
    default_ko = "로그인 실패가 너무 많습니다. 15분 후에 다시 시도하세요."
    default_en = "Too many failed logins. Please try again in 15 minutes."


@dataclass(frozen=True)
class SessionPolicy:
    """Session lifetimes."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    pending: timedelta = timedelta(minutes=5)
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class ThrottlePolicy:
    """Failed logins allowed per account and per client address within the window."""

    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    per_client: int = 20


@dataclass(frozen=True)
class User:
    """The logged-in user as the rest of the platform sees it."""

    id: int
    username: str
    email: str | None
    held_roles: frozenset[Role]
    totp_enabled: bool
    second_factor: bool = False

    @property
    def roles(self) -> frozenset[Role]:
        """Roles in force: official and admin powers need a TOTP-verified session."""
        if self.second_factor:
            return self.held_roles
        return self.held_roles - SECOND_FACTOR_ROLES

    @property
    def second_factor_required(self) -> bool:
        """True when a held role is not in force until TOTP is set up and used."""
        return bool(self.held_roles & SECOND_FACTOR_ROLES) and not self.second_factor

    def has_any(self, *roles: Role) -> bool:
        """True if one of `roles` is in force."""
        return bool(self.roles & set(roles))


@dataclass(frozen=True)
class SessionState:
    """A live session: a user, or (while the TOTP step is pending) only a user id."""

    token: str
    user: User | None
    pending_user_id: int | None = None


@dataclass(frozen=True)
class LoginResult:
    """A new session id; `complete` is False while a TOTP code is still needed."""

    token: str
    user: User | None
    complete: bool = True


@dataclass(frozen=True)
class AccountView:
    """A user with wallet details and (when asked for) personal data."""

    user: User
    custodial_address: str | None
    linked_wallets: list[str]
    personal: PersonalData | None = None


@dataclass(frozen=True)
class TotpEnrollment:
    """A new TOTP secret, to be confirmed with a code."""

    secret: str
    otpauth_uri: str = field(repr=False)

    def __repr__(self) -> str:
        return "TotpEnrollment(<redacted>)"


@dataclass(frozen=True)
class SiweChallenge:
    """An EIP-4361 message for the wallet to sign."""

    message: str
    nonce: str
    expires_at: datetime


def hash_session_id(token: str) -> str:
    """What the database stores instead of the session id."""
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_password(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def _throttle_subjects(record: UserRecord | None, login: str, client: str) -> tuple[str, str]:
    """What failures count against: the account (by id, so username and email share one
    count; by the login name for unknown accounts) and the client address."""
    account = f"user:{record.id}" if record is not None else f"login:{login}"
    return account, f"ip:{client}"


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (current, previous or next) whose code equals `code`, if any."""
    totp = pyotp.TOTP(secret, interval=TOTP_PERIOD_S)
    current = int(now) // TOTP_PERIOD_S
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class AccountService:
    """Accounts and sessions for one platform context."""

    def __init__(
        self,
        context: PlatformContext,
        keys: KeyService,
        sessions: SessionPolicy | None = None,
        throttle: ThrottlePolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._context = context
        self._keys = keys
        self.session_policy = sessions or SessionPolicy()
        self.throttle = throttle or ThrottlePolicy()
        self._clock = clock
        self._hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile
        self._dummy_hash: str | None = None
        public_url = context.settings.extra.get("BUSANCHAIN_PUBLIC_URL", context.settings.web_url)
        self.public_url = public_url.rstrip("/")

    # -- users ----------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        roles: Iterable[Role],
        email: str | None = None,
        personal: PersonalData | None = None,
        granted_by: int | None = None,
    ) -> User:
        """Create a user with any roles (trusted callers: sign-up checks roles first, CLI).

        The user gets a custodial key; personal data is sealed. All in one transaction.

        Raises:
            ValidationFailed: bad username, email, password or personal data.
            Conflict: the username or email is taken.
        """
        username, email = self._identity(username, email)
        self._check_password_rules(password)
        role_set = {Role(r) for r in roles} or {Role.CITIZEN}
        password_hash = self._hasher.hash(_as_password(password))
        try:
            with self._context.unit_of_work() as session:
                if repository.username_or_email_taken(session, username, email):
                    raise self._taken()
                record = UserRecord(username=username, email=email, password_hash=password_hash)
                session.add(record)
                session.flush()
                repository.add_roles(session, record.id, role_set, granted_by)
                self._keys.create_custodial_key(session, record.id)
                if personal is not None:
                    given = [k for k in PERSONAL_FIELDS if getattr(personal, k) is not None]
                    self._store_personal(session, record.id, personal, given)
                user = self._user(session, record)
        except IntegrityError:
            raise self._taken() from None
        log.info("created user %s with roles %s", user.id, sorted(role_set))
        return user

    def signup(
        self,
        username: str,
        password: str,
        roles: Iterable[Role],
        email: str | None = None,
        personal: PersonalData | None = None,
    ) -> LoginResult:
        """Self sign-up for the open roles, then log in.

        Raises:
            PermissionDenied: a role that only an admin may grant was asked for.
        """
        wanted = {Role(r) for r in roles}
        if not wanted <= SELF_SIGNUP_ROLES:
            raise PermissionDenied(
                "Official, auditor and admin roles are granted by an administrator.",
                "공무원, 감사, 관리자 역할은 관리자가 부여합니다.",
            )
        user = self.create_user(username, password, wanted, email, personal)
        with self._context.unit_of_work() as session:
            token = self._open_session(session, user.id, authenticated=True, second_factor=False)
        return LoginResult(token, user)

    def _identity(self, username: str, email: str | None) -> tuple[str, str | None]:
        try:
            return normalise_username(username), normalise_email(email) if email else None
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None

    @staticmethod
    def _check_password_rules(password: str) -> None:
        try:
            check_password(password)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise ValidationFailed(
                f"The password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
                f"비밀번호는 {MIN_PASSWORD}~{MAX_PASSWORD}자여야 합니다.",
            )

    @staticmethod
    def _taken() -> Conflict:
        return Conflict(
            "This username or email is already in use.", "이미 사용 중인 아이디 또는 이메일입니다."
        )

    def _user(self, session: Session, record: UserRecord, second_factor: bool = False) -> User:
        roles = frozenset(Role(r) for r in repository.roles_of(session, record.id))
        return User(
            record.id, record.username, record.email, roles, record.totp_enabled, second_factor
        )

    # -- for features that set credentials themselves (the resident wallet hand-over) -----

    def hash_new_password(self, password: str) -> str:
        """Check a new password against the rules and hash it (Argon2id) for storing.

        Raises:
            ValidationFailed: the password breaks a rule.
        """
        self._check_password_rules(password)
        return self._hasher.hash(_as_password(password))

    def open_session_in(self, session: Session, user_id: int, previous_token: str | None) -> str:
        """Open a logged-in session in the caller's transaction (as login does); its id."""
        return self._open_session(session, user_id, True, False, previous_token)

    # -- login ----------------------------------------------------------------------------

    def login(
        self,
        login: str,
        password: str,
        client: str,
        totp_code: str | None = None,
        previous_token: str | None = None,
        allow_pending: bool = False,
    ) -> LoginResult:
        """Check the password (and TOTP code) and open a new session.

        Failures count against the account and the client address; past the limits the
        answer is 429 before the password is even checked. The session presented before
        login (`previous_token`) is deleted: the id always changes on login.

        Args:
            login: Username or email, lower-case.
            password: The password.
            client: The client address (for throttling).
            totp_code: The six-digit code, for accounts with TOTP.
            previous_token: The session id the client had before, if any.
            allow_pending: For the two-step login page: without a code, open a pending
                session that only the TOTP step can complete.

        Raises:
            LoginThrottled, InvalidCredentials, TotpRequired, InvalidTotp.
        """
        login = login.strip().lower()
        with self._context.unit_of_work() as session:
            record = repository.user_by_login(session, login)
            subjects = _throttle_subjects(record, login, client)
            self._check_throttle(session, subjects)
            ok = self._verify_password(record, password)
            if ok and record is not None and self._hasher.check_needs_rehash(record.password_hash):
                record.password_hash = self._hasher.hash(_as_password(password))
        if not ok or record is None:
            self._record_failure(subjects)
            raise InvalidCredentials
        if record.totp_enabled and totp_code is None:
            if not allow_pending:
                raise TotpRequired
            with self._context.unit_of_work() as session:
                token = self._open_session(session, record.id, False, False, previous_token)
            return LoginResult(token, None, complete=False)
        return self._finish_login(record.id, totp_code, subjects, previous_token)

    def complete_login(self, pending_token: str, code: str, client: str) -> LoginResult:
        """The TOTP step of the two-step (page) login.

        Raises:
            AuthenticationRequired: no pending login for this session.
            LoginThrottled, InvalidTotp.
        """
        with self._context.unit_of_work() as session:
            state = self._live_session(session, pending_token)
            if state is None or state.authenticated:
                raise AuthenticationRequired
            record = repository.user_by_id(session, state.user_id)
            if record is None:
                raise AuthenticationRequired
            subjects = _throttle_subjects(record, record.username, client)
        return self._finish_login(record.id, code, subjects, pending_token)

    def _finish_login(
        self, user_id: int, code: str | None, subjects: tuple[str, str], previous: str | None
    ) -> LoginResult:
        with self._context.unit_of_work() as session:
            self._check_throttle(session, subjects)
            record = repository.user_by_id(session, user_id)
            if record is None:
                raise InvalidCredentials
            second_factor = False
            if record.totp_enabled:
                if code is None:
                    raise TotpRequired
                second_factor = self._use_totp_code(session, user_id, code)
            if record.totp_enabled and not second_factor:
                ok = False
            else:
                ok = True
                token = self._open_session(session, user_id, True, second_factor, previous)
                repository.clear_failures(session, subjects[0])
                user = self._user(session, record, second_factor)
        if not ok:
            self._record_failure(subjects)
            raise InvalidTotp
        log.info("user %s logged in", user_id)
        return LoginResult(token, user)

    def _verify_password(self, record: UserRecord | None, password: str) -> bool:
        if record is None:
            # Same work as a real check, so that timing does not reveal which logins exist.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
            self._safe_verify(self._dummy_hash, password)
            return False
        return self._safe_verify(record.password_hash, password)

    def _safe_verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, _as_password(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _check_throttle(self, session: Session, subjects: tuple[str, str]) -> None:
        since = self._clock() - self.throttle.window
        limits = (self.throttle.per_account, self.throttle.per_client)
        for subject, limit in zip(subjects, limits, strict=True):
            if repository.count_failures(session, subject, since) >= limit:
                oldest = repository.oldest_failure(session, subject, since)
                wait = self.throttle.window
                if oldest is not None:
                    wait = _aware(oldest) + self.throttle.window - self._clock()
                raise LoginThrottled(retry_after_s=max(1, int(wait.total_seconds())))

    def _record_failure(self, subjects: Iterable[str]) -> None:
        now = self._clock()
        with self._context.unit_of_work() as session:
            repository.prune_failures(session, now - self.throttle.window)
            repository.add_failures(session, subjects, now)

    # -- sessions -------------------------------------------------------------------------

    def _open_session(
        self,
        session: Session,
        user_id: int,
        authenticated: bool,
        second_factor: bool,
        previous_token: str | None = None,
    ) -> str:
        now = self._clock()
        if previous_token:
            repository.delete_session(session, hash_session_id(previous_token))
        repository.delete_expired_sessions(session, user_id, now)
        token = secrets.token_urlsafe(32)
        lifetime = self.session_policy.absolute if authenticated else self.session_policy.pending
        session.add(
            SessionRecord(
                id_hash=hash_session_id(token),
                user_id=user_id,
                authenticated=authenticated,
                second_factor=second_factor,
                created_at=now,
                last_seen_at=now,
                expires_at=now + lifetime,
            )
        )
        session.flush()
        return token

    def _live_session(self, session: Session, token: str) -> SessionRecord | None:
        record = repository.session_by_hash(session, hash_session_id(token))
        if record is None:
            return None
        now = self._clock()
        idle = now - _aware(record.last_seen_at) > self.session_policy.idle
        if now >= _aware(record.expires_at) or idle:
            repository.delete_session(session, record.id_hash)
            return None
        return record

    def resolve_session(self, token: str) -> SessionState | None:
        """The session behind a cookie value, or None if unknown or expired (then deleted)."""
        if not token or len(token) > 100:
            return None
        with self._context.unit_of_work() as session:
            record = self._live_session(session, token)
            if record is None:
                return None
            now = self._clock()
            if now - _aware(record.last_seen_at) > self.session_policy.touch_every:
                repository.touch_session(session, record.id_hash, now)
            if not record.authenticated:
                return SessionState(token, None, record.user_id)
            user_record = repository.user_by_id(session, record.user_id)
            if user_record is None:
                return None
            return SessionState(token, self._user(session, user_record, record.second_factor))

    def logout(self, token: str | None) -> None:
        """Delete the session (no error if there is none)."""
        if not token:
            return
        with self._context.unit_of_work() as session:
            repository.delete_session(session, hash_session_id(token))

    # -- TOTP -----------------------------------------------------------------------------

    def enroll_totp(self, actor: User) -> TotpEnrollment:
        """Start TOTP enrollment: a new secret, sealed until confirmed with a code.

        Raises:
            Conflict: TOTP is already on.
        """
        secret = pyotp.random_base32()
        with self._context.unit_of_work() as session:
            record = repository.user_by_id(session, actor.id)
            if record is None:
                raise NotFound
            if record.totp_enabled:
                raise Conflict("TOTP is already set up.", "2단계 인증이 이미 설정되어 있습니다.")
            self._keys.put_field(session, actor.id, TOTP_PENDING_FIELD, secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=actor.username, issuer_name=TOTP_ISSUER)
        return TotpEnrollment(secret, uri)

    def confirm_totp(self, actor: User, code: str, current_token: str) -> str:
        """Finish enrollment with a code; rotates the session, which gains the second factor.

        Returns:
            The new session id.

        Raises:
            Conflict: no enrollment was started.
            InvalidTotp: the code does not match.
        """
        with self._context.unit_of_work() as session:
            secret = self._keys.get_field(session, actor.id, TOTP_PENDING_FIELD)
            if secret is None:
                raise Conflict("Start TOTP setup first.", "먼저 2단계 인증 설정을 시작하세요.")
            step = _matching_step(secret, code, time.time())
            if step is None or not repository.claim_totp_step(session, actor.id, step):
                raise InvalidTotp
            self._keys.put_field(session, actor.id, TOTP_SECRET_FIELD, secret)
            self._keys.put_field(session, actor.id, TOTP_PENDING_FIELD, None)
            record = repository.user_by_id(session, actor.id)
            if record is None:
                raise NotFound
            record.totp_enabled = True
            token = self._open_session(session, actor.id, True, True, current_token)
        log.info("user %s enabled TOTP", actor.id)
        return token

    def _use_totp_code(self, session: Session, user_id: int, code: str) -> bool:
        secret = self._keys.get_field(session, user_id, TOTP_SECRET_FIELD)
        if secret is None:
            return False
        step = _matching_step(secret, code, time.time())
        return step is not None and repository.claim_totp_step(session, user_id, step)

    # -- viewing and changing accounts ----------------------------------------------------

    def _visible_record(self, session: Session, actor: User, user_id: int) -> UserRecord:
        """The user's record if the actor may see it; NotFound otherwise (no existence leak)."""
        if actor.id != user_id and Role.ADMIN not in actor.roles:
            raise NotFound
        record = repository.user_by_id(session, user_id)
        if record is None:
            raise NotFound
        return record

    def account(self, actor: User, user_id: int, with_personal: bool = False) -> AccountView:
        """A user's account as seen by the actor (the user themself or an admin).

        Raises:
            NotFound: no such user, or the actor may not see it.
        """
        with self._context.unit_of_work() as session:
            record = self._visible_record(session, actor, user_id)
            second_factor = actor.second_factor if actor.id == user_id else False
            user = self._user(session, record, second_factor)
            personal = self._load_personal(session, user_id) if with_personal else None
            wallets = repository.linked_wallets(session, user_id)
        return AccountView(user, self._keys.custodial_address(user_id), wallets, personal)

    def update_personal(self, actor: User, user_id: int, changes: dict[str, Any]) -> AccountView:
        """Set or clear (None) personal data fields of a user (self or admin).

        Raises:
            NotFound: no such user, or the actor may not see it.
            ValidationFailed: a field breaks its rule.
        """
        personal = PersonalData(**changes)
        with self._context.unit_of_work() as session:
            self._visible_record(session, actor, user_id)
            self._store_personal(session, user_id, personal, list(changes))
        return self.account(actor, user_id, with_personal=True)

    def _store_personal(
        self, session: Session, user_id: int, personal: PersonalData, fields: Iterable[str]
    ) -> None:
        """Seal each named field of `personal`; a None value deletes the field."""
        values: dict[str, str | None] = {
            "name": parse_name(personal.name) if personal.name is not None else None,
            "phone": parse_phone(personal.phone) if personal.phone is not None else None,
            "birth_date": (
                parse_birth_date(personal.birth_date, date.today()).isoformat()
                if personal.birth_date is not None
                else None
            ),
        }
        for name in sorted(set(fields) & set(PERSONAL_FIELDS)):
            self._keys.put_field(session, user_id, f"personal.{name}", values[name])

    def _load_personal(self, session: Session, user_id: int) -> PersonalData:
        name = self._keys.get_field(session, user_id, "personal.name")
        phone = self._keys.get_field(session, user_id, "personal.phone")
        born = self._keys.get_field(session, user_id, "personal.birth_date")
        return PersonalData(name, phone, date.fromisoformat(born) if born else None)

    def change_roles(
        self, actor: User, user_id: int, grant: Iterable[Role], revoke: Iterable[Role]
    ) -> list[Role]:
        """Grant and revoke roles (admins only). The user's sessions end, so the new powers
        take effect only with a fresh session id.

        Raises:
            PermissionDenied: the actor is not an admin with a TOTP-verified session.
            NotFound: no such user.
            Conflict: an admin tried to revoke their own admin role.
        """
        if Role.ADMIN not in actor.roles:
            raise PermissionDenied
        grant_set, revoke_set = set(grant), set(revoke)
        if actor.id == user_id and Role.ADMIN in revoke_set:
            raise Conflict(
                "You cannot revoke your own admin role.", "자신의 관리자 역할은 회수할 수 없습니다."
            )
        with self._context.unit_of_work() as session:
            if repository.user_by_id(session, user_id) is None:
                raise NotFound
            before = repository.roles_of(session, user_id)
            repository.add_roles(session, user_id, grant_set - revoke_set, actor.id)
            repository.remove_roles(session, user_id, revoke_set - grant_set)
            after = repository.roles_of(session, user_id)
            if after != before:
                repository.delete_user_sessions(session, user_id)
        log.info("admin %s changed roles of user %s to %s", actor.id, user_id, sorted(after))
        return sorted(Role(r) for r in after)

    # -- Sign-In with Ethereum ------------------------------------------------------------

    @property
    def siwe_domain(self) -> str:
        """The host (and port) SIWE messages must name."""
        return urlsplit(self.public_url).netloc

    def issue_siwe(self, actor: User, address: str) -> SiweChallenge:
        """A single-use nonce and the EIP-4361 message for linking `address` to the actor."""
        now = self._clock().replace(microsecond=0)
        nonce = secrets.token_hex(16)
        expires = now + SIWE_NONCE_TTL
        with self._context.unit_of_work() as session:
            record = SiweNonce(nonce=nonce, user_id=actor.id, address=address)
            record.issued_at, record.expires_at = now, expires
            session.add(record)
        message = SiweMessage(
            self.siwe_domain,
            address,
            self.public_url,
            self._context.settings.chain_id,
            nonce,
            now,
            expires,
        )
        return SiweChallenge(message.text(), nonce, expires)

    def verify_siwe(self, actor: User, text: str, signature: str) -> str:
        """Check a signed SIWE message and link its address to the actor.

        Raises:
            ValidationFailed: not an EIP-4361 message.
            SiweRejected: wrong domain, URI, chain, time, nonce or signature.
            Conflict: the wallet is linked to another user.
        """
        message = parse_message(text)
        now = self._clock()
        check_message(
            message,
            domain=self.siwe_domain,
            uri=self.public_url,
            chain_id=self._context.settings.chain_id,
            now=now,
        )
        if recover_signer(text, signature) != message.address:
            raise SiweRejected(
                "The signature is not from this address.", "이 주소의 서명이 아닙니다."
            )
        try:
            with self._context.unit_of_work() as session:
                self._claim_nonce(session, actor, message, now)
                existing = repository.linked_wallet(session, message.address)
                if existing is not None and existing.user_id != actor.id:
                    raise self._wallet_taken()
                if existing is None:
                    session.add(LinkedWallet(user_id=actor.id, address=message.address))
                    session.flush()
        except IntegrityError:
            raise self._wallet_taken() from None
        log.info("user %s linked wallet %s", actor.id, message.address)
        return message.address

    def _claim_nonce(
        self, session: Session, actor: User, message: SiweMessage, now: datetime
    ) -> None:
        record = repository.siwe_nonce(session, message.nonce)
        if record is None or record.user_id != actor.id or record.address != message.address:
            raise SiweRejected("Unknown nonce.", "알 수 없는 nonce입니다.")
        if not repository.claim_siwe_nonce(session, message.nonce, actor.id, now):
            raise SiweRejected(
                "The nonce was used or has expired.", "이미 사용되었거나 만료된 nonce입니다."
            )

    @staticmethod
    def _wallet_taken() -> Conflict:
        return Conflict(
            "This wallet is linked to another account.", "다른 계정에 연결된 지갑입니다."
        )


def account_service_for(context: PlatformContext) -> AccountService:
    """The process's AccountService for a context, built on first use."""
    service = context.services.get(SERVICE_NAME)
    if service is None:
        service = AccountService(context, key_service_for(context))
        context.services[SERVICE_NAME] = service
    return service  # type: ignore[no-any-return]
