"""API models of the merchants feature."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from busanchain.domain.addresses import MAX_AMOUNT_KRW


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplyIn(_Closed):
    """A shop's application; the service checks the business number, category and district."""

    shop_name_ko: str = Field(max_length=100, description="상호 (Korean shop name)")
    shop_name_en: str | None = Field(default=None, max_length=100)
    business_number: str = Field(max_length=20, description="사업자등록번호, 123-45-67890")
    mcc: int = Field(ge=0, le=9999, description="ISO 18245 merchant category code")
    district: int = Field(ge=0, le=99999, description="Busan district code, e.g. 26350")
    street_address: str | None = Field(default=None, max_length=200)


class DecisionIn(_Closed):
    """A registrar's note on a decision (optional)."""

    note: str | None = Field(default=None, max_length=300)


class UpdateIn(_Closed):
    """Changes to a merchant (a new category or district goes to the registry on chain)."""

    mcc: int | None = Field(default=None, ge=0, le=9999)
    district: int | None = Field(default=None, ge=0, le=99999)
    shop_name_ko: str | None = Field(default=None, max_length=100)
    shop_name_en: str | None = Field(default=None, max_length=100)
    street_address: str | None = Field(default=None, max_length=200)


class RedeemIn(_Closed):
    """Redeem DigitalWon for KRW (whole won)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    amount: int = Field(gt=0, le=MAX_AMOUNT_KRW)


class MerchantPublicOut(BaseModel):
    """What anyone may know about a shop."""

    code: str
    shop_name_ko: str
    shop_name_en: str | None
    mcc: int
    category_ko: str | None
    category_en: str | None
    district: int
    district_ko: str | None
    district_en: str | None
    street_address: str | None
    wallet_address: str
    status: str


class MerchantOut(MerchantPublicOut):
    """A merchant as its owner and the registrar see it."""

    id: int
    owner_user_id: int
    business_number_tail: str
    decision_note: str | None
    applied_at: str | None


class SettlementOut(BaseModel):
    """A redemption and its (simulated) bank transfer."""

    settlement_id: int
    amount: int
    state: str
    redemption_ref: str
    bank_reference: str | None
    business_day: str
    created_at: str
    settled_at: str | None


class QrPayloadOut(BaseModel):
    """A scanned QR payload, read."""

    merchant_code: str
    amount: int | None
    order_id: str | None
    expires_at: int | None
