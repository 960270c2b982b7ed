"""HTTP routes of the payments feature (API under /api/payments, pages under /payments)."""

from __future__ import annotations

from fastapi import FastAPI

from busanchain.platform.context import PlatformContext


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add this feature's routes to the app."""
