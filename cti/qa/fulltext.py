"""The SQL of a full-text search of transcripts, on SQLite and on PostgreSQL.

Both search ``transcripts.search_text`` (``cti.qa.words``; migration 0019):
SQLite through its FTS5 table ``transcripts_fts``, PostgreSQL through
its stored ``search_vector`` (``to_tsvector('simple', search_text)``) and
that column's GIN index. A query's terms are
phrases, all required; their words go to the database as bound parameters
(PostgreSQL) or quoted FTS5 phrases of letters and digits only (SQLite).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, func, literal_column, select, text

from cti.db.models import Transcript
from cti.qa.words import fts5_match

_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
#: PostgreSQL only, made by the migration (not a model column: SQLite has none)
_VECTOR: ColumnElement[Any] = literal_column("transcripts.search_vector")


def matching_calls(terms: list[list[str]], dialect: str) -> Select[Any]:
    """The call ids whose transcripts hold every term."""
    if dialect == "sqlite":
        fts = (
            text("SELECT call_id FROM transcripts_fts WHERE transcripts_fts MATCH :fts_query")
            .bindparams(fts_query=fts5_match(terms))
            .columns(call_id=String)
            .subquery("fts")
        )
        return select(fts.c.call_id)
    if dialect == "postgresql":
        found: list[ColumnElement[bool]] = [
            _VECTOR.op("@@")(func.phraseto_tsquery(_SIMPLE, " ".join(term))) for term in terms
        ]
        return select(Transcript.call_id).where(and_(*found))
    raise ValueError(f"no full-text search on {dialect}: SQLite and PostgreSQL only")
