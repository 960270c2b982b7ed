"""Merchant QR codes: what they carry, how they are drawn (inline SVG) and how they are read.

A static code names only the shop: ``busanchain:pay?m=BS-7K2Q9P``. A dynamic code also
carries the amount, the merchant's order id and an expiry (unix seconds), so the citizen
only confirms: ``busanchain:pay?m=BS-7K2Q9P&a=12000&o=ORDER-17&t=1790000000``.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import segno

from busanchain.domain.errors import ValidationFailed
from busanchain.merchants.rules import parse_code

SCHEME = "busanchain:pay?"
MAX_QR_AMOUNT = 10_000_000
DYNAMIC_TTL_S = 600
MAX_PAYLOAD_CHARS = 300
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_KEYS = frozenset({"m", "a", "o", "t"})


def _bad(en: str, ko: str) -> ValidationFailed:
    return ValidationFailed(f"QR code: {en}", f"QR 코드: {ko}", field="qr")


def parse_order_id(value: object) -> str:
    """An order id of 1-32 letters, digits, '-' or '_'."""
    text = str(value).strip()
    if not ORDER_ID_RE.match(text):
        raise ValidationFailed(
            "An order id has 1-32 letters, digits, '-' or '_'.",
            "주문번호는 영문, 숫자, '-', '_' 1~32자입니다.",
            field="order",
        )
    return text


def parse_qr_amount(value: object) -> int:
    """A QR amount: a whole number of won from 1 to 10,000,000."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_QR_AMOUNT:
        raise ValidationFailed(
            f"The amount must be a whole number of won from 1 to {MAX_QR_AMOUNT:,}.",
            f"금액은 1원부터 {MAX_QR_AMOUNT:,}원까지의 정수입니다.",
            field="amount",
        )
    return int(text)


def static_payload(code: str) -> str:
    """The payload of a shop's static QR code."""
    return SCHEME + urlencode({"m": parse_code(code)})


def dynamic_payload(code: str, amount: int, order_id: str, now: int | None = None) -> str:
    """The payload of a one-order QR code that expires after 10 minutes."""
    expires = (int(time.time()) if now is None else now) + DYNAMIC_TTL_S
    query = {
        "m": parse_code(code),
        "a": str(parse_qr_amount(amount)),
        "o": parse_order_id(order_id),
        "t": str(expires),
    }
    return SCHEME + urlencode(query)


def parse_qr_payload(text: str, now: int | None = None) -> dict[str, Any]:
    """Read a scanned payload; ValidationFailed (ko/en) for anything malformed or expired.

    Returns {"merchant_code": str, "amount": int | None, "order_id": str | None,
    "expires_at": int | None}; the last three are None for a static code.
    """
    if not isinstance(text, str) or len(text) > MAX_PAYLOAD_CHARS:
        raise _bad("not a busanchain payment code.", "부산 블록체인 결제 코드가 아닙니다.")
    text = text.strip()
    if not text.startswith(SCHEME):
        raise _bad("not a busanchain payment code.", "부산 블록체인 결제 코드가 아닙니다.")
    try:
        pairs = parse_qsl(text[len(SCHEME) :], keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise _bad("the code is damaged.", "코드가 손상되었습니다.") from None
    fields = dict(pairs)
    if len(fields) != len(pairs) or not set(fields) <= _KEYS or "m" not in fields:
        raise _bad("the code is damaged.", "코드가 손상되었습니다.")
    code = parse_code(fields["m"])
    dynamic = {"a", "o", "t"} & set(fields)
    if not dynamic:
        return {"merchant_code": code, "amount": None, "order_id": None, "expires_at": None}
    if dynamic != {"a", "o", "t"}:
        raise _bad("the code is damaged.", "코드가 손상되었습니다.")
    if not fields["t"].isdigit() or len(fields["t"]) > 12:
        raise _bad("the code is damaged.", "코드가 손상되었습니다.")
    expires = int(fields["t"])
    if expires < (int(time.time()) if now is None else now):
        raise _bad(
            "this order code has expired; ask the shop for a new one.",
            "만료된 주문 코드입니다. 가게에 새 코드를 요청하세요.",
        )
    return {
        "merchant_code": code,
        "amount": parse_qr_amount(fields["a"]),
        "order_id": parse_order_id(fields["o"]),
        "expires_at": expires,
    }


def qr_svg(payload: str, scale: int = 8) -> str:
    """The payload drawn as an inline SVG that scales to its container (viewBox, no size)."""
    code = segno.make(payload, error="m")
    svg: str = code.svg_inline(scale=scale, omitsize=True, dark="#0b2545", light="#ffffff")
    return svg


def qr_svg_document(payload: str, scale: int = 8) -> str:
    """The payload as a standalone SVG document (for `image/svg+xml` downloads)."""
    code = segno.make(payload, error="m")
    svg: str = code.svg_inline(scale=scale, dark="#0b2545", light="#ffffff")
    return svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
