"""HTTP routes of the photo studio: JSON API under /api/studio, and the content gateway /ipfs.

Studios (role studio) register, add photographers, open sessions, upload and issue claim
vouchers; platform admins approve, reject and suspend studios; any logged-in user claims a
photo with its code and manages the photos they own. Private content answers 404 to anyone
but its rightful party, by URL, by CID and through the API alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import JSONResponse, Response

from busanchain.accounts.deps import current_user, optional_user, require_roles
from busanchain.accounts.service import User
from busanchain.domain.errors import ValidationFailed
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.studio.admin_pages import admin_pages
from busanchain.studio.credentials import StudioCredentialService
from busanchain.studio.images import DEFAULT_LIMITS
from busanchain.studio.pages import pages
from busanchain.studio.schemas import (
    ClaimIn,
    CredentialsIn,
    DecisionIn,
    PhotographerIn,
    PublishIn,
    SessionIn,
    StudioIn,
)
from busanchain.studio.service import Blob, StudioService, Upload, studio_service_for

api = APIRouter(prefix="/api/studio", tags=["studio"])
gateway = APIRouter(tags=["studio"])

Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Studio = Annotated[User, Depends(require_roles(Role.STUDIO))]
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
Member = Annotated[User, Depends(current_user)]
Visitor = Annotated[User | None, Depends(optional_user)]
IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-store"


def _service(request: Request) -> StudioService:
    return studio_service_for(request.app.state.context)


def _blob_response(request: Request, blob: Blob) -> Response:
    """Bytes with their type; ETag = CID; immutable caching only for public content."""
    etag = f'"{blob.cid}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE if blob.public else PRIVATE,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if not blob.public:
        headers["Vary"] = "Cookie"
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(blob.data, media_type=blob.media_type, headers=headers)


def _read_uploads(files: list[UploadFile]) -> list[Upload]:
    limit = DEFAULT_LIMITS.max_bytes
    out = []
    for item in files:
        data = item.file.read(limit + 1)
        out.append(Upload(filename=item.filename or "", data=data))
    return out


# -- studios -----------------------------------------------------------------------------------


@api.post("/studios", status_code=201)
def register_studio(request: Request, body: StudioIn, user: Studio) -> Any:
    """Register your studio (role studio); a platform admin approves it."""
    return _service(request).register(
        user.id, body.name_ko, body.name_en, body.business_number, body.default_royalty_bps
    )


@api.get("/studios")
def list_studios(
    request: Request, user: Admin, status: Annotated[str | None, Query(max_length=16)] = None
) -> Any:
    """Studios by status (platform admins)."""
    return _service(request).studios(status)


@api.get("/me/studio")
def my_studio(request: Request, user: Studio) -> Any:
    """Your studio."""
    return _service(request).my_studio(user.id)


@api.get("/me/credentials")
def my_credentials(request: Request, user: Studio) -> Any:
    """Your studio's C2PA content credentials: certificate facts only, never the key."""
    return StudioCredentialService(request.app.state.context).facts(user.id)


@api.put("/me/credentials")
def replace_credentials(request: Request, body: CredentialsIn, user: Studio) -> Any:
    """Replace your studio's development credentials with a certificate from a real CA.

    The PEM chain starts with the signing certificate (P-256/ES256, valid now, key usage
    digitalSignature, extended key usage C2PA document signing or emailProtection), each
    followed by its issuer; the key is the leaf's unencrypted P-256 private key. 422 with
    the reason for anything wrong. Answers the certificate facts (never the key).
    """
    context = request.app.state.context
    return StudioCredentialService(context).replace(
        user.id, body.certificate_chain_pem, body.private_key_pem
    )


@api.post("/studios/{studio_id}/approve")
def approve_studio(request: Request, studio_id: Id, user: Admin) -> Any:
    """Approve a studio: its signing address gets MINTER_ROLE on PhotoNFT (through the outbox)."""
    return _service(request).approve(studio_id, user.id)


@api.post("/studios/{studio_id}/reject")
def reject_studio(request: Request, studio_id: Id, user: Admin, body: DecisionIn) -> Any:
    """Reject a pending studio."""
    return _service(request).reject(studio_id, user.id, body.note)


@api.post("/studios/{studio_id}/suspend")
def suspend_studio(request: Request, studio_id: Id, user: Admin, body: DecisionIn) -> Any:
    """Suspend a studio: MINTER_ROLE is revoked, so its unclaimed vouchers stop working."""
    return _service(request).suspend(studio_id, user.id, body.note)


# -- photographers and sessions ----------------------------------------------------------------


@api.post("/me/photographers", status_code=201)
def add_photographer(request: Request, body: PhotographerIn, user: Studio) -> Any:
    """Add a photographer with a royalty share (basis points, at most 1000 = 10%)."""
    return _service(request).add_photographer(user.id, body.name, body.royalty_bps, body.account)


