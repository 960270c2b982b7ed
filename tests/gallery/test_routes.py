"""The public read routes write their answers with `json` directly, byte for byte what
FastAPI's own encoding would give, and still answer types `json` cannot write."""

from __future__ import annotations

import json
from datetime import date

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from busanchain.gallery.routes import _public


def test_plain_answers_are_written_as_fastapi_would() -> None:
    answer = {"items": [{"token_id": 7, "studio": {"name_ko": "광안리 사진관"}, "listing": None}]}
    assert _public(answer).body == JSONResponse(jsonable_encoder(answer)).body


def test_other_types_still_go_through_fastapis_encoder() -> None:
    answer = {"day": date(2026, 11, 28), "ids": {3}}
    assert json.loads(_public(answer).body) == {"day": "2026-11-28", "ids": [3]}
