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
