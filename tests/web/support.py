"""Browser fixtures: the real app under uvicorn, driven by Debian's Chromium through Playwright.

Playwright only drives the browser: it downloads nothing. Chromium is launched from
/usr/bin/chromium (`scripts/system-deps.sh` installs it). Every request that leaves loopback
is aborted, so a page that needs the internet shows up as a console error here instead of
passing on a developer's machine and failing in CI.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    sync_playwright,
)
from web3 import Web3

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.node import AnvilSupervisor
from busanchain.chain.rpc import make_web3
from busanchain.chain.signing import signer_from_key
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY
from busanchain.deployment.service import DeploymentService
from busanchain.explorer.indexer import ChainIndexer
from busanchain.explorer.service import contract_book_from_registry
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.conftest import module_context

CHROMIUM = Path(os.environ.get("BUSANCHAIN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Viewport:
    """A screen to render at."""

    name: str
    width: int
    height: int
    is_mobile: bool = False
    locale: str = "ko-KR"  # a Korean user's browser; English is asked for with ?lang=en

    def context_options(self) -> dict[str, object]:
        """Keyword arguments for `Browser.new_context`."""
        options: dict[str, object] = {
            "viewport": {"width": self.width, "height": self.height},
            "locale": self.locale,
        }
        if self.is_mobile:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        return options


DESKTOP = Viewport("desktop", 1280, 800)
PHONE = Viewport("phone", 390, 844, is_mobile=True)
VIEWPORTS = (DESKTOP, PHONE)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve an application on a free loopback port from a background thread; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture
def live_server(context: PlatformContext) -> Iterator[str]:
    """The real application over this test's fresh database and the session's anvil."""
    with serve(create_app(context)) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test session (per xdist worker)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/system-deps.sh` (Debian chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where page screenshots go (BUSANCHAIN_SCREENSHOT_DIR, else a session temp dir)."""
    configured = os.environ.get("BUSANCHAIN_SCREENSHOT_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


def _only_loopback(route: Route) -> None:
    if urlsplit(route.request.url).hostname in LOOPBACK_HOSTS:
        route.continue_()
    else:
        route.abort("internetdisconnected")


def new_browser_context(browser: Browser, viewport: Viewport) -> BrowserContext:
    """A fresh browser profile at a viewport that can reach loopback only."""
    ctx = browser.new_context(**viewport.context_options())  # type: ignore[arg-type]
    ctx.route("**/*", _only_loopback)
    return ctx


@dataclass
class PageVisit:
    """A page opened in the browser, with everything that went wrong in its console."""

    page: Page
    status: int
    errors: list[str] = field(default_factory=list)

    def assert_no_console_errors(self) -> None:
        """Fail with the collected console errors and uncaught exceptions, if any."""
        assert not self.errors, f"{self.page.url}:\n" + "\n".join(self.errors)


def visit(ctx: BrowserContext, url: str) -> PageVisit:
    """Open `url`, wait until the network is idle, collect console errors and page errors."""
    page = ctx.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console.error: {message.text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    response = page.goto(url, wait_until="load")
    assert response is not None, f"no response for {url}"
    page.wait_for_load_state("networkidle")
    return PageVisit(page=page, status=response.status, errors=errors)


@pytest.fixture
def open_context(browser: Browser) -> Iterator[Callable[[Viewport], BrowserContext]]:
    """A factory of fresh browser contexts at a viewport; all are closed after the test."""
    opened: list[BrowserContext] = []

    def make(viewport: Viewport) -> BrowserContext:
        opened.append(new_browser_context(browser, viewport))
        return opened[-1]

    yield make
    for ctx in opened:
        ctx.close()


@dataclass(frozen=True)
class ExplorerWorld:
    """A served app whose index holds DigitalWon, a mint, a transfer and a failed transfer."""

    url: str
    token: str
    holder: str
    block: int
    transfer: str
    failed: str


def _transact(w3: Web3, call: Any, sender: str) -> str:
    tx_hash = call.transact({"from": sender, "gas": 300_000})
    w3.eth.wait_for_transaction_receipt(tx_hash)
    return "0x" + bytes(tx_hash).hex()


@pytest.fixture(scope="module")
def explorer_world(
    tmp_path_factory: pytest.TempPathFactory, anvil: AnvilSupervisor
) -> Iterator[ExplorerWorld]:
    """DigitalWon deployed on the session's anvil, some transfers, all indexed, served."""
    tmp = tmp_path_factory.mktemp("explorer-world")
    with module_context(tmp, anvil.config.rpc_url, kek="b" * 64) as context:
        operator = signer_from_key(ANVIL_DEFAULT_OPERATOR_KEY)
        deployed = DeploymentService(context, OutboxService(context)).deploy_all(operator)
        token = deployed["DigitalWon"]
        w3 = make_web3(anvil.config.rpc_url)
        issuer, alice, bob = operator.address, w3.eth.accounts[5], w3.eth.accounts[6]
        won = w3.eth.contract(address=token, abi=load_artifact("DigitalWon").abi)
        _transact(w3, won.functions.mint(alice, 1_000_000, b"\x07" * 32), issuer)
        transfer = _transact(w3, won.functions.transfer(bob, 12_345), alice)
        failed = _transact(w3, won.functions.transfer(alice, 10**12), bob)
        ChainIndexer(context, contract_book_from_registry(context)).sync()
        block = int(w3.eth.get_transaction(transfer)["blockNumber"])
        with serve(create_app(context)) as url:
            yield ExplorerWorld(url, token, bob, block, transfer, failed)