@api.get("/me/photographers")
def photographers(request: Request, user: Studio) -> Any:
    """Your studio's photographers."""
    return _service(request).photographers(user.id)


@api.post("/sessions", status_code=201)
def create_session(request: Request, body: SessionIn, user: Studio) -> Any:
    """Open a shooting session named by a code (never the customer's name or phone)."""
    return _service(request).create_session(user.id, body.code, body.photographer_id)


@api.get("/sessions/{session_id}")
def session_detail(request: Request, session_id: Id, user: Studio) -> Any:
    """A session of your studio with its photos."""
    return _service(request).session_detail(user.id, session_id)


@api.post("/sessions/{session_id}/photos", status_code=201)
def upload_photos(
    request: Request,
    session_id: Id,
    user: Studio,
    files: Annotated[list[UploadFile], File()],
    force: Annotated[bool, Form()] = False,
) -> Any:
    """Upload one or more photos (multipart field `files`); all are stored, or none.

    409 for a photo already on the platform, or one nearly identical to an issued photo
    (send `force=true` to upload it anyway; a warning is recorded).
    """
    if not isinstance(files, list):
        raise ValidationFailed("Choose at least one photo.", "사진을 하나 이상 고르세요.")
    return _service(request).upload(user.id, session_id, _read_uploads(files), force)


# -- photos ------------------------------------------------------------------------------------


@api.get("/photos/{photo_id}")
def photo_detail(request: Request, photo_id: Id, user: Member) -> Any:
    """A photo's record, for its studio or its owner."""
    return _service(request).photo(user.id, photo_id)


@api.post("/photos/{photo_id}/issue", status_code=201)
def issue(request: Request, photo_id: Id, user: Studio, idempotency_key: IdemKey = None) -> Any:
    """Sign a claim voucher; the claim code and URL are in this answer only (shown once)."""
    status, answer = _service(request).issue(user.id, photo_id, idempotency_key)
    return JSONResponse(answer, status_code=status)


@api.post("/photos/{photo_id}/reissue", status_code=201)
def reissue(request: Request, photo_id: Id, user: Studio, idempotency_key: IdemKey = None) -> Any:
    """Re-issue a lost claim code of one issued, unclaimed photo of your studio.

    Per photo: the old voucher is cancelled on chain (`PhotoNFT.cancelVoucher`, sent by the
    studio's key through the outbox) before a new voucher is signed; the new claim code and
    URL are in this answer only (shown once). A customer's whole batch is re-issued by
    calling this for each of its photos (the session page does so). Needs an
    Idempotency-Key: a repeat answers without the code. 201 re-issued, 202 the cancellation
    is still being mined (repeat with the same key), 404 not your photo, 409 already claimed
    (or being claimed) or never issued, 422 the cancellation was reverted (the old code
    still works).
    """
    status, answer = _service(request).reissue(user.id, photo_id, idempotency_key)
    return JSONResponse(answer, status_code=status)


@api.post("/claims", status_code=202)
def claim(request: Request, body: ClaimIn, user: Member, idempotency_key: IdemKey = None) -> Any:
    """Claim a photo with its code; the platform relays the mint and pays the gas.

    With `publish: true` the photo is published in the same transaction (platform wallet).
    200 claimed, 202 pending (repeat with the same key to follow it), 404 unknown code,
    409 already claimed, 410 expired, 422 `publish` with an external wallet.
    """
    service = _service(request)
    status, answer = service.claim(user.id, body.code, body.to, idempotency_key, body.publish)
    return JSONResponse(answer, status_code=status)


@api.get("/me/photos")
def my_photos(request: Request, user: Member) -> Any:
    """The photos you own."""
    return _service(request).my_photos(user.id)


@api.post("/photos/{photo_id}/publish")
def publish(request: Request, photo_id: Id, body: PublishIn, user: Member) -> Any:
    """Publish your photo (or make it private again); 200 done, 202 pending."""
    status, answer = _service(request).publish(user.id, photo_id, body.published)
    return JSONResponse(answer, status_code=status)


@api.get("/photos/{photo_id}/image")
def photo_image(
    request: Request,
    photo_id: Id,
    user: Visitor,
    size: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """A photo's image (size original, 1280 or 320): public ones to all, private to the owner."""
    blob = _service(request).photo_image(user.id if user else None, photo_id, size)
    return _blob_response(request, blob)


@gateway.get("/ipfs/{cid}")
def ipfs(request: Request, cid: Annotated[str, Path(max_length=100)], user: Visitor) -> Response:
    """Content by CID: public content to anyone, private content to its rightful party only."""
    blob = _service(request).content(user.id if user else None, cid)
    return _blob_response(request, blob)


def register(app: FastAPI, context: PlatformContext) -> None:
    """Mount the studio routes (JSON API, content gateway and pages)."""
    app.include_router(api)
    app.include_router(gateway)
    app.include_router(pages)
    app.include_router(admin_pages)
