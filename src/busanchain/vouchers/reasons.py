"""Why PolicyVoucher rejected a payment: the contract's `Reason` codes, named in ko and en."""

from __future__ import annotations

from enum import IntEnum


class Reason(IntEnum):
    """PolicyVoucher.Reason, in the contract's order."""

    NONE = 0
    CONTRACT_PAUSED = 1
    UNKNOWN_PROGRAM = 2
    PROGRAM_PAUSED = 3
    NOT_STARTED = 4
    EXPIRED = 5
    ZERO_AMOUNT = 6
    PAYER_BLACKLISTED = 7
    MERCHANT_BLACKLISTED = 8
    MERCHANT_NOT_REGISTERED = 9
    MERCHANT_SUSPENDED = 10
    CATEGORY_BLOCKED = 11
    CATEGORY_NOT_ALLOWED = 12
    DISTRICT_NOT_ALLOWED = 13
    OVER_PAYMENT_CAP = 14
    OVER_DAILY_CAP = 15
    INSUFFICIENT_BALANCE = 16
    DEADLINE_PASSED = 17
    NONCE_USED = 18
    BAD_SIGNATURE = 19


REASON_TEXT: dict[Reason, tuple[str, str]] = {
    Reason.NONE: ("정상", "OK"),
    Reason.CONTRACT_PAUSED: ("결제가 일시 중지되었습니다", "Payments are paused"),
    Reason.UNKNOWN_PROGRAM: ("없는 지원 사업입니다", "No such allowance program"),
    Reason.PROGRAM_PAUSED: ("이 지원 사업은 일시 중지되었습니다", "This program is paused"),
    Reason.NOT_STARTED: ("아직 사용 기간이 아닙니다", "The program has not started yet"),
    Reason.EXPIRED: ("사용 기간이 끝났습니다", "The program has expired"),
    Reason.ZERO_AMOUNT: ("금액은 0보다 커야 합니다", "The amount must be above zero"),
    Reason.PAYER_BLACKLISTED: ("이 지갑은 결제가 제한되었습니다", "This wallet may not pay"),
    Reason.MERCHANT_BLACKLISTED: (
        "이 가맹점은 결제를 받을 수 없습니다",
        "This merchant may not accept payments",
    ),
    Reason.MERCHANT_NOT_REGISTERED: ("등록되지 않은 가맹점입니다", "Not a registered merchant"),
    Reason.MERCHANT_SUSPENDED: ("가맹점 자격이 정지되었습니다", "The merchant is suspended"),
    Reason.CATEGORY_BLOCKED: (
        "이 업종에서는 사용할 수 없습니다",
        "This program cannot be used in this kind of shop",
    ),
    Reason.CATEGORY_NOT_ALLOWED: (
        "이 업종은 사용처가 아닙니다",
        "This kind of shop is not among the program's places",
    ),
    Reason.DISTRICT_NOT_ALLOWED: (
        "이 지역(구·군)에서는 사용할 수 없습니다",
        "This program cannot be used in this district",
    ),
    Reason.OVER_PAYMENT_CAP: ("1회 결제 한도를 넘었습니다", "Above the per-payment limit"),
    Reason.OVER_DAILY_CAP: ("오늘 결제 한도를 넘었습니다", "Above today's limit"),
    Reason.INSUFFICIENT_BALANCE: ("잔액이 부족합니다", "Not enough balance"),
    Reason.DEADLINE_PASSED: ("결제 요청 시간이 지났습니다", "The payment request timed out"),
    Reason.NONCE_USED: ("이미 처리된 결제 요청입니다", "This payment was already processed"),
    Reason.BAD_SIGNATURE: ("서명이 올바르지 않습니다", "The signature is not valid"),
}


def reason_text(code: int, lang: str = "ko") -> str:
    """The reason in Korean (default) or English."""
    ko, en = REASON_TEXT[Reason(code)]
    return en if lang == "en" else ko
