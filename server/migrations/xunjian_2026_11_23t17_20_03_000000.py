"""Keys of renovation photos (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T17:20:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "A photo once per permit; permits by photo"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS renovation_photo_permit_photo ON renovation_photo "
    '("permit", "photo")',
    # visible_photo: which permits carry this photo.
    'CREATE INDEX IF NOT EXISTS renovation_photo_photo ON renovation_photo ("photo")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
