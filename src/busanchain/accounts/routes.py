"""Accounts API (/api/accounts/...) and pages (/signup, /login, /logout, /account).

Cookie-authenticated unsafe requests must send the session's CSRF token in the
`X-CSRF-Token` header (JSON) or the `csrf_token` form field; login, sign-up and
`GET /api/accounts/me` return it as `csrf_token`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from busanchain.accounts import csrf
from busanchain.accounts.deps import (
    accounts_service,
    client_address,
    current_user,
    optional_user,
    require_roles,
    session_token,
)
from busanchain.accounts.schemas import (
    LinkedWalletOut,
    LoginIn,
    PersonalIn,
    ProfileOut,
    RoleChangeIn,
    RolesOut,
    SessionOut,
    SignupIn,
    SiweChallengeOut,
    SiweNonceIn,
    SiweVerifyIn,
    TotpCodeIn,
    TotpConfirmOut,
    TotpEnrollOut,
    UserOut,
)
from busanchain.accounts.service import AccountService, AccountView, User, account_service_for
from busanchain.accounts.sessions import (
    CookieConfig,
    SessionMiddleware,
    clear_session_cookie,
    load_session_secret,
    set_session_cookie,
)
from busanchain.domain.errors import BusanchainError
from busanchain.domain.personal import PersonalData
from busanchain.domain.roles import SELF_SIGNUP_ROLES, Role
from busanchain.http.i18n import request_lang
from busanchain.platform.context import PlatformContext

api = APIRouter(prefix="/api/accounts", tags=["accounts"])
pages = APIRouter(include_in_schema=False)

UserId = Annotated[int, Path(ge=1, le=2_147_483_647)]
Accounts = Annotated[AccountService, Depends(accounts_service)]
CurrentUser = Annotated[User, Depends(current_user)]


def _cookies(request: Request) -> CookieConfig:
    return request.app.state.session_cookies  # type: ignore[no-any-return]


def _csrf_for(request: Request, token: str) -> str:
    return csrf.session_token(_cookies(request).secret, token)


def _user_out(view: AccountView) -> UserOut:
    user = view.user
    return UserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        roles=sorted(user.roles),
        held_roles=sorted(user.held_roles),
        totp_enabled=user.totp_enabled,
        second_factor_required=user.second_factor_required,
        custodial_address=view.custodial_address,
        linked_wallets=view.linked_wallets,
    )


def _profile_out(view: AccountView) -> ProfileOut:
    personal = view.personal or PersonalData()
    return ProfileOut(
        **_user_out(view).model_dump(),
        name=personal.name,
        phone=personal.phone,
        birth_date=personal.birth_date,
    )


def _session_out(request: Request, accounts: AccountService, user: User, token: str) -> SessionOut:
    view = accounts.account(user, user.id)
    return SessionOut(user=_user_out(view), csrf_token=_csrf_for(request, token))


# -- API ------------------------------------------------------------------------------------


@api.post("/signup", status_code=201, response_model=SessionOut)
def signup(body: SignupIn, request: Request, response: Response, accounts: Accounts) -> Any:
    """Create an account (citizen, merchant, studio or developer) and log in."""
    personal = PersonalData(body.name, body.phone, body.birth_date)
    result = accounts.signup(body.username, body.password, body.roles, body.email, personal)
    accounts.logout(session_token(request))
    set_session_cookie(response, result.token, _cookies(request))
    assert result.user is not None
    return _session_out(request, accounts, result.user, result.token)


@api.post("/login", response_model=SessionOut)
def login(body: LoginIn, request: Request, response: Response, accounts: Accounts) -> Any:
    """Log in by username or email; accounts with TOTP also send `totp_code`.

    401 `invalid_credentials`, 401 `totp_required`, 401 `totp_invalid`, 429 after too many
    failures. The session id always changes.
    """
    result = accounts.login(
        body.login, body.password, client_address(request), body.totp_code, session_token(request)
    )
    set_session_cookie(response, result.token, _cookies(request))
    assert result.user is not None
    return _session_out(request, accounts, result.user, result.token)


@api.post("/logout")
def logout(request: Request, response: Response, accounts: Accounts) -> dict[str, bool]:
    """End the session."""
    accounts.logout(session_token(request))
    clear_session_cookie(response, _cookies(request))
    return {"ok": True}


@api.get("/me", response_model=SessionOut)
def me(request: Request, user: CurrentUser, accounts: Accounts) -> Any:
    """The logged-in user and the session's CSRF token."""
    return SessionOut(
        user=_user_out(accounts.account(user, user.id)), csrf_token=request.state.csrf_token
    )


