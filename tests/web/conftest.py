"""Fixtures of the page tests; the browser fixtures themselves live in tests/web/support.py
and are registered once, in tests/conftest.py (a session fixture registered by two conftest
files would start a second Playwright in the same worker, which fails)."""

from tests.web.support import explorer_world  # noqa: F401 (fixture)
