"""Storage: SQLAlchemy 2 async models and repositories (SQLite or PostgreSQL)."""
