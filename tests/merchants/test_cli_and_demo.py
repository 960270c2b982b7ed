"""The merchants CLI and the demo shops, on the real chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from busanchain.cli.merchants import app
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY
from busanchain.merchants.demo import DEMO_SHOPS, load_demo_merchants
from busanchain.merchants.service import MerchantService
from busanchain.platform.context import PlatformContext
from tests.merchants.conftest import bizno, new_merchant_user


@pytest.fixture
def cli_env(platform: PlatformContext, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point `Settings.from_env()` at the test's database and node."""
    settings = platform.settings
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUSANCHAIN_ROOT", str(tmp_path))
    monkeypatch.setenv("BUSANCHAIN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BUSANCHAIN_RPC_URL", settings.node_rpc_url)
    monkeypatch.setenv("BUSANCHAIN_OPERATOR_KEY", ANVIL_DEFAULT_OPERATOR_KEY)
    monkeypatch.setenv("BUSANCHAIN_KEK", "a" * 64)
    monkeypatch.setenv("BUSANCHAIN_DATA_DIR", str(tmp_path / "var"))


def test_cli_lists_approves_and_reports(platform: PlatformContext, cli_env: None) -> None:
    service = MerchantService(platform)
    owner = new_merchant_user(platform, "cli_shop")
    view = service.apply(owner, "CLI 가게", None, bizno("400000001"), 5411, 26350, None)
    runner = CliRunner()

    listed = runner.invoke(app, ["list", "--status", "applied"])
    assert listed.exit_code == 0, listed.output
    assert [m["code"] for m in json.loads(listed.stdout)] == [view.code]

    approved = runner.invoke(app, ["approve", str(view.id)])
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["status"] == "active"
    assert service.chain.read_one(service.chain.registry, "isActive", [view.wallet_address])

    report = runner.invoke(app, ["report", str(view.id), "--day", "2026-11-20"])
    assert json.loads(report.stdout)["payments"] == {"count": 0, "gross": 0}
    missing = runner.invoke(app, ["suspend", "9999"])
    assert missing.exit_code == 2
    assert runner.invoke(app, ["report", str(view.id), "--day", "nope"]).exit_code == 2


def test_demo_shops_are_registered_idempotently(platform: PlatformContext) -> None:
    merchant1 = new_merchant_user(platform, "merchant1")
    lines = load_demo_merchants(platform, {"merchant1": merchant1})
    assert len(lines) == len(DEMO_SHOPS)
    service = MerchantService(platform)
    first = service.by_owner(merchant1)
    assert first is not None and first.status == "active"
    assert service.chain.read_one(service.chain.registry, "isActive", [first.wallet_address])
    assert len(service.search()) == len(DEMO_SHOPS)
    assert len({m.district for m in service.search()}) >= 5
    again = load_demo_merchants(platform, {"merchant1": merchant1})
    assert again == lines


def test_demo_settlements_show_one_paid_and_one_awaiting(platform: PlatformContext) -> None:
    from busanchain.merchants.demo import load_demo_settlements
    from busanchain.merchants.payouts import PayoutService
    from tests.merchants.conftest import new_official
    from tests.merchants.test_service import mint

    merchant1 = new_merchant_user(platform, "merchant1")
    official = new_official(platform, "official")
    load_demo_merchants(platform, {"merchant1": merchant1, "official": official})
    service = MerchantService(platform)
    shop = service.by_owner(merchant1)
    assert shop is not None
    mint(service, shop.wallet_address, 20_000, b"\x07" * 32)

    lines = load_demo_settlements(platform, merchant1, official)

    assert lines == ["  정산 / settlements (merchant1): paid, burned"]
    states = sorted((s["state"], s["amount"]) for s in service.settlements(shop.id))
    assert states == [("burned", 3_000), ("paid", 5_000)]
    awaiting = PayoutService(platform).lines("burned")
    assert [line.merchant_code for line in awaiting] == [shop.code]
    assert awaiting[0].account is not None and awaiting[0].account.bank_code == "032"
    assert load_demo_settlements(platform, merchant1, official) == lines  # idempotent
    assert len(service.settlements(shop.id)) == 2
    assert service.chain.token_balance(shop.wallet_address) == 12_000
