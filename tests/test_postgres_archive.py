"""The PostgreSQL archive's own bookkeeping: `check` sees a search index out of step."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsmirror.models import Entry, FeedState
from newsmirror.store import Archive
from pgharness import Schemas, pg_schemas  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres]


def test_check_reports_a_search_index_out_of_step(
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    with Archive.open(pg_schemas.new()) as archive:
        archive.ensure_source("源")
        entries = [
            Entry(f"https://e.example/{i}", "", f"标题{i}", "", f"<p>正文{i}</p>", now, "")
            for i in range(3)
        ]
        archive.store_entries("源", "f", entries, state=FeedState(), started=now, now=now)
        archive.update_index()
        assert archive.check() == []
        archive.conn.execute(
            "DELETE FROM search_text WHERE article_id = (SELECT min(id) FROM articles)"
        )
        assert archive.check() == ["search index differs from its bookkeeping by 1 rows"]
