"""Demo shops for `busanchain up --demo`: seven merchants across Busan, applied and approved.

Idempotent: a second run finds each shop (by its owner) and only finishes what is pending.
Demo owners share the published demo password; never load them on a network real people use.
"""

from __future__ import annotations

from dataclasses import dataclass

from busanchain.accounts import repository as accounts_repository
from busanchain.accounts.service import account_service_for
from busanchain.domain.errors import BusanchainError, Conflict
from busanchain.domain.roles import Role
from busanchain.merchants.payouts import PayoutService
from busanchain.merchants.rules import business_number_check_digit
from busanchain.merchants.service import MerchantService
from busanchain.merchants.shop_edits import ShopEditService
from busanchain.merchants.tables import MerchantStatus
from busanchain.platform.context import PlatformContext
from busanchain.platform.demo import DEMO_PASSWORD


@dataclass(frozen=True)
class DemoShop:
    """One demo shop and its owner's user name."""

    owner: str
    name_ko: str
    name_en: str
    first_nine: str  # of the (made-up, check-digit valid) business number
    mcc: int
    district: int
    street: str

    @property
    def business_number(self) -> str:
        """The full 10-digit number."""
        return self.first_nine + str(business_number_check_digit(self.first_nine))


DEMO_SHOPS = (
    DemoShop(
        "merchant1",
        "해운대 시장 마트",
        "Haeundae Market Mart",
        "617810001",
        5411,
        26350,
        "해운대로 570",
    ),
    DemoShop(
        "merchant2", "서면 김밥나라", "Seomyeon Gimbap", "605810002", 5812, 26230, "중앙대로 680"
    ),
    DemoShop(
        "merchant3",
        "광안리 카페 파도",
        "Cafe Pado Gwangalli",
        "617810003",
        5814,
        26500,
        "광안해변로 219",
    ),
    DemoShop(
        "merchant4",
        "남포동 책방골목 서점",
        "Nampo Book Alley",
        "602810004",
        5942,
        26110,
        "대청로 67",
    ),
    DemoShop(
        "merchant5",
        "동래 온누리 약국",
        "Dongnae Onnuri Pharmacy",
        "607810005",
        5912,
        26260,
        "충렬대로 237",
    ),
    DemoShop(
        "merchant6",
        "사하 새벽 베이커리",
        "Saha Dawn Bakery",
        "603810006",
        5462,
        26380,
        "낙동대로 398",
    ),
    DemoShop(
        "merchant7", "서면 골목 포차", "Seomyeon Alley Pub", "605810007", 5813, 26230, "서전로 10"
    ),
)


def _user_id(context: PlatformContext, username: str, user_ids: dict[str, int]) -> int:
    """The demo owner's id: given, existing, or a new merchant account."""
    if username in user_ids:
        return user_ids[username]
    try:
        return account_service_for(context).create_user(username, DEMO_PASSWORD, [Role.MERCHANT]).id
    except Conflict:
        with context.unit_of_work() as session:
            record = accounts_repository.user_by_login(session, username)
            if record is None:
                raise
            return record.id


def load_demo_merchants(context: PlatformContext, user_ids: dict[str, int]) -> list[str]:
    """Apply and approve the demo shops (owner "merchant1" is the existing demo merchant).

    `user_ids` maps demo user names to ids (load_demo_data's users); "official", if given,
    is recorded as the approving registrar. Returns one line per shop to print.
    """
    service = MerchantService(context)
    official = user_ids.get("official")
    lines = []
    for shop in DEMO_SHOPS:
        owner = _user_id(context, shop.owner, user_ids)
        view = service.by_owner(owner)
        if view is None or view.status == MerchantStatus.REJECTED:
            try:
                view = service.apply(
                    owner,
                    shop.name_ko,
                    shop.name_en,
                    shop.business_number,
                    shop.mcc,
                    shop.district,
                    shop.street,
                )
            except Conflict:
                lines.append(f"{shop.owner}: business number in use, skipped")
                continue
        if view.status in (MerchantStatus.APPLIED, MerchantStatus.REGISTERING):
            view = service.approve(view.id, official)
        lines.append(f"{view.code}  {shop.name_ko} / {shop.name_en}  ({shop.owner}, {view.status})")
    return lines


# merchant1's settlement account and two redemptions: one the city has paid, one awaiting.
DEMO_BANK = ("032", "1122334455667")  # Busan Bank, a made-up account number
DEMO_REDEMPTIONS = (
    ("demo-redeem-0001", 5_000, "BNK-DEMO-20261127-0001"),  # paid by the official
    ("demo-redeem-0002", 3_000, None),  # burned, awaiting the bank transfer
)


def load_demo_settlements(context: PlatformContext, owner_id: int, official_id: int) -> list[str]:
    """merchant1 adds a bank account and redeems twice; the official pays one (idempotent).

    Fixed Idempotency-Keys make a second run replay instead of burning again. Skipped with
    a line when the shop or its DigitalWon is missing: the demo never stops the platform.
    """
    edits = ShopEditService(context)
    try:
        if edits.bank_account(owner_id) is None:
            edits.edit_own(
                owner_id, {"bank_code": DEMO_BANK[0], "bank_account_number": DEMO_BANK[1]}
            )
        merchants, payouts = edits.merchants, PayoutService(context)
        states = []
        for key, amount, reference in DEMO_REDEMPTIONS:
            status, answer = merchants.redeem(owner_id, amount, key)
            if status == 200 and reference is not None:
                paid_key = key.replace("redeem", "paid")
                payouts.mark_paid(answer["settlement_id"], official_id, reference, paid_key)
                states.append("paid")
            else:
                states.append(str(answer["state"]))
    except BusanchainError as exc:
        return [f"  정산 데모 건너뜀 / settlements demo skipped: {exc.message_en}"]
    return [f"  정산 / settlements (merchant1): {', '.join(states)}"]
