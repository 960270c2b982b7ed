"""User roles and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The kinds of users of the platform."""

    CITIZEN = "citizen"
    MERCHANT = "merchant"
    STUDIO = "studio"
    OFFICIAL = "official"
    AUDITOR = "auditor"
    ADMIN = "admin"
    DEVELOPER = "developer"


# Roles whose accounts must use a TOTP second factor.
SECOND_FACTOR_ROLES = frozenset({Role.OFFICIAL, Role.ADMIN})

# Roles that may be chosen at self sign-up; the others are granted by an admin.
SELF_SIGNUP_ROLES = frozenset({Role.CITIZEN, Role.MERCHANT, Role.STUDIO, Role.DEVELOPER})

# How each role is named to people, in Korean and English.
ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.CITIZEN: ("시민", "Citizen"),
    Role.MERCHANT: ("가맹점", "Merchant"),
    Role.STUDIO: ("사진관", "Photo studio"),
    Role.OFFICIAL: ("공무원", "City official"),
    Role.AUDITOR: ("감사관", "Auditor"),
    Role.ADMIN: ("플랫폼 관리자", "Platform admin"),
    Role.DEVELOPER: ("개발자", "Developer"),
}
