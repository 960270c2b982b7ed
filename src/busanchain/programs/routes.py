"""HTTP routes of the programs feature (API under /api/programs, pages under /programs)."""

from __future__ import annotations

from fastapi import FastAPI

from busanchain.platform.context import PlatformContext


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add this feature's routes to the app."""
