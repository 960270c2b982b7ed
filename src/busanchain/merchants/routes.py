"""HTTP routes of the merchants feature (API under /api/merchants, pages under /merchants)."""

from __future__ import annotations

from fastapi import FastAPI

from busanchain.platform.context import PlatformContext


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add this feature's routes to the app."""
