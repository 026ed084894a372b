"""saved patrol routes, checkpoint tags, check-ins and tracks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:05:17.466034

"""
import sqlalchemy as sa
from alembic import op

import patrolmap.geotypes
from patrolmap.database import append_only_ddl, append_only_drop_ddl

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('checkpoint_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('retired_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_checkpoint_tags_campus_id_campuses')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'],
                            name=op.f('fk_checkpoint_tags_checkpoint_id_checkpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoint_tags')),
    sa.UniqueConstraint('token', name=op.f('uq_checkpoint_tags_token'))
    )
    with op.batch_alter_table('checkpoint_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkpoint_tags_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkpoint_tags_checkpoint_id'), ['checkpoint_id'], unique=False)

    op.create_table('patrol_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('start_lon', sa.Float(), nullable=False),
    sa.Column('start_lat', sa.Float(), nullable=False),
    sa.Column('start_checkpoint_id', sa.Integer(), nullable=True),
    sa.Column('checkpoint_ids', sa.JSON(), nullable=False),
    sa.Column('teams', sa.SmallInteger(), nullable=False),
    sa.Column('max_minutes', sa.Float(), nullable=True),
    sa.Column('speed_m_per_min', sa.Float(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('geom', patrolmap.geotypes.Geometry('GEOMETRY'), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=False),
    sa.Column('shift_start', sa.String(length=5), nullable=True),
    sa.Column('shift_end', sa.String(length=5), nullable=True),
    sa.Column('shift_days', sa.JSON(), nullable=False),
    sa.Column('visits_per_shift', sa.SmallInteger(), nullable=False),
    sa.Column('checkin_radius_m', sa.Float(), nullable=False),
    sa.Column('late_after_min', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('deleted_at', patrolmap.geotypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_patrol_routes_campus_id_campuses')),
    sa.ForeignKeyConstraint(['start_checkpoint_id'], ['checkpoints.id'],
                            name=op.f('fk_patrol_routes_start_checkpoint_id_checkpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_routes'))
    )
    with op.batch_alter_table('patrol_routes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_routes_campus_id'), ['campus_id'], unique=False)

    op.create_table('patrol_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('team', sa.SmallInteger(), nullable=False),
    sa.Column('shift_date', sa.Date(), nullable=False),
    sa.Column('visit', sa.SmallInteger(), nullable=False),
    sa.Column('at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('officer', sa.String(length=200), nullable=False),
    sa.Column('created_at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_patrol_checkins_campus_id_campuses')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'],
                            name=op.f('fk_patrol_checkins_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'], name=op.f('fk_patrol_checkins_route_id_patrol_routes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_checkins'))
    )
    with op.batch_alter_table('patrol_checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_checkins_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index('ix_patrol_checkins_route_shift', ['route_id', 'shift_date'], unique=False)

    op.create_table('patrol_track_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campus_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('shift_date', sa.Date(), nullable=False),
    sa.Column('officer', sa.String(length=200), nullable=False),
    sa.Column('at', patrolmap.geotypes.UTCDateTime(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name=op.f('fk_patrol_track_points_campus_id_campuses')),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'],
                            name=op.f('fk_patrol_track_points_route_id_patrol_routes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_track_points'))
    )
    with op.batch_alter_table('patrol_track_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_track_points_campus_id'), ['campus_id'], unique=False)
        batch_op.create_index('ix_patrol_track_points_route_shift', ['route_id', 'shift_date', 'at'], unique=False)


    # Check-ins are the record of patrols done: the database refuses to change or delete them.
    for statement in append_only_ddl('patrol_checkins', op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    for statement in append_only_drop_ddl('patrol_checkins', op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table('patrol_track_points', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_track_points_route_shift')
        batch_op.drop_index(batch_op.f('ix_patrol_track_points_campus_id'))

    op.drop_table('patrol_track_points')
    with op.batch_alter_table('patrol_checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_checkins_route_shift')
        batch_op.drop_index(batch_op.f('ix_patrol_checkins_campus_id'))

    op.drop_table('patrol_checkins')
    with op.batch_alter_table('patrol_routes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_routes_campus_id'))

    op.drop_table('patrol_routes')
    with op.batch_alter_table('checkpoint_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkpoint_tags_checkpoint_id'))
        batch_op.drop_index(batch_op.f('ix_checkpoint_tags_campus_id'))

    op.drop_table('checkpoint_tags')
