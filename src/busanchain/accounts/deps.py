"""FastAPI dependencies other features use to know who is calling.

    from busanchain.accounts.deps import current_user, require_roles

    @router.post("/api/things")
    def make_thing(user: User = Depends(require_roles(Role.OFFICIAL))) -> ...

Official and admin roles count only in sessions that passed the TOTP step.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from busanchain.accounts.service import AccountService, User, account_service_for
from busanchain.domain.errors import AuthenticationRequired, PermissionDenied
from busanchain.domain.roles import Role


def optional_user(request: Request) -> User | None:
    """The logged-in user, or None for visitors."""
    user = getattr(request.state, "user", None)
    return user if isinstance(user, User) else None


def current_user(request: Request) -> User:
    """The logged-in user; 401 for visitors."""
    user = optional_user(request)
    if user is None:
        raise AuthenticationRequired
    return user


def require_roles(*roles: Role) -> Callable[[Request], User]:
    """A dependency that lets through users holding one of `roles` (in force); else 403."""
    wanted = frozenset(roles)

    def dependency(request: Request) -> User:
        user = current_user(request)
        if user.roles & wanted:
            return user
        if user.held_roles & wanted:
            raise PermissionDenied(
                "This role needs a session verified with your TOTP code.",
                "이 역할은 2단계 인증(OTP) 코드로 로그인한 세션에서만 쓸 수 있습니다.",
            )
        raise PermissionDenied

    dependency.__name__ = "require_" + "_or_".join(sorted(r.value for r in wanted))
    return dependency


def session_token(request: Request) -> str | None:
    """The raw id of the caller's session (also of a pending TOTP login), if any."""
    token = getattr(request.state, "session_token", None)
    return token if isinstance(token, str) else None


def client_address(request: Request) -> str:
    """The client's address as the server sees it (used for login throttling)."""
    return request.client.host if request.client else "unknown"


def accounts_service(request: Request) -> AccountService:
    """The AccountService of the application's platform context."""
    return account_service_for(request.app.state.context)
