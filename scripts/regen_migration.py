"""Regenerate the newest, not yet released migration (fixed revision id) from the models.

The schema under construction lives in ONE revision that is rewritten from the models: run
`.venv/bin/python scripts/regen_migration.py` after changing a `tables.py`. It upgrades a
scratch SQLite database to the revision before, autogenerates, and ruff-formats the result.
Released revisions are append-only: a11c0a7e0003 (allowance programs, merchants, payments)
is frozen as it landed; changes since then (shop edits, payouts, photo studio, gallery, NFT
provenance) go into a11c0a7e0004, so a database made by the earlier release upgrades.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from busanchain.db.migrate import MIGRATIONS, alembic_config

REVISION = "a11c0a7e0004"
DOWN = "a11c0a7e0003"
MESSAGE = "shop edits, payouts, photo studio and gallery"


def main() -> int:
    target = MIGRATIONS / "versions"
    for old in target.glob(f"{REVISION}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, DOWN)
            command.revision(config, message=MESSAGE, autogenerate=True, rev_id=REVISION)
    written = sorted(target.glob(f"{REVISION}_*.py"))
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ruff", "format", "--quiet", *map(str, written)], check=True
    )
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ruff", "check", "--fix", "--quiet", *map(str, written)],
        check=False,
    )
    print(*written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
