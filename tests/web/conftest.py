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
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    sync_playwright,
)

from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app

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


@pytest.fixture
def live_server(context: PlatformContext) -> Iterator[str]:
    """The real application on a free loopback port, served from a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(context), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


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
