"""Every page renders in headless Chromium at a desktop and a phone viewport.

For each page and each language: HTTP 200, no console errors or uncaught exceptions, the
right language (Korean by default, English with ?lang=en: no Hangul outside elements marked
`lang="ko"`), and at phone width no horizontal scrolling. Screenshots are saved for review
(BUSANCHAIN_SCREENSHOT_DIR, else the session's temp dir).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.web.support import HANGUL, PHONE, VIEWPORTS, ExplorerWorld, PageVisit, Viewport, visit

pytestmark = pytest.mark.browser

# Pages that need no data (rendered over an empty database).
STATIC_PAGES = ("/", "/explorer", "/login", "/signup")
# Explorer pages over an index with DigitalWon, a transfer and a failed transfer.
EXPLORER_PAGES = {
    "overview": lambda w: "/explorer",
    "block": lambda w: f"/explorer/block/{w.block}",
    "transfer": lambda w: f"/explorer/tx/{w.transfer}",
    "failed-transfer": lambda w: f"/explorer/tx/{w.failed}",
    "holder": lambda w: f"/explorer/address/{w.holder}",
    "token": lambda w: f"/explorer/address/{w.token}",
}
LANGS = ("ko", "en")

# Korean text allowed on an English page only inside an element marked lang="ko"; scripts,
# styles and templates are not visible text.
_VISIBLE_TEXT_JS = """(skipKorean) => {
  const clone = document.body.cloneNode(true);
  const drop = 'script, style, template, noscript' + (skipKorean ? ', [lang="ko"]' : '');
  clone.querySelectorAll(drop).forEach((el) => el.remove());
  return {lang: document.documentElement.lang, title: document.title, text: clone.textContent};
}"""

_OVERFLOW_JS = """(width) => {
  const describe = (el) => {
    const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/) : [];
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      classes.filter(Boolean).map((c) => '.' + c).join('');
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const right = el.getBoundingClientRect().right;
    if (right > width + 1) wide.push(describe(el) + ' right=' + Math.round(right));
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          wide: wide.slice(0, 12)};
}"""


def with_lang(url: str, lang: str) -> str:
    """The URL with ?lang=en added (Korean is the default, so `ko` adds nothing)."""
    if lang == "ko":
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode({'lang': lang})}" if parts.query else f"lang={lang}"
    return urlunsplit(parts._replace(query=query))


def slug(path: str, lang: str, viewport: Viewport) -> str:
    """A file name for a screenshot."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "home"
    return f"{name}-{lang}-{viewport.name}.png"


def assert_language(visit_: PageVisit, lang: str) -> None:
    """Korean pages contain Hangul; English pages contain none outside lang="ko" elements."""
    seen: dict[str, Any] = visit_.page.evaluate(_VISIBLE_TEXT_JS, lang == "en")
    assert seen["lang"] == lang, f"<html lang> is {seen['lang']!r}, expected {lang!r}"
    if lang == "ko":
        assert HANGUL.search(seen["text"]), "a Korean page shows no Korean text"
        return
    leftovers = {
        m.group(0)
        for m in re.finditer(r"\S*[\uac00-\ud7a3]+\S*", seen["title"] + "\n" + seen["text"])
    }
    assert not leftovers, f"Korean text on an English page (wrap data in lang=ko): {leftovers}"


def assert_fits_width(visit_: PageVisit, viewport: Viewport) -> None:
    """No horizontal scrolling: the document is no wider than the screen."""
    box: dict[str, Any] = visit_.page.evaluate(_OVERFLOW_JS, viewport.width)
    assert box["scrollWidth"] <= viewport.width + 1, (
        f"{visit_.page.url} is {box['scrollWidth']}px wide at a {viewport.width}px screen; "
        f"elements past the edge: {box['wide']}"
    )


def check_page(
    open_context: Callable[[Viewport], BrowserContext],
    url: str,
    lang: str,
    viewport: Viewport,
    screenshot: Path,
) -> None:
    """Open one page and run every check on it."""
    visit_ = visit(open_context(viewport), with_lang(url, lang))
    visit_.page.screenshot(path=str(screenshot), full_page=True)
    assert visit_.status == 200, f"{visit_.page.url} answered {visit_.status}"
    visit_.assert_no_console_errors()
    assert_language(visit_, lang)
    if viewport.is_mobile:
        assert_fits_width(visit_, viewport)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: v.name)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", STATIC_PAGES)
def test_page_renders(
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    path: str,
    lang: str,
    viewport: Viewport,
) -> None:
    screenshot = screenshot_dir / slug(path, lang, viewport)
    check_page(open_context, live_server + path, lang, viewport, screenshot)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: v.name)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", EXPLORER_PAGES)
