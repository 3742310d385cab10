"""accounts, web secrets, login failures, audit, report details and reviews

Revision ID: accounts_1
Revises: followups_1
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounts_1"
down_revision: str | Sequence[str] | None = "followups_1"  # main's head at the rebase
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "web_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_web_secrets")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_key"), "login_failures", ["key"])
    op.create_index(op.f("ix_login_failures_at"), "login_failures", ["at"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_index(op.f("ix_audit_events_user"), "audit_events", ["user"])
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"])
    op.create_table(
        "report_details",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=600), nullable=False),
        sa.Column("report_key", sa.String(length=420), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_name", sa.String(length=200), nullable=True),
        sa.Column("patient_id", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=4), nullable=True),
        sa.Column("exam_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_status", sa.String(length=4), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_details")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_report_details_dedupe_key")),
    )
    op.create_index(op.f("ix_report_details_report_key"), "report_details", ["report_key"])
    op.create_index(op.f("ix_report_details_patient_id"), "report_details", ["patient_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotation_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("bme", sa.String(length=20), nullable=True),
        sa.Column("sites", sa.JSON(), nullable=True),
        sa.Column("etiology", sa.JSON(), nullable=True),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["annotation_id"],
            ["annotations.id"],
            name=op.f("fk_reviews_annotation_id_annotations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_annotation_id"), "reviews", ["annotation_id"])
    op.create_index(op.f("ix_reviews_at"), "reviews", ["at"])


def downgrade() -> None:
    """Downgrade schema."""
    for table in (
        "reviews",
        "report_details",
        "audit_events",
        "login_failures",
        "web_secrets",
        "users",
    ):
        op.drop_table(table)
