"""The demo photo studio for `busanchain up --demo`: 부산 사진관 / Busan Photo Studio.

The studio belongs to the demo user "studio1" and is approved by the demo platform admin
("admin"). It has two photographers and one shooting session of six generated photos
(`demo_art`, no stock images, no real people): four are claimed by the demo citizens, three
of those are published, one is issued but left unclaimed so a visitor can try the claim
page, and one is only uploaded so the studio can issue it from its console.

Idempotent: each step first looks at what is there, so a second run adds nothing. The
unclaimed photo's claim code is shown once by the service; the demo keeps it in
`<data_dir>/demo/claim-code.txt` (mode 0600) so later runs can print it again. It is a bearer
secret of a demo photo only; never load the demo on a network real people use.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from busanchain.accounts import repository as accounts_repository
from busanchain.accounts.service import account_service_for
from busanchain.domain.errors import BusanchainError, Conflict
from busanchain.domain.roles import Role
from busanchain.merchants.rules import business_number_check_digit
from busanchain.platform.context import PlatformContext
from busanchain.platform.demo import DEMO_PASSWORD
from busanchain.studio import repository as repo
from busanchain.studio.demo_art import demo_photo
from busanchain.studio.service import StudioService, Upload
from busanchain.studio.tables import PhotoState, StudioStatus

log = logging.getLogger(__name__)

STUDIO_OWNER = "studio1"
ADMIN = "admin"
STUDIO_NAME = ("부산 사진관", "Busan Photo Studio")
STUDIO_BIZNO_FIRST_NINE = "617820009"  # made up; the check digit is computed
PHOTOGRAPHERS = (("김바다 / Kim Bada", 500), ("이노을 / Lee Noeul", 700))
SESSION_CODE = "DEMO-BUSAN-SEA"
PHOTO_SIZE = (1600, 1200)
CLAIM_CODE_FILE = Path("demo") / "claim-code.txt"
DEMO_ROLES = (
    (STUDIO_OWNER, Role.STUDIO),
    ("citizen1", Role.CITIZEN),
    ("citizen2", Role.CITIZEN),
    (ADMIN, Role.ADMIN),
)


@dataclass(frozen=True)
class PhotoPlan:
    """What the demo does with one generated photo."""

    seed: int
    issue: bool
    claimer: str | None = None
    publish: bool = False


# Seeds 1-6 give six different scenes and titles (demo_art.TITLES).
PHOTO_PLANS = (
    PhotoPlan(1, True, "citizen1", True),  # exhibited
    PhotoPlan(2, True, "citizen1", True),  # exhibited and listed for sale
    PhotoPlan(3, True, "citizen2", True),  # exhibited
    PhotoPlan(4, True, "citizen2", True),  # auctioned: stays published in the gallery's escrow
    PhotoPlan(5, True),  # issued, unclaimed: its claim URL is printed
    PhotoPlan(6, False),  # uploaded only: the studio issues it from its console
)
LISTED_SEED, AUCTIONED_SEED, UNCLAIMED_SEED = 2, 4, 5
EXHIBITED_SEEDS = (1, 2, 3)


@dataclass
class StudioDemo:
    """What the studio demo made: ids the gallery demo builds on, and lines to print."""

    studio_id: int
    owner_id: int
    admin_id: int
    tokens: dict[int, int] = field(default_factory=dict)  # seed -> token id (claimed)
    owners: dict[int, int] = field(default_factory=dict)  # seed -> claimer's user id
    lines: list[str] = field(default_factory=list)


def demo_business_number() -> str:
    """The demo studio's (made-up, check-digit valid) business number."""
    return STUDIO_BIZNO_FIRST_NINE + str(business_number_check_digit(STUDIO_BIZNO_FIRST_NINE))


def demo_user_id(context: PlatformContext, username: str, role: Role) -> int:
    """The id of a demo account, created with the demo password if it is missing."""
    try:
        return account_service_for(context).create_user(username, DEMO_PASSWORD, [role]).id
    except Conflict:
        with context.unit_of_work() as session:
            record = accounts_repository.user_by_login(session, username)
            if record is None:
                raise
            return record.id


def load_demo_studio(context: PlatformContext, user_ids: dict[str, int]) -> StudioDemo:
    """Register, approve and fill the demo studio (idempotent).

    `user_ids` maps demo user names to ids (`load_demo_data`'s users); "studio1",
    "citizen1" and "citizen2" are created if missing, and so is the admin "admin".
    """
    ids = dict(user_ids)
    for name, role in DEMO_ROLES:
        if name not in ids:
            ids[name] = demo_user_id(context, name, role)
    service = StudioService(context)
    studio_id = _approved_studio(service, ids[STUDIO_OWNER], ids[ADMIN])
    demo = StudioDemo(studio_id, ids[STUDIO_OWNER], ids[ADMIN])
    photographer_id = _photographers(service, demo.owner_id)
    session_id = _session(service, demo.owner_id, photographer_id)
    photos = _photos(service, demo.owner_id, session_id)
    # photos a visitor later adds to the demo session are theirs: the plan covers the first six
    for plan, photo in zip(PHOTO_PLANS, photos, strict=False):
        _follow_plan(service, demo, ids, plan, photo)
    demo.lines[:0] = _summary(service, demo, session_id)
    return demo


