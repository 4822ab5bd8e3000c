"""approvers: people, linked chat identities, one-time link codes, Zalo previews

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-30 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approvers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("removed_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "approver_identities",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("approver_id", BigId, nullable=False),
        sa.Column("surface", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("linked_at", When, nullable=False),
        sa.ForeignKeyConstraint(["approver_id"], ["approvers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("surface", "user_id", name="uq_identity_surface_user"),
    )
    op.create_table(
        "approver_link_codes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("approver_id", BigId, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When, nullable=True),
        sa.Column("used_by", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["approver_id"], ["approvers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_table(
        "zalo_previews",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("article_id", BigId, nullable=False),
        sa.Column("approver_id", BigId, nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("parts_sent", sa.Integer(), nullable=False),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", When, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.ForeignKeyConstraint(["approver_id"], ["approvers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "chat_id", name="uq_zalo_preview_article_chat"),
    )
    op.create_index("ix_zalo_previews_state", "zalo_previews", ["state"])


def downgrade() -> None:
    op.drop_index("ix_zalo_previews_state", table_name="zalo_previews")
    op.drop_table("zalo_previews")
    op.drop_table("approver_link_codes")
    op.drop_table("approver_identities")
    op.drop_table("approvers")
