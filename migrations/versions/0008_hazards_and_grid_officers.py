"""grid zone officers, responsible units, hazards and their loop, reminders

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 17:12:20.750221

"""
import sqlalchemy as sa
from alembic import op

import patrolmap.geotypes
from patrolmap.database import (
    append_only_ddl,
    append_only_drop_ddl,
    postgis_index_ddl,
    sqlite_rtree_ddl,
    sqlite_rtree_drop_ddl,
)

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _restore_grid_zone_index():
    """SQLite's batch mode rebuilds grid_zones, which drops its R*Tree triggers: make them again, refilled."""
    if op.get_bind().dialect.name == 'sqlite':
        for statement in [*sqlite_rtree_drop_ddl('grid_zones'),
                          *sqlite_rtree_ddl('grid_zones', ('minx', 'maxx', 'miny', 'maxy'))]:
            op.execute(statement)


def upgrade():
    op.create_table('hazards',
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('assignee_user_id', sa.Integer(), nullable=True),
    sa.Column('reported_by', sa.String(length=200), nullable=False),
    sa.Column('reported_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('notice_number', sa.String(length=64), nullable=True),
    sa.Column('responsible_unit', sa.String(length=200), nullable=True),
    sa.Column('deadline', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.Column('rectified_by', sa.String(length=200), nullable=True),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('closed_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.Column('escalated_reason', sa.Text(), nullable=True),
    sa.Column('deleted_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.Column('deleted_reason', sa.Text(), nullable=True),
    sa.Column('geom', patrolmap.geotypes.Geometry('POINT'), nullable=False),
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
    sa.ForeignKeyConstraint(['assignee_user_id'], ['users.id'], name=op.f('fk_hazards_assignee_user_id_users')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_hazards_building_id_buildings')),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_hazards_campus_id_campuses')),
    sa.ForeignKeyConstraint(['zone_id'], ['grid_zones.id'], name=op.f('fk_hazards_zone_id_grid_zones')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazards')),
    sa.UniqueConstraint('campus_id', 'source_id', name=op.f('uq_hazards_campus_id'))
    )
    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazards_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazards_responsible_unit'), ['responsible_unit'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazards_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazards_zone_id'), ['zone_id'], unique=False)

    op.create_table('hazard_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_hazard_events_campus_id_campuses')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_hazard_events_hazard_id_hazards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_events'))
    )
    with op.batch_alter_table('hazard_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazard_events_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_events_hazard_id'), ['hazard_id'], unique=False)

    op.create_table('hazard_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
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
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_hazard_photos_campus_id_campuses')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_hazard_photos_hazard_id_hazards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_photos')),
    sa.UniqueConstraint('hazard_id', 'sha256', name=op.f('uq_hazard_photos_hazard_id'))
    )
    with op.batch_alter_table('hazard_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazard_photos_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_photos_hazard_id'), ['hazard_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_photos_sha256'), ['sha256'], unique=False)

    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('sent_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('read_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_reminders_campus_id_campuses')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_reminders_hazard_id_hazards')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reminders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
    sa.UniqueConstraint('hazard_id', 'kind', 'channel', name=op.f('uq_reminders_hazard_id'))
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminders_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminders_hazard_id'), ['hazard_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminders_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('campuses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duty_user_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_campuses_duty_user_id_users'), 'users', ['duty_user_id'], ['id'])

    with op.batch_alter_table('grid_zones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('officer_user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_grid_zones_officer_user_id'), ['officer_user_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_grid_zones_officer_user_id_users'), 'users',
                                    ['officer_user_id'], ['id'])
    _restore_grid_zone_index()

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit', sa.String(length=200), nullable=True))

    # The hazards layer's spatial index, as for every feature table; the loop's record is append-only.
    dialect = op.get_bind().dialect.name
    ddl = (postgis_index_ddl('hazards') if dialect == 'postgresql'
           else sqlite_rtree_ddl('hazards', ('minx', 'maxx', 'miny', 'maxy')))
    for statement in [*ddl, *append_only_ddl('hazard_events', dialect)]:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in append_only_drop_ddl('hazard_events', dialect):
        op.execute(statement)
    if dialect == 'sqlite':
        for statement in sqlite_rtree_drop_ddl('hazards'):
            op.execute(statement)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unit')

    with op.batch_alter_table('grid_zones', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_grid_zones_officer_user_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_grid_zones_officer_user_id'))
        batch_op.drop_column('officer_user_id')
    _restore_grid_zone_index()

    with op.batch_alter_table('campuses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_campuses_duty_user_id_users'), type_='foreignkey')
        batch_op.drop_column('duty_user_id')

    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminders_user_id'))
        batch_op.drop_index(batch_op.f('ix_reminders_hazard_id'))
        batch_op.drop_index(batch_op.f('ix_reminders_campus_id'))

    op.drop_table('reminders')
    with op.batch_alter_table('hazard_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazard_photos_sha256'))
        batch_op.drop_index(batch_op.f('ix_hazard_photos_hazard_id'))
        batch_op.drop_index(batch_op.f('ix_hazard_photos_campus_id'))

    op.drop_table('hazard_photos')
    with op.batch_alter_table('hazard_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazard_events_hazard_id'))
        batch_op.drop_index(batch_op.f('ix_hazard_events_campus_id'))

    op.drop_table('hazard_events')
    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazards_zone_id'))
        batch_op.drop_index(batch_op.f('ix_hazards_status'))
        batch_op.drop_index(batch_op.f('ix_hazards_responsible_unit'))
        batch_op.drop_index(batch_op.f('ix_hazards_campus_id'))

    op.drop_table('hazards')