def test_explorer_page_with_data_renders(
    explorer_world: ExplorerWorld,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    page: str,
    lang: str,
    viewport: Viewport,
) -> None:
    path = EXPLORER_PAGES[page](explorer_world)
    screenshot = screenshot_dir / slug(f"explorer-{page}", lang, viewport)
    check_page(open_context, explorer_world.url + path, lang, viewport, screenshot)


@pytest.mark.parametrize("lang", LANGS)
def test_sign_up_on_a_phone_then_see_the_account(
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    lang: str,
) -> None:
    """The whole form flow in a real browser: CSRF token, session cookie, redirect."""
    signup = visit(open_context(PHONE), with_lang(live_server + "/signup", lang))
    page = signup.page
    page.fill("input[name=username]", f"phone_user_{lang}")
    page.fill("input[name=password]", "correct horse battery")
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/account", page.url
    assert f"phone_user_{lang}" in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / slug("account", lang, PHONE)), full_page=True)
    signup.assert_no_console_errors()
    assert_fits_width(signup, PHONE)


def test_sign_up_with_a_short_password_stays_on_the_form(
    live_server: str, open_context: Callable[[Viewport], BrowserContext]
) -> None:
    signup = visit(open_context(PHONE), live_server + "/signup")
    page = signup.page
    page.fill("input[name=username]", "short_pw_user")
    page.fill("input[name=password]", "short")
    page.click("form.stack button[type=submit]")
    # the browser's own validation (minlength=8) keeps the form from being sent
    assert urlsplit(page.url).path == "/signup"
    assert page.evaluate("() => document.querySelector('input[name=password]').validity.tooShort")
    signup.assert_no_console_errors()


def test_navigation_keeps_the_chosen_language(
    live_server: str, open_context: Callable[[Viewport], BrowserContext]
) -> None:
    """An English reader stays in English across the menu (cookie); the switch keeps the query."""
    visit_ = visit(open_context(PHONE), live_server + "/?lang=en")
    page = visit_.page
    with page.expect_navigation():
        page.click("nav.nav >> text=Explorer")
    assert urlsplit(page.url).path == "/explorer"
    assert page.evaluate("() => document.documentElement.lang") == "en"
    page.goto(live_server + "/explorer/search?q=nothing-here&lang=en")
    with page.expect_navigation():
        page.click(".langs a[lang=ko]")
    assert "q=nothing-here" in page.url and "lang=ko" in page.url
    assert page.evaluate("() => document.documentElement.lang") == "ko"


@pytest.mark.parametrize("path", ["/docs"])
def test_api_docs_render_offline(
    live_server: str,
    open_context: Callable[[Viewport], BrowserContext],
    screenshot_dir: Path,
    path: str,
) -> None:
    """Swagger UI and ReDoc load from packaged assets: no CDN, no console errors."""
    visit_ = visit(open_context(PHONE), live_server + path)
    assert visit_.status == 200
    rendered = ".swagger-ui .opblock" if path == "/docs" else "[role=menuitem], .menu-content"
    # the UI fetches and renders the (large) spec after the load event: give a busy machine time
    try:
        visit_.page.wait_for_selector(rendered, timeout=60_000)
    except PlaywrightTimeout:
        pytest.fail(f"{path} rendered no API operations within 60 s")
    visit_.page.screenshot(path=str(screenshot_dir / slug(path, "en", PHONE)), full_page=True)
    visit_.assert_no_console_errors()
    spec = visit_.page.evaluate("() => fetch('/openapi.json').then((r) => r.text())")
    assert "/api/health" in json.loads(spec)["paths"]


def test_console_errors_are_caught(
    live_server: str, open_context: Callable[[Viewport], BrowserContext]
) -> None:
    """The checks can fail: a page with a script error and a wide element is reported."""
    visit_ = visit(open_context(PHONE), live_server + "/")
    visit_.page.evaluate(
        """() => {
          const s = document.createElement('script');
          s.textContent = 'undefinedFunction()';
          document.body.appendChild(s);
          const wide = document.createElement('div');
          wide.style.width = '2000px';
          wide.textContent = '넓은 상자';
          document.body.appendChild(wide);
        }"""
    )
    with pytest.raises(AssertionError, match="undefinedFunction"):
        visit_.assert_no_console_errors()
    with pytest.raises(AssertionError, match="px wide at a 390px screen"):
        assert_fits_width(visit_, PHONE)
    with pytest.raises(AssertionError, match="Korean text on an English page"):
        visit_.page.evaluate("() => { document.documentElement.lang = 'en'; }")
        assert_language(visit_, "en")


def test_missing_page_is_a_404(
    live_server: str, open_context: Callable[[Viewport], BrowserContext]
) -> None:
    visit_ = visit(open_context(PHONE), live_server + "/no-such-page")
    assert visit_.status == 404
