"""evidence photos' bytes in the database, when PATROLMAP_EVIDENCE_STORE=database

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 09:10:00

"""
import sqlalchemy as sa
from alembic import op

import patrolmap.geotypes

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('evidence_files',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('original', sa.LargeBinary(), nullable=False),
    sa.Column('display', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_evidence_files'))
    )
    if op.get_bind().dialect.name == "postgresql":
        # JPEG and PNG are compressed already: TOAST's attempt to compress them again only costs
        # time (a 2 MB photo's insert took twice as long).
        op.execute("ALTER TABLE evidence_files ALTER COLUMN original SET STORAGE EXTERNAL, "
                   "ALTER COLUMN display SET STORAGE EXTERNAL")


def downgrade():
    op.drop_table('evidence_files')
