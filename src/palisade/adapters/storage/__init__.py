"""Relational storage (SQLAlchemy 2; SQLite embedded, PostgreSQL in production)."""