@api.post("/totp/enroll", response_model=TotpEnrollOut)
def totp_enroll(user: CurrentUser, accounts: Accounts) -> Any:
    """Start TOTP setup: a secret and an otpauth:// URI for an authenticator app."""
    enrollment = accounts.enroll_totp(user)
    return TotpEnrollOut(secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri)


@api.post("/totp/confirm", response_model=TotpConfirmOut)
def totp_confirm(
    body: TotpCodeIn, request: Request, response: Response, user: CurrentUser, accounts: Accounts
) -> Any:
    """Finish TOTP setup with a code. The session id and CSRF token change."""
    token = accounts.confirm_totp(user, body.code, session_token(request) or "")
    set_session_cookie(response, token, _cookies(request))
    return TotpConfirmOut(totp_enabled=True, csrf_token=_csrf_for(request, token))


@api.post("/siwe/nonce", response_model=SiweChallengeOut)
def siwe_nonce(body: SiweNonceIn, user: CurrentUser, accounts: Accounts) -> Any:
    """An EIP-4361 message (single-use nonce, 10 minutes) to sign with the external wallet."""
    challenge = accounts.issue_siwe(user, body.address)
    return SiweChallengeOut(
        message=challenge.message, nonce=challenge.nonce, expires_at=challenge.expires_at
    )


@api.post("/siwe/verify", response_model=LinkedWalletOut)
def siwe_verify(body: SiweVerifyIn, user: CurrentUser, accounts: Accounts) -> Any:
    """Link the wallet that signed the message to the account."""
    return LinkedWalletOut(address=accounts.verify_siwe(user, body.message, body.signature))


@api.post("/{user_id}/roles", response_model=RolesOut)
def change_roles(
    user_id: UserId,
    body: RoleChangeIn,
    accounts: Accounts,
    admin: Annotated[User, Depends(require_roles(Role.ADMIN))],
) -> Any:
    """Grant and revoke roles (admins with a TOTP-verified session). The user's sessions end."""
    roles = accounts.change_roles(admin, user_id, body.grant, body.revoke)
    return RolesOut(user_id=user_id, roles=roles)


@api.get("/{user_id}", response_model=ProfileOut)
def get_account(user_id: UserId, user: CurrentUser, accounts: Accounts) -> Any:
    """A user's account with personal data: for the user themself or an admin, else 404."""
    return _profile_out(accounts.account(user, user_id, with_personal=True))


@api.patch("/{user_id}", response_model=ProfileOut)
def update_account(user_id: UserId, body: PersonalIn, user: CurrentUser, accounts: Accounts) -> Any:
    """Change personal data (name, phone, birth date; null clears): self or admin, else 404."""
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    return _profile_out(accounts.update_personal(user, user_id, changes))


# -- pages ----------------------------------------------------------------------------------


def _render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, f"accounts/{name}", values, status_code=status
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _form_errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"[:200] for e in exc.errors()][:10]


async def _form(request: Request) -> dict[str, str]:
    async with request.form() as form:
        return {k: v for k, v in form.items() if isinstance(v, str) and k != csrf.CSRF_FIELD}


def _signup_roles() -> list[str]:
    return sorted(r.value for r in SELF_SIGNUP_ROLES)


@pages.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> HTMLResponse:
    """The sign-up form."""
    return _render(request, "signup.html", roles=_signup_roles(), values={})


@pages.post("/signup", response_class=HTMLResponse)
async def signup_submit(request: Request) -> Response:
    """Create the account from the form; on success go to /account."""
    values = await _form(request)
    data = {k: v for k, v in values.items() if v.strip() != ""}
    data["roles"] = [data.pop("role", Role.CITIZEN.value)]  # type: ignore[assignment]
    accounts = account_service_for(request.app.state.context)
    try:
        body = SignupIn(**data)  # type: ignore[arg-type]
        personal = PersonalData(body.name, body.phone, body.birth_date)
        result = await run_in_threadpool(
            accounts.signup, body.username, body.password, body.roles, body.email, personal
        )
    except ValidationError as exc:
        return _render(
            request,
            "signup.html",
            422,
            roles=_signup_roles(),
            values=values,
            errors=_form_errors(exc),
        )
    except BusanchainError as exc:
        return _render(
            request,
            "signup.html",
            exc.status,
            roles=_signup_roles(),
            values=values,
            errors=[exc.message(request_lang(request))],
        )
    response = _redirect("/account")
    set_session_cookie(response, result.token, _cookies(request))
    return response


