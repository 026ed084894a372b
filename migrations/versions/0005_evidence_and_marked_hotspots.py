"""evidence photos of violations; marked hotspots (a layer with its spatial index)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:00:00

"""
import sqlalchemy as sa
from alembic import op

import patrolmap.geotypes
from patrolmap.database import postgis_index_ddl, sqlite_rtree_ddl, sqlite_rtree_drop_ddl

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('marked_hotspots',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('hours', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('deleted_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=True),
    sa.Column('geom', patrolmap.geotypes.Geometry('GEOMETRY'), nullable=False),
    sa.Column('minx', sa.Float(), nullable=False),
    sa.Column('miny', sa.Float(), nullable=False),
    sa.Column('maxx', sa.Float(), nullable=False),
    sa.Column('maxy', sa.Float(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_marked_hotspots_campus_id_campuses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marked_hotspots')),
    sa.UniqueConstraint('campus_id', 'source_id', name=op.f('uq_marked_hotspots_campus_id'))
    )
    with op.batch_alter_table('marked_hotspots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marked_hotspots_campus_id'), ['campus_id'], unique=False)

    op.create_table('violation_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('violation_id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('display_sha256', sa.String(length=64), nullable=False),
    sa.Column('display_size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('purged_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_violation_photos_campus_id_campuses')),
    sa.ForeignKeyConstraint(['violation_id'], ['violations.id'],
                            name=op.f('fk_violation_photos_violation_id_violations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violation_photos')),
    sa.UniqueConstraint('violation_id', 'sha256', name=op.f('uq_violation_photos_violation_id'))
    )
    with op.batch_alter_table('violation_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_violation_photos_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_violation_photos_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_violation_photos_violation_id'), ['violation_id'], unique=False)

    # The spatial index, as for every feature table (0001): an R*Tree kept by triggers on SQLite, GiST on PostGIS.
    dialect = op.get_bind().dialect.name
    ddl = (postgis_index_ddl('marked_hotspots') if dialect == 'postgresql'
           else sqlite_rtree_ddl('marked_hotspots', ('minx', 'maxx', 'miny', 'maxy')))
    for statement in ddl:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for statement in sqlite_rtree_drop_ddl('marked_hotspots'):
            op.execute(statement)
    with op.batch_alter_table('violation_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_violation_photos_violation_id'))
        batch_op.drop_index(batch_op.f('ix_violation_photos_sha256'))
        batch_op.drop_index(batch_op.f('ix_violation_photos_campus_id'))
    op.drop_table('violation_photos')
    with op.batch_alter_table('marked_hotspots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marked_hotspots_campus_id'))
    op.drop_table('marked_hotspots')
