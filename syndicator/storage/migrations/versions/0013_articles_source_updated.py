"""an index on the articles' (source, updated_at), for the poller's stamp of a source

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 23:00:00

Every changed feed trimmed against the poller's memory checks the source's stamp (row count,
latest `updated_at`; storage/articles.py) in the transaction that stores its new items. With
only the (source, guid) index, SQLite found the source's rows there and then read each row of
the table for its `updated_at`, past the articles' text: the costliest statement of the steady
state in SQLite's own CPU (70 µs a call, twice per changed feed; `bench/daemon.py --sql-stats`,
docs/benchmarks.md, issue 11). With this index the stamp is read from the index alone.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_source_updated", "articles", ["source_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_articles_source_updated", table_name="articles")
