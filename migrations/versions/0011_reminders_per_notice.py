"""reminders once per notice: a hazard given a new notice after escalation is reminded again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 08:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice', sa.String(length=64), server_default='', nullable=False))
        batch_op.drop_constraint('uq_reminders_hazard_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_reminders_hazard_id'),
                                          ['hazard_id', 'kind', 'channel', 'notice'])
    # Reminders already sent were about the hazard's notice of the time, which is its notice now
    # (a new notice could not be reminded of before this revision).
    op.execute("UPDATE reminders SET notice = COALESCE((SELECT notice_number FROM hazards "
               "WHERE hazards.id = reminders.hazard_id), '') WHERE kind <> 'assigned'")


def downgrade():
    # Keep one row per hazard, kind and channel (the newest notice's) so the old key holds.
    op.execute("DELETE FROM reminders WHERE id NOT IN (SELECT MAX(id) FROM reminders "
               "GROUP BY hazard_id, kind, channel)")
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_constraint('uq_reminders_hazard_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_reminders_hazard_id'), ['hazard_id', 'kind', 'channel'])
        batch_op.drop_column('notice')
