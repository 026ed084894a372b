"""charger scenarios

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:43:01.284665

"""
import sqlalchemy as sa
from alembic import op

import patrolmap.geotypes

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('charger_scenarios',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('walk_m', sa.Float(), nullable=False),
    sa.Column('sites', sa.JSON(), nullable=False),
    sa.Column('excluded', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_charger_scenarios_campus_id_campuses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charger_scenarios'))
    )
    with op.batch_alter_table('charger_scenarios', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charger_scenarios_campus_id'), ['campus_id'], unique=False)


def downgrade():
    with op.batch_alter_table('charger_scenarios', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charger_scenarios_campus_id'))

    op.drop_table('charger_scenarios')
