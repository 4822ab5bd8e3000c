"""articles: a partial index of the articles waiting to be planned

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:00:00

The publisher asks every `publishing.interval` (2 s) which originals still need posts
(`planned_version < version`, storage/plan_batch.py). Without an index that read walked every
article row, and those columns sit after the article's text (overflow pages): with 40,000
articles, a fifth of the daemon's steady CPU (issue 11). A partial index holds only the rows
waiting — usually none — so the idle answer is one empty index lookup, on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WAITING = "planned_version < version AND duplicate_of IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_articles_to_plan",
        "articles",
        ["id"],
        sqlite_where=sa.text(WAITING),
        postgresql_where=sa.text(WAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_articles_to_plan", table_name="articles")
