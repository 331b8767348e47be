"""Keys and indexes of violations (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T17:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "One open violation per checkpoint item; violations by site, permit, status; events"

STATEMENTS = (
    # A second sighting while a violation is open never opens another, even when two phones'
    # batches race on PostgreSQL (the loser's batch is run again and finds it open).
    "CREATE UNIQUE INDEX IF NOT EXISTS violation_open_item ON violation "
    '("checkpoint", "item_code") WHERE "status" = \'open\'',
    'CREATE INDEX IF NOT EXISTS violation_site_status ON violation ("site", "status", "id")',
    'CREATE INDEX IF NOT EXISTS violation_permit ON violation ("permit", "status")',
    # The retention purge.
    'CREATE INDEX IF NOT EXISTS violation_keep_until ON violation ("keep_until")',
    'CREATE INDEX IF NOT EXISTS violation_event_violation ON violation_event ("violation", "id")',
    # Exactly once: a phone's request id is stored once (NULLs, i.e. no id, never collide).
    'CREATE UNIQUE INDEX IF NOT EXISTS violation_event_client_id ON violation_event ("client_id")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
