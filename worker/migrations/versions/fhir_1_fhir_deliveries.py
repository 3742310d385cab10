"""FHIR deliveries: one row per report's Bundle, its own state beside the MLLP result's

Revision ID: fhir_1
Revises: 0001
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "fhir_1"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "fhir_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=600), nullable=False),
        sa.Column("accession", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_deliveries")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_fhir_deliveries_dedupe_key")),
    )
    with op.batch_alter_table("fhir_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_deliveries_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fhir_deliveries_updated_at"), ["updated_at"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("fhir_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_deliveries_updated_at"))
        batch_op.drop_index(batch_op.f("ix_fhir_deliveries_state"))
    op.drop_table("fhir_deliveries")
