"""Keys and indexes of the site rules' change log (a separate step: Piccolo runs raw SQL before it
creates a migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T17:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Site rules changes: the phone's client id once; a site's changes newest first"

STATEMENTS = (
    # Exactly once: a phone's request id is stored once (NULLs, i.e. no id, never collide).
    "CREATE UNIQUE INDEX IF NOT EXISTS site_rules_change_client_id ON site_rules_change "
    '("client_id")',
    'CREATE INDEX IF NOT EXISTS site_rules_change_site ON site_rules_change ("site", "id")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
