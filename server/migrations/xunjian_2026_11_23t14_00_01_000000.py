"""Keys and indexes of work orders, round two (a separate step: Piccolo runs raw SQL before it
creates a migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T14:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique client ids of raises and steps; the board's deadline order; order photos"

STATEMENTS = (
    # Exactly once: a phone's request id is stored once (NULLs, i.e. no id, never collide).
    'CREATE UNIQUE INDEX IF NOT EXISTS work_order_client_id ON work_order ("client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS work_order_event_client_id ON work_order_event ("client_id")',
    # The board and the department queue: a site's orders by their soonest deadline, nothing due
    # last, newest first among equals: exactly the ORDER BY of server/work_orders.py, so a page
    # is read in index order and the scan stops at the page's end (both engines).
    "CREATE INDEX IF NOT EXISTS work_order_site_deadline ON work_order "
    '("site", ("due_at" IS NULL), "due_at", "id" DESC)',
    # ... and a department's open orders by deadline (the phone's queue).
    'CREATE INDEX IF NOT EXISTS work_order_department_due ON work_order ("department", "due_at")',
    # The board's default order (newest first) within a site.
    'CREATE INDEX IF NOT EXISTS work_order_site_raised ON work_order ("site", "raised_at", "id")',
    # Who may see a photo: the orders that carry it.
    'CREATE UNIQUE INDEX IF NOT EXISTS work_order_photo_key ON work_order_photo ("photo", "work_order")',
    # ... and the checks that carry it (visible_photo looks photos up by their hash).
    'CREATE INDEX IF NOT EXISTS inspection_photo_photo ON inspection_photo ("photo", "inspection")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
