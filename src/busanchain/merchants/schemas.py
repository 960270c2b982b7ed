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


class ShopEditIn(_Closed):
    """An owner's own changes; only the fields sent are changed (null or "" clears).

    `mcc` and `district` are accepted only to answer with a clear message: they are changed
    through a change request that a registrar approves.
    """

    shop_name_ko: str | None = Field(default=None, max_length=100)
    shop_name_en: str | None = Field(default=None, max_length=100)
    street_address: str | None = Field(default=None, max_length=200)
    customer_phone: str | None = Field(default=None, max_length=30, description="가게 전화번호")
    bank_code: str | None = Field(default=None, max_length=3, description="은행 코드, e.g. 032")
    bank_account_number: str | None = Field(default=None, max_length=30)
    mcc: int | str | None = None
    district: int | str | None = None


class ChangeRequestIn(_Closed):
    """A request for a new category and/or district (a registrar decides)."""

    mcc: int | None = Field(default=None, ge=0, le=9999)
    district: int | None = Field(default=None, ge=0, le=99999)
    reason: str | None = Field(default=None, max_length=300)


class PaidIn(_Closed):
    """The bank's reference of the KRW transfer that paid a settlement."""

    bank_reference: str = Field(max_length=200, description="1-64 printable characters")


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
    customer_phone: str | None = None
    wallet_address: str
    status: str


class MerchantOut(MerchantPublicOut):
    """A merchant as its owner and the registrar see it."""

    id: int
    owner_user_id: int
    business_number_tail: str
    decision_note: str | None
    applied_at: str | None


class BankAccountOut(BaseModel):
    """A settlement account as pages show it (number masked)."""

    bank_code: str
    number: str


class MerchantSelfOut(MerchantOut):
    """The owner's own shop, with its masked settlement account."""

    bank_account: BankAccountOut | None = None


class ChangeRequestOut(BaseModel):
    """A category/district change request."""

    request_id: int
    merchant_id: int
    mcc: int | None
    district: int | None
    reason: str | None
    state: str
    requested_at: str
    decided_at: str | None
    decision_note: str | None
    merchant_code: str | None = None
    shop_name_ko: str | None = None
    shop_name_en: str | None = None
    current_mcc: int | None = None
    current_district: int | None = None


class SettlementOut(BaseModel):
    """A redemption: burned on chain, then paid by a bank transfer the city records."""

    settlement_id: int
    amount: int
    state: str
    redemption_ref: str
    bank_reference: str | None
    business_day: str
    created_at: str
    settled_at: str | None
    paid_at: str | None = None


class PayoutOut(SettlementOut):
    """A settlement with its shop, for officials and auditors (account masked)."""

    merchant_code: str
    shop_name_ko: str
    shop_name_en: str | None
    bank_account: BankAccountOut | None


class QrPayloadOut(BaseModel):
    """A scanned QR payload, read."""

    merchant_code: str
    amount: int | None
    order_id: str | None
    expires_at: int | None
