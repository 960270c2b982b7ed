"""A studio replaces its development C2PA certificate from the console, on a phone.

Headless Chromium at 390 px: a wrong key is refused with the reason in Korean, and nothing
changes; the right chain and key replace the development certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import BrowserContext, Page

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.studio.service import StudioService
from tests.accounts.conftest import make_user
from tests.merchants.conftest import bizno
from tests.studio.test_credentials import UPLOADED_ORG, _pem_key, make_chain
from tests.web.support import PHONE, Viewport
from tests.web.test_allowance_flow import CHAIN_WAIT_MS, Site, checked, log_in, open_page
from tests.web.test_studio_reissue_flow import studio_site  # noqa: F401 (fixture)


def _upload(page: Page, chain: Path, key: Path) -> None:
    page.click("[data-testid=credentials-upload] summary")
    page.set_input_files("[data-testid=credentials-chain]", str(chain))
    page.set_input_files("[data-testid=credentials-key]", str(key))


def test_the_console_replaces_the_development_certificate(
    studio_site: Site,  # noqa: F811 (fixture)
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    tmp_path: Path,
) -> None:
    base, context = studio_site.url, studio_site.context
    accounts = account_service_for(context)
    owner = make_user(accounts, "seomyeon-cert", Role.STUDIO)
    admin = make_user(accounts, "studio-admin-cert", Role.ADMIN)
    service = StudioService(context)
    studio = service.register(owner, "서면 사진관", "Seomyeon Photo", bizno("515000777"), 500)
    assert service.approve(studio["id"], admin)["status"] == "active"
    chain = make_chain()
    (tmp_path / "chain.pem").write_text(chain.chain_pem)
    (tmp_path / "key.pem").write_text(chain.key_pem)
    (tmp_path / "other.pem").write_text(_pem_key(ec.generate_private_key(ec.SECP256R1())))

    ctx = open_context(PHONE)
    log_in(ctx, base, "seomyeon-cert")
    shown = open_page(ctx, base + "/studio")
    page = shown.page
    source = "[data-testid=credentials-source]"
    assert page.get_attribute(source, "data-source") == "dev"

    _upload(page, tmp_path / "chain.pem", tmp_path / "other.pem")  # a key of another cert
    page.click("[data-testid=credentials-submit]")
    result = page.locator("[data-testid=credentials-result].alert")
    result.wait_for(timeout=CHAIN_WAIT_MS)
    assert "키" in result.inner_text()  # the reason, in Korean
    assert page.get_attribute(source, "data-source") == "dev"
    page.screenshot(path=str(screenshot_dir / "studio-credentials-refused-phone.png"))
    assert all("422" in line for line in shown.errors)  # the browser logs the refused PUT
    shown.errors.clear()

    page.set_input_files("[data-testid=credentials-key]", str(tmp_path / "key.pem"))
    with page.expect_navigation(timeout=CHAIN_WAIT_MS):
        page.click("[data-testid=credentials-submit]")
    checked(shown)
    assert page.get_attribute(source, "data-source") == "uploaded"
    assert page.inner_text("[data-testid=credentials-organisation]") == UPLOADED_ORG
    assert chain.key_pem.splitlines()[1] not in page.content()  # the key is never shown
    page.screenshot(path=str(screenshot_dir / "studio-credentials-phone.png"), full_page=True)
