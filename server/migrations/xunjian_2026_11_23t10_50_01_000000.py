"""Keys and indexes of the work-order tables (a separate step: Piccolo runs raw SQL before it
creates a migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T10:50:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "One open work order per checkpoint item; lookup indexes"

# The open-order key: one open order per checkpoint item raised from checks, so two patrols
# failing the same item at once cannot raise two orders (both engines support partial indexes).
STATEMENTS = (
    'CREATE UNIQUE INDEX IF NOT EXISTS work_order_open_item ON work_order ("checkpoint", "item_code") '
    "WHERE \"source\" = 'inspection' AND \"status\" <> 'closed'",
    'CREATE INDEX IF NOT EXISTS work_order_site_status ON work_order ("site", "status")',
    'CREATE INDEX IF NOT EXISTS work_order_report_order ON work_order_report ("work_order")',
    'CREATE INDEX IF NOT EXISTS inspection_received_at ON inspection ("received_at")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
