"""The gallery's browse and search query: it must walk an index in token order, not sort.

Every browse and search page asks for 24 published photos in token order. Without the
`ix_studio_photos_gallery` index SQLite sorted every published photo for each page (3 ms per
query at 10,000 photos, 0.4 ms with it). SQLite's planner is checked here: it is the
platform's default database, and its plan does not depend on table statistics.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from busanchain.gallery.repository import published_card_rows_query, published_photos_query
from busanchain.platform.context import PlatformContext

FILTERS = [
    {},
    {"studio": 3},
    {"photographer": 7},
    {"from": date(2026, 11, 10), "to": date(2026, 11, 11)},
    {"q": "광안리"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "browse")
@pytest.mark.parametrize("after", [None, 5000])
@pytest.mark.parametrize("rows", [False, True], ids=["records", "card_rows"])
def test_browse_and_search_walk_the_gallery_index(
    context: PlatformContext, filters: dict[str, object], after: int | None, rows: bool
) -> None:
    if context.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by table statistics; the index exists there too")
    make = published_card_rows_query if rows else published_photos_query
    query = make(filters, after, 24)
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with context.engine.connect() as connection:
        plan = [row[3] for row in connection.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert any("ix_studio_photos_gallery" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
