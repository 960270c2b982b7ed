"""Routes (being built)."""

from fastapi import FastAPI

from busanchain.platform.context import PlatformContext


def register(app: FastAPI, context: PlatformContext) -> None:
    """Add this feature's routes to the application."""
