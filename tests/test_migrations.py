"""One Alembic history: up, down to base, up again, and no drift from the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.db import make_engine
from app.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from app.models import Base


def test_upgrade_downgrade_upgrade_without_drift(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision(db_url)
        downgrade(db_url, "base")
        assert current_revision(engine) is None
        upgrade(db_url)
        assert current_revision(engine) == head_revision(db_url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        command.check(alembic_config(db_url))  # raises if autogenerate would emit anything
    finally:
        engine.dispose()
