"""follow-up tracking: recommendations, patient keys, audit, exams, notifications

Revision ID: followups_1
Revises: fhir_1
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "followups_1"
down_revision: str | Sequence[str] | None = "fhir_1"  # main's head when this branch was rebased
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the follow-up tables (worker/followup_models.py)."""
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=600), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("control_id", sa.String(length=200), nullable=False),
        sa.Column("accession", sa.String(length=200), nullable=False),
        sa.Column("procedure", sa.String(length=400), nullable=True),
        sa.Column("patient", sa.String(length=400), nullable=False),
        sa.Column("patient_keys", sa.JSON(), nullable=False),
        sa.Column("sending_application", sa.String(length=200), nullable=False),
        sa.Column("sending_facility", sa.String(length=200), nullable=False),
        sa.Column("order_segments", sa.JSON(), nullable=False),
        sa.Column("report_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modality", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=True),
        sa.Column("side", sa.String(length=20), nullable=True),
        sa.Column("due_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("urgency", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("recommendation", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adherence", sa.String(length=20), nullable=True),
        sa.Column("bookings", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
        sa.UniqueConstraint("dedupe_key", "position", name="uq_followups_source"),
        sa.UniqueConstraint("public_id", name=op.f("uq_followups_public_id")),
    )
    op.create_index("ix_followups_status_due", "followups", ["status", "due_to"], unique=False)
    op.create_table(
        "followup_patient_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["followup_id"], ["followups.id"], ondelete="CASCADE",
            name=op.f("fk_followup_patient_keys_followup_id_followups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_patient_keys")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_followup_patient_keys_followup_id"), "followup_patient_keys", ["followup_id"]
    )
    op.create_index(op.f("ix_followup_patient_keys_key"), "followup_patient_keys", ["key"])
    op.create_table(
        "followup_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=30), nullable=True),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=600), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["followup_id"], ["followups.id"], ondelete="CASCADE",
            name=op.f("fk_followup_audit_followup_id_followups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_audit")),
    )  # fmt: skip
    op.create_index(op.f("ix_followup_audit_followup_id"), "followup_audit", ["followup_id"])
    op.create_table(
        "followup_exams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=600), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("patient_key", sa.String(length=400), nullable=False),
        sa.Column("patient_keys", sa.JSON(), nullable=False),
        sa.Column("reference", sa.String(length=400), nullable=False),
        sa.Column("accession", sa.String(length=200), nullable=False),
        sa.Column("procedure", sa.String(length=400), nullable=True),
        sa.Column("modality", sa.String(length=20), nullable=True),
        sa.Column("region", sa.String(length=40), nullable=True),
        sa.Column("side", sa.String(length=20), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=True),
        sa.Column("course", sa.String(length=20), nullable=True),
        sa.Column("course_basis", sa.String(length=20), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("course_reason", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_exams")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_followup_exams_dedupe_key")),
    )
    op.create_index(op.f("ix_followup_exams_at"), "followup_exams", ["at"])
    op.create_index(op.f("ix_followup_exams_patient_key"), "followup_exams", ["patient_key"])
    op.create_table(
        "followup_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("control_id", sa.String(length=40), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["followup_id"], ["followups.id"], ondelete="CASCADE",
            name=op.f("fk_followup_notifications_followup_id_followups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_notifications")),
        sa.UniqueConstraint("control_id", name=op.f("uq_followup_notifications_control_id")),
        sa.UniqueConstraint("followup_id", "version", name="uq_followup_notifications_change"),
    )  # fmt: skip
    op.create_index(
        op.f("ix_followup_notifications_followup_id"), "followup_notifications", ["followup_id"]
    )


def downgrade() -> None:
    """Drop the follow-up tables."""
    for table in (
        "followup_notifications", "followup_exams", "followup_audit",
        "followup_patient_keys", "followups",
    ):  # fmt: skip
        op.drop_table(table)
