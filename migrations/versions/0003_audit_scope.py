"""audit entries know their campus; the database refuses deletes from the audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:30:00

"""
import sqlalchemy as sa
from alembic import op

from patrolmap.database import audit_guard_ddl, audit_guard_drop_ddl

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campus_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_log_campus_id'), ['campus_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_log_campus_id_campuses'), 'campuses', ['campus_id'], ['id'])
    for statement in audit_guard_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    for statement in audit_guard_drop_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_log_campus_id_campuses'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_log_campus_id'))
        batch_op.drop_column('campus_id')
