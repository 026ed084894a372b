"""building opening hours, files staged on /import between preview and confirm

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 19:17:47.625981

"""
import sqlalchemy as sa
from alembic import op

import patrolmap.geotypes
from patrolmap.database import sqlite_rtree_ddl, sqlite_rtree_drop_ddl

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staged_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('preview', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('committed_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_staged_imports_campus_id_campuses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staged_imports')),
    sa.UniqueConstraint('token', name=op.f('uq_staged_imports_token'))
    )
    op.create_index(op.f('ix_staged_imports_campus_id'), 'staged_imports', ['campus_id'], unique=False)
    # A plain ADD COLUMN: SQLite keeps the table (and its R*Tree triggers) as it is.
    op.add_column('buildings', sa.Column('hours', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('buildings', schema=None) as batch_op:
        batch_op.drop_column('hours')
    if op.get_bind().dialect.name == 'sqlite':
        # The batch rebuild dropped the buildings R*Tree triggers: make them again, refilled.
        for statement in [*sqlite_rtree_drop_ddl('buildings'),
                          *sqlite_rtree_ddl('buildings', ('minx', 'maxx', 'miny', 'maxy'))]:
            op.execute(statement)
    op.drop_index(op.f('ix_staged_imports_campus_id'), table_name='staged_imports')
    op.drop_table('staged_imports')
