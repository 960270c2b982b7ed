"""Gallery errors with Korean and English messages, and the contract's reverts made readable."""

from __future__ import annotations

from busanchain.domain.errors import (
    BusanchainError,
    Conflict,
    NotFound,
    TransactionReverted,
    ValidationFailed,
)

# Gallery custom errors, as (Korean, English) messages for users.
REVERT_TEXT: dict[str, tuple[str, str]] = {
    "TokenFrozen": (
        "신고로 거래가 정지된 작품입니다",
        "This work is frozen from sale after a report",
    ),
    "OrderExpired": ("판매 기한이 지난 주문입니다", "This order has expired"),
    "StaleNonce": ("판매자가 모든 주문을 취소했습니다", "The maker cancelled all their orders"),
    "OrderNotOpen": ("이미 체결되었거나 취소된 주문입니다", "The order was filled or cancelled"),
    "StaleOrder": (
        "판매자가 더 이상 이 작품을 갖고 있지 않습니다",
        "The seller no longer owns this work",
    ),
    "SelfTrade": ("자신의 주문은 체결할 수 없습니다", "You cannot fill your own order"),
    "NotTokenOwner": ("작품 소유자가 아닙니다", "You do not own this work"),
    "AuctionNotStarted": ("경매가 아직 시작되지 않았습니다", "The auction has not started yet"),
    "AuctionEnded": ("경매가 끝났습니다", "The auction has ended"),
    "AuctionNotEnded": ("경매가 아직 끝나지 않았습니다", "The auction has not ended yet"),
    "AuctionNotLive": ("진행 중인 경매가 아닙니다", "The auction is not live"),
    "BidTooLow": ("입찰 금액이 최소 입찰가보다 낮습니다", "The bid is below the minimum bid"),
    "SellerCannotBid": ("판매자는 자신의 경매에 입찰할 수 없습니다", "Sellers cannot bid"),
    "InvalidAuction": ("경매 기간 또는 조건이 올바르지 않습니다", "The auction terms are invalid"),
    "NotFrozen": ("거래 정지 상태가 아닙니다", "The work is not frozen"),
    "ERC20InsufficientBalance": ("디지털원 잔액이 부족합니다", "Not enough DigitalWon"),
    "ERC20InsufficientAllowance": ("디지털원 승인 금액이 부족합니다", "Not enough allowance"),
}


class TokenFrozen(Conflict):
    """The token is frozen by a moderator."""

    code = "token_frozen"
    default_ko = REVERT_TEXT["TokenFrozen"][0]
    default_en = REVERT_TEXT["TokenFrozen"][1]


class OrderClosed(Conflict):
    """The order is no longer open (filled, cancelled, expired or stale)."""

    code = "order_closed"
    default_ko = "더 이상 체결할 수 없는 주문입니다."
    default_en = "This order can no longer be filled."


class InsufficientFunds(ValidationFailed):
    """The buyer or bidder holds too little DigitalWon."""

    code = "insufficient_funds"
    default_ko = "디지털원 잔액이 부족합니다."
    default_en = "Your wallet does not hold enough DigitalWon."


class ExternalWallet(ValidationFailed):
    """The platform cannot sign for a token held in an external wallet."""

    code = "external_wallet"
    default_ko = "이 작품은 외부 지갑에 있습니다. 그 지갑에서 직접 거래하세요."
    default_en = "This work is in an external wallet; trade it from that wallet."


def not_found(what_en: str = "work", what_ko: str = "작품") -> NotFound:
    """A NotFound for a gallery object (also for objects the caller may not see)."""
    return NotFound(f"No such {what_en}.", f"해당 {what_ko}이(가) 없습니다.")


def friendly_revert(exc: TransactionReverted) -> BusanchainError:
    """A Gallery (or DigitalWon) revert as a clear ko/en error; frozen tokens as 409."""
    reason = str(exc.details.get("reason", ""))
    name = reason.split("(")[0].strip()
    if name == "TokenFrozen":
        return TokenFrozen(reason=reason)
    if name in REVERT_TEXT:
        ko, en = REVERT_TEXT[name]
        return TransactionReverted(en, ko, reason=reason)
    return exc
