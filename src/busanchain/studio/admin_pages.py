"""The platform admins' studio review page (/admin/studios).

Pending studios (name, the business number's last digits only, owner's username, date) with
approve and reject (with a note), and approved or suspended studios with suspend. The page
reads through `StudioReview` and decides through the JSON API (`/api/studio/studios/...`)
from the browser, with the session's CSRF token; approving follows the MINTER_ROLE grant
from "being approved" to "approved" as the transaction is mined. Admins only: visitors go to
/login, everyone else gets 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from busanchain.domain.roles import Role
from busanchain.studio.pages import _page_user, _render
from busanchain.studio.review import StudioReview

admin_pages = APIRouter(include_in_schema=False)


@admin_pages.get("/admin/studios", response_class=HTMLResponse)
def admin_studios_page(request: Request) -> Response:
    """사진관 심사: approve or reject pending studios, suspend approved ones."""
    user = _page_user(request, Role.ADMIN)
    if isinstance(user, Response):
        return user
    queue = StudioReview(request.app.state.context).queue()
    return _render(
        request, "admin.html", no_store=True, waiting=queue["waiting"], decided=queue["decided"]
    )
