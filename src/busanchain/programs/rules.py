"""Program rules as officials type them: parsing and checking, with ko/en messages.

Kinds carry default eligibility ages (off chain, checked at import): youth allowance 19-34
(부산 청년 19~34세), child-rearing allowance 0-7 (the child's birth date), family none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from typing import Any

from busanchain.domain.addresses import MAX_AMOUNT_KRW
from busanchain.domain.busan import districts, parse_category, parse_district
from busanchain.domain.errors import ValidationFailed
from busanchain.domain.personal import clean_text

KINDS = ("youth", "family", "childcare", "other")
KIND_LABELS = {
    "youth": ("청년수당", "Youth allowance"),
    "family": ("가족수당", "Family allowance"),
    "childcare": ("양육수당", "Child-rearing allowance"),
    "other": ("기타", "Other"),
}
DEFAULT_AGES: dict[str, tuple[int | None, int | None]] = {
    "youth": (19, 34),
    "childcare": (0, 7),
    "family": (None, None),
    "other": (None, None),
}
MAX_LIST = 200
KST = timezone(timedelta(hours=9))
OFF_CHAIN_FIELDS = ("name_ko", "name_en", "min_age", "max_age")


@dataclass(frozen=True)
class ProgramFields:
    """Validated program rules."""

    name_ko: str
    name_en: str
    kind: str
    budget: int
    per_person_amount: int
    per_payment_cap: int
    daily_cap: int
    starts_at: datetime
    expires_at: datetime
    allowed_categories: list[int] = field(default_factory=list)
    blocked_categories: list[int] = field(default_factory=list)
    allowed_districts: list[int] = field(default_factory=list)
    min_age: int | None = None
    max_age: int | None = None


def _bad(field_name: str, en: str, ko: str) -> ValidationFailed:
    return ValidationFailed(f"{field_name}: {en}", f"{field_name}: {ko}", field=field_name)


def _name(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not clean_text(value, 100):
        raise _bad(key, "a name of 1-100 characters is required.", "1~100자의 이름이 필요합니다.")
    return clean_text(value, 100)


def _amount(data: Mapping[str, Any], key: str, required: bool) -> int:
    value = data.get(key, None if required else 0)
    if value in (None, "") and not required:
        return 0
    try:
        number = int(str(value).replace(",", "").strip())
    except (TypeError, ValueError):
        number = -1
    low = 1 if required else 0
    if isinstance(value, bool) or not low <= number <= MAX_AMOUNT_KRW:
        raise _bad(
            key,
            f"a whole number of won from {low} to {MAX_AMOUNT_KRW} is required.",
            f"{low}원부터 {MAX_AMOUNT_KRW}원 사이의 정수여야 합니다.",
        )
    return number


def parse_moment(value: Any, key: str) -> datetime:
    """A date, ISO date-time or Unix time; dates mean midnight Korea time (UTC+9)."""
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time(), tzinfo=KST)
        elif isinstance(value, int) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
        else:
            text = str(value).strip()
            if len(text) == 10:
                return parse_moment(date.fromisoformat(text), key)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError, OverflowError, OSError):
        raise _bad(
            key,
            "a date (YYYY-MM-DD) or date-time (ISO 8601) is required.",
            "날짜(YYYY-MM-DD) 또는 일시(ISO 8601)가 필요합니다.",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _codes(data: Mapping[str, Any], key: str, parse: Any) -> list[int]:
    raw = data.get(key) or []
    if isinstance(raw, str):
        raw = [part for part in raw.replace(";", ",").split(",") if part.strip()]
    if not isinstance(raw, list | tuple) or len(raw) > MAX_LIST:
        raise _bad(key, f"a list of at most {MAX_LIST} codes.", f"최대 {MAX_LIST}개의 코드 목록.")
    try:
        return sorted({int(parse(item)) for item in raw})
    except ValidationFailed as exc:
        raise _bad(key, exc.message_en, exc.message_ko) from None


def district_code(value: object) -> int:
    """A district by code, Korean name (해운대구) or English name (Haeundae-gu)."""
    text = str(value).strip()
    found = _district_names().get(text) or _district_names().get(text.lower())
    return found if found is not None else parse_district(text)


@cache
def _district_names() -> dict[str, int]:
    names: dict[str, int] = {}
    for d in districts().values():
        names.update({str(d.code): d.code, d.name_ko: d.code, d.name_en.lower(): d.code})
    return names


def _age(data: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = data.get(key, default)
    if value in (None, ""):
        return None
    try:
        age = int(str(value))
    except ValueError:
        age = -1
    if isinstance(value, bool) or not 0 <= age <= 130:
        raise _bad(key, "an age from 0 to 130 is required.", "0~130 사이의 나이여야 합니다.")
    return age


def parse_ages(data: Mapping[str, Any], kind: str) -> tuple[int | None, int | None]:
    """The eligibility age range (kind defaults unless given); min must not exceed max."""
    low_default, high_default = DEFAULT_AGES[kind]
    low = _age(data, "min_age", low_default)
    high = _age(data, "max_age", high_default)
    if low is not None and high is not None and low > high:
        raise _bad("min_age", "must not be above max_age.", "최대 나이보다 클 수 없습니다.")
    return low, high


def parse_program(data: Mapping[str, Any], chain_now: int) -> ProgramFields:
    """Check every rule of a new program; `chain_now` is the chain's clock (Unix seconds)."""
    kind = str(data.get("kind") or "other")
    if kind not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}.", f"{', '.join(KINDS)} 중 하나.")
    budget = _amount(data, "budget", True)
    per_person = _amount(data, "per_person_amount", True)
    if per_person > budget:
        raise _bad("per_person_amount", "must not exceed the budget.", "예산보다 클 수 없습니다.")
    starts_at = parse_moment(data.get("starts_at"), "starts_at")
    expires_at = parse_moment(data.get("expires_at"), "expires_at")
    if expires_at <= starts_at:
        raise _bad("expires_at", "must be after the start.", "시작 이후여야 합니다.")
    if expires_at.timestamp() <= chain_now:
        raise _bad("expires_at", "must be in the future.", "미래 시점이어야 합니다.")
    allowed = _codes(data, "allowed_categories", parse_category)
    blocked = _codes(data, "blocked_categories", parse_category)
    if set(allowed) & set(blocked):
        raise _bad(
            "blocked_categories",
            "a category cannot be both allowed and blocked.",
            "같은 업종을 허용과 차단에 모두 넣을 수 없습니다.",
        )
    low, high = parse_ages(data, kind)
    return ProgramFields(
        name_ko=_name(data, "name_ko"),
        name_en=_name(data, "name_en"),
        kind=kind,
        budget=budget,
        per_person_amount=per_person,
        per_payment_cap=_amount(data, "per_payment_cap", False),
        daily_cap=_amount(data, "daily_cap", False),
        starts_at=starts_at,
        expires_at=expires_at,
        allowed_categories=allowed,
        blocked_categories=blocked,
        allowed_districts=_codes(data, "allowed_districts", district_code),
        min_age=low,
        max_age=high,
    )
