"""Run the Alembic migrations programmatically (no ini file, works from an installed wheel)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from wallet.adapters.sql.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _run(url: str | sa.URL, action: str, revision: str) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:  # one transaction: all of it or none
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, revision)
    finally:
        engine.dispose()


def upgrade(url: str | sa.URL, revision: str = "head") -> None:
    """Create or update the schema of the database at ``url``."""
    _run(url, "upgrade", revision)


def downgrade(url: str | sa.URL, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``base`` drops everything)."""
    _run(url, "downgrade", revision)