@pages.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    """The login form."""
    return _render(request, "login.html", values={})


@pages.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    """Check the password; continue at /login/totp when the account uses TOTP."""
    values = await _form(request)
    accounts = account_service_for(request.app.state.context)
    try:
        body = LoginIn(login=values.get("login", ""), password=values.get("password", ""))
        result = await run_in_threadpool(
            accounts.login,
            body.login,
            body.password,
            client_address(request),
            None,
            session_token(request),
            True,
        )
    except ValidationError as exc:
        return _render(request, "login.html", 422, values=values, errors=_form_errors(exc))
    except BusanchainError as exc:
        errors = [exc.message(request_lang(request))]
        return _render(request, "login.html", exc.status, values=values, errors=errors)
    response = _redirect("/account" if result.complete else "/login/totp")
    set_session_cookie(response, result.token, _cookies(request))
    return response


@pages.get("/login/totp", response_class=HTMLResponse)
def login_totp_page(request: Request) -> Response:
    """The second login step: the TOTP code."""
    if not request.state.pending_login:
        return _redirect("/login")
    return _render(request, "login_totp.html")


@pages.post("/login/totp", response_class=HTMLResponse)
async def login_totp_submit(request: Request) -> Response:
    """Check the TOTP code and finish the login."""
    values = await _form(request)
    accounts = account_service_for(request.app.state.context)
    try:
        body = TotpCodeIn(code=values.get("code", ""))
        result = await run_in_threadpool(
            accounts.complete_login,
            session_token(request) or "",
            body.code,
            client_address(request),
        )
    except ValidationError as exc:
        return _render(request, "login_totp.html", 422, errors=_form_errors(exc))
    except BusanchainError as exc:
        errors = [exc.message(request_lang(request))]
        return _render(request, "login_totp.html", exc.status, errors=errors)
    response = _redirect("/account")
    set_session_cookie(response, result.token, _cookies(request))
    return response


@pages.post("/logout")
def logout_submit(request: Request, accounts: Accounts) -> Response:
    """End the session and go home."""
    accounts.logout(session_token(request))
    response = _redirect("/")
    clear_session_cookie(response, _cookies(request))
    return response


@pages.get("/account", response_class=HTMLResponse)
def account_page(request: Request, accounts: Accounts) -> Response:
    """The user's roles, custodial address, linked wallets and TOTP status."""
    user = optional_user(request)
    if user is None:
        return _redirect("/login")
    return _render(request, "account.html", view=accounts.account(user, user.id))


@pages.post("/account/totp/enroll", response_class=HTMLResponse)
def account_totp_enroll(request: Request, user: CurrentUser, accounts: Accounts) -> Response:
    """Show a new TOTP secret and ask for a code to confirm it."""
    enrollment = accounts.enroll_totp(user)
    return _render(
        request, "totp_enroll.html", secret=enrollment.secret, uri=enrollment.otpauth_uri
    )


@pages.post("/account/totp/confirm", response_class=HTMLResponse)
async def account_totp_confirm(request: Request) -> Response:
    """Turn TOTP on with a code (rotates the session)."""
    user = current_user(request)
    values = await _form(request)
    accounts = account_service_for(request.app.state.context)
    try:
        body = TotpCodeIn(code=values.get("code", ""))
        token = await run_in_threadpool(
            accounts.confirm_totp, user, body.code, session_token(request) or ""
        )
    except ValidationError as exc:
        return _render(request, "totp_enroll.html", 422, errors=_form_errors(exc))
    except BusanchainError as exc:
        errors = [exc.message(request_lang(request))]
        return _render(request, "totp_enroll.html", exc.status, errors=errors)
    response = _redirect("/account")
    set_session_cookie(response, token, _cookies(request))
    return response


def register(app: FastAPI, context: PlatformContext) -> None:
    """Install the session middleware and the accounts routes."""
    accounts = account_service_for(context)
    config = CookieConfig(
        secret=load_session_secret(context.settings),
        secure=context.settings.secure_cookies,
        max_age_s=int(accounts.session_policy.absolute.total_seconds()),
    )
    app.state.session_cookies = config
    app.include_router(api)
    app.include_router(pages)
    app.add_middleware(SessionMiddleware, accounts=accounts, config=config)
