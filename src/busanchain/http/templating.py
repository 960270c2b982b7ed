"""Jinja2 templates: one shared layout plus a templates folder per feature."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request

from busanchain.domain.roles import ROLE_LABELS, Role
from busanchain.http.i18n import pick, request_lang

SHARED_TEMPLATES = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def _role_label(lang: str, role: str) -> str:
    try:
        ko, en = ROLE_LABELS[Role(role)]
    except ValueError:
        return role
    return pick(lang, ko, en)


def _context(request: Request) -> dict[str, Any]:
    lang = request_lang(request)
    return {
        "lang": lang,
        "t": lambda ko, en: pick(lang, ko, en),
        "role_label": lambda role: _role_label(lang, str(role)),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "current_user": getattr(request.state, "user", None),
    }


def make_templates(feature_dirs: Iterable[Path]) -> Jinja2Templates:
    """Templates that look in each feature's folder first, then the shared folder."""
    loaders = [FileSystemLoader(str(d)) for d in feature_dirs]
    loaders.append(FileSystemLoader(str(SHARED_TEMPLATES)))
    env = Environment(
        loader=ChoiceLoader(loaders), autoescape=select_autoescape(["html"]), auto_reload=False
    )
    env.filters["tojson_attr"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.filters["short"] = lambda value, n=10: (
        value if not value or len(str(value)) <= n + 4 else f"{str(value)[:n]}…{str(value)[-4:]}"
    )
    env.filters["won"] = lambda value: f"{int(value):,}"
    return Jinja2Templates(env=env, context_processors=[_context])
