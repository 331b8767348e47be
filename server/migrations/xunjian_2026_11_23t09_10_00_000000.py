"""Composite keys Piccolo's column options cannot express, as plain SQL valid on SQLite and PostgreSQL."""

from server.migration_indexes import index_migration

ID = "2026-11-23T09:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Composite unique keys and lookup indexes"

STATEMENTS = (
    'CREATE UNIQUE INDEX IF NOT EXISTS checkpoint_site_code ON checkpoint ("site", "code")',
    'CREATE INDEX IF NOT EXISTS checkpoint_updated_at ON checkpoint ("updated_at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS building_site_code ON building ("site", "code")',
    'CREATE UNIQUE INDEX IF NOT EXISTS floor_building_level ON floor ("building", "level")',
    'CREATE UNIQUE INDEX IF NOT EXISTS unit_floor_number ON unit ("floor", "number")',
    'CREATE UNIQUE INDEX IF NOT EXISTS site_membership_user_site ON site_membership ("user", "site")',
    'CREATE UNIQUE INDEX IF NOT EXISTS template_item_template_code ON template_item ("template", "code")',
    'CREATE UNIQUE INDEX IF NOT EXISTS item_result_inspection_item ON item_result ("inspection", "item_code")',
    'CREATE INDEX IF NOT EXISTS inspection_checkpoint_time ON inspection ("checkpoint", "device_time")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
