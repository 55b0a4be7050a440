"""Alembic migrations of the hotline database (see ``cti.db.migrate``)."""
