"""Index of the reports joining a check to its work orders (the daily patrol record looks up each
check's orders; without it that is a scan of every report)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Work-order reports by inspection"

STATEMENTS = (
    'CREATE INDEX IF NOT EXISTS work_order_report_inspection ON work_order_report ("inspection")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
