"""API models of the payments feature."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from busanchain.domain.addresses import MAX_AMOUNT_KRW


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


MERCHANT_CODE = r"^[A-Za-z0-9\-]{1,12}$"
ORDER_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"


class PayIn(_Strict):
    """A citizen pays a merchant from one program's vouchers (the platform signs)."""

    program_id: int = Field(gt=0, lt=2**63, description="The allowance program")
    merchant_code: str = Field(pattern=MERCHANT_CODE, description="The shop's code, e.g. BS-7K2Q9P")
    amount: int = Field(ge=0, le=MAX_AMOUNT_KRW, description="Amount in KRW (whole won)")
    order_id: str | None = Field(default=None, pattern=ORDER_ID, description="Merchant's order id")


class SignedPayIn(PayIn):
    """A payment signed by the payer's own wallet (EIP-712 `Payment` of PolicyVoucher)."""

    payer: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="The signing wallet")
    nonce: int = Field(ge=0, lt=2**255, description="Unused PolicyVoucher payment nonce")
    deadline: int = Field(gt=0, lt=2**63, description="Last Unix time (chain time) to execute")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte signature")


class RefundIn(_Strict):
    """A merchant returns (part of) a payment to the citizen's vouchers."""

    amount: int = Field(gt=0, le=MAX_AMOUNT_KRW, description="Amount in KRW (whole won)")