def _approved_studio(service: StudioService, owner_id: int, admin_id: int) -> int:
    """The owner's studio, registered and approved (a pending approval is finished)."""
    with service.context.unit_of_work() as session:
        record = repo.studio_of_owner(session, owner_id)
        studio_id = record.id if record else None
        status = record.status if record else None
    if studio_id is None:
        name_ko, name_en = STUDIO_NAME
        created = service.register(owner_id, name_ko, name_en, demo_business_number(), 500)
        studio_id, status = int(created["id"]), str(created["status"])
    if status != StudioStatus.ACTIVE:
        status = str(service.approve(studio_id, admin_id)["status"])
    if status != StudioStatus.ACTIVE:
        raise Conflict(
            f"The demo studio is {status}, not active.", f"데모 사진관 상태가 {status}입니다."
        )
    return studio_id


def _photographers(service: StudioService, owner_id: int) -> int:
    """Add the demo photographers that are missing; returns the first one's id."""
    known = {str(p["name"]): int(p["id"]) for p in service.photographers(owner_id)}
    for name, bps in PHOTOGRAPHERS:
        if name not in known:
            known[name] = int(service.add_photographer(owner_id, name, bps)["id"])
    return known[PHOTOGRAPHERS[0][0]]


def _session(service: StudioService, owner_id: int, photographer_id: int) -> int:
    """The demo shooting session (created once)."""
    for row in service.sessions(owner_id):
        if row["code"] == SESSION_CODE:
            return int(row["id"])
    return int(service.create_session(owner_id, SESSION_CODE, photographer_id)["id"])


def _photos(service: StudioService, owner_id: int, session_id: int) -> list[dict[str, Any]]:
    """The session's photos, uploaded in one all-or-nothing request the first time."""
    photos = service.session_detail(owner_id, session_id)["photos"]
    if not photos:
        files = [
            Upload(f"busan-{p.seed}.jpg", demo_photo(p.seed, PHOTO_SIZE).jpeg) for p in PHOTO_PLANS
        ]
        photos = service.upload(owner_id, session_id, files)
    return list(photos)


def _follow_plan(
    service: StudioService,
    demo: StudioDemo,
    ids: dict[str, int],
    plan: PhotoPlan,
    photo: dict[str, Any],
) -> None:
    """Issue, claim and publish one photo as planned, from whatever state it is in."""
    photo_id, state = int(photo["id"]), str(photo["state"])
    if plan.issue and state == PhotoState.UPLOADED:
        base = service.context.settings.web_url
        _, answer = service.issue(demo.owner_id, photo_id, f"demo-issue-{plan.seed}", base)
        code = str(answer["claim_code"])
        if plan.claimer is None:
            _keep_claim_code(service.context, code)
        else:
            state = _claim_and_publish(service, ids[plan.claimer], photo_id, code, plan)
    if plan.claimer is not None:
        demo.owners[plan.seed] = ids[plan.claimer]
    record = service.photo(demo.owner_id, photo_id)
    if record["state"] == PhotoState.CLAIMED and record["token_id"] is not None:
        demo.tokens[plan.seed] = int(record["token_id"])
    elif plan.claimer is not None and state == PhotoState.ISSUED:
        demo.lines.append(f"  photo {photo_id}: issued earlier, its claim code was not kept")


def _claim_and_publish(
    service: StudioService, user_id: int, photo_id: int, code: str, plan: PhotoPlan
) -> str:
    """Claim a freshly issued photo for a demo citizen and publish it if planned."""
    status, answer = service.claim(user_id, code, None, f"demo-claim-{plan.seed}")
    if status != 200:
        log.warning("demo claim of photo %s answered %s: %s", photo_id, status, answer)
        return str(answer.get("state", PhotoState.CLAIMING))
    if plan.publish:
        service.publish(user_id, photo_id, True)
    return PhotoState.CLAIMED


def _keep_claim_code(context: PlatformContext, code: str) -> None:
    """Store the unclaimed demo photo's code (0600) so that later runs can print it."""
    path = context.settings.data_dir / CLAIM_CODE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(code + "\n")
    os.chmod(path, 0o600)


def kept_claim_code(context: PlatformContext) -> str | None:
    """The unclaimed demo photo's claim code, if the demo kept it."""
    path = context.settings.data_dir / CLAIM_CODE_FILE
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _summary(service: StudioService, demo: StudioDemo, session_id: int) -> list[str]:
    """Lines to print: the studio, its photos by state, and the unclaimed photo's claim URL."""
    base = service.context.settings.web_url
    photos = service.session_detail(demo.owner_id, session_id)["photos"]
    counts: dict[str, int] = {}
    for photo in photos:
        counts[str(photo["state"])] = counts.get(str(photo["state"]), 0) + 1
    states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    lines = [
        f"  사진관 / photo studio: {STUDIO_NAME[0]} / {STUDIO_NAME[1]} "
        f"({STUDIO_OWNER}, approved by {ADMIN}) {base}/studio",
        f"  관리자 / platform admin: {ADMIN} (TOTP on first login; gallery moderation)",
        f"  데모 사진 / demo photos ({SESSION_CODE}): {states}",
    ]
    planned = zip(PHOTO_PLANS, photos, strict=False)
    unclaimed = next((p for plan, p in planned if plan.seed == UNCLAIMED_SEED), None)
    code = kept_claim_code(service.context)
    if unclaimed is not None and unclaimed["state"] == PhotoState.ISSUED and code:
        lines.append(f"  수령해 보기 / try a claim: {base}/claim/{code}")
    return lines


def safe_load_demo_studio(context: PlatformContext, user_ids: dict[str, int]) -> StudioDemo | None:
    """`load_demo_studio`, logging instead of raising: a demo never stops the platform."""
    try:
        return load_demo_studio(context, user_ids)
    except BusanchainError as exc:
        log.warning("studio demo skipped: %s", exc.message_en)
        return None
