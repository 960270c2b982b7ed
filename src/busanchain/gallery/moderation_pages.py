"""The moderators' page (/admin/moderation): open reports, frozen works and appeals.

Platform admins (who act as the Gallery's moderator through the operator key) see each open
report (work, kind, text, masked reporter, date) with a freeze form, the works frozen now
(reason code read from the chain, the note kept off chain) and the owners' appeals with
"unfreeze". Each row links to the work's page. Freeze and unfreeze go through the JSON API
from the browser with the session's CSRF token, and the page follows the transaction until
the chain shows the new state. The API has no "keep frozen" decision, so an appeal is
answered by unfreezing or by leaving the work frozen. Visitors go to /login; others get 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from busanchain.accounts.deps import optional_user
from busanchain.domain.errors import PermissionDenied
from busanchain.domain.roles import Role
from busanchain.gallery.moderation import ModerationQueue
from busanchain.gallery.pages import REPORT_LABELS, _labels, _render, mask_address
from busanchain.gallery.service import FREEZE_REASONS
from busanchain.http.i18n import request_lang

moderation_pages = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


def _admin(request: Request) -> Response | None:
    """None for an admin (TOTP-verified session); visitors go to /login; others get 403."""
    user = optional_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if Role.ADMIN in user.roles:
        return None
    if Role.ADMIN in user.held_roles:
        raise PermissionDenied(
            "This role needs a session verified with your TOTP code.",
            "이 역할은 2단계 인증(OTP) 코드로 로그인한 세션에서만 쓸 수 있습니다.",
        )
    raise PermissionDenied


@moderation_pages.get("/admin/moderation", response_class=HTMLResponse)
def moderation_page(request: Request) -> Response:
    """신고·거래 정지·이의 제기: the moderators' queue."""
    refused = _admin(request)
    if refused is not None:
        return refused
    queue = ModerationQueue(request.app.state.context).overview()
    response = _render(
        request,
        "moderation.html",
        reports=queue["reports"],
        frozen=queue["frozen"],
        appeals=queue["appeals"],
        freeze_reasons=FREEZE_REASONS,
        report_label=_labels(request_lang(request), REPORT_LABELS),
        mask=mask_address,
    )
    response.headers.update(NO_STORE)
    return response
