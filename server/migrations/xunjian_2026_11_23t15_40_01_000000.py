"""Keys and indexes of renovations (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T15:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "Renovation client ids; permits by site and status; one open permit per unit; children"
)

STATEMENTS = (
    # Exactly once: a phone's request id is stored once (NULLs, i.e. no id, never collide).
    'CREATE UNIQUE INDEX IF NOT EXISTS renovation_permit_client_id ON renovation_permit ("client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS renovation_event_client_id ON renovation_event ("client_id")',
    # The list: a site's permits by status, newest first.
    "CREATE INDEX IF NOT EXISTS renovation_permit_site_status ON renovation_permit "
    '("site", "status", "id")',
    # One open permit per unit, held by the database: two desks registering the same unit at the
    # same moment on PostgreSQL both pass the check before either commits.
    "CREATE UNIQUE INDEX IF NOT EXISTS renovation_permit_open_unit ON renovation_permit "
    '("unit") WHERE "status" <> \'closed\'',
    'CREATE INDEX IF NOT EXISTS renovation_worker_permit ON renovation_worker ("permit")',
    'CREATE INDEX IF NOT EXISTS hot_work_permit_permit ON hot_work_permit ("permit")',
    'CREATE INDEX IF NOT EXISTS renovation_extension_permit ON renovation_extension ("permit")',
    'CREATE INDEX IF NOT EXISTS renovation_event_permit ON renovation_event ("permit", "id")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
