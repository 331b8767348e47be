"""One calendar entry per site and day (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T14:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "One calendar entry per site and day"

STATEMENTS = (
    'CREATE UNIQUE INDEX IF NOT EXISTS site_calendar_day_site_day ON site_calendar_day ("site", "day")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
