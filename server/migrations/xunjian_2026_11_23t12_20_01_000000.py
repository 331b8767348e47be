"""Indexes of the work-order lifecycle (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T12:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Work-order events by order; deferred orders for escalation"

STATEMENTS = (
    # An order's timeline.
    'CREATE INDEX IF NOT EXISTS work_order_event_order ON work_order_event ("work_order", "id")',
    # The escalation sweep reads only deferred orders.
    'CREATE INDEX IF NOT EXISTS work_order_deferred ON work_order ("deferred_at") '
    "WHERE \"status\" = 'deferred'",
    # A department's queue.
    'CREATE INDEX IF NOT EXISTS work_order_department_status ON work_order ("department", "status")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
