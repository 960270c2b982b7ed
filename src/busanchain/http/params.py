"""Path parameter types shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# A row id of a table with a 32-bit INTEGER key: anything larger is a 422 before the database
# sees it (PostgreSQL would refuse it with "integer out of range", a 500).
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
