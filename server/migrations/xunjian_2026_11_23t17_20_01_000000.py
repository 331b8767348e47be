"""Keys and indexes of renovation acceptance, deductions and settlements (a separate step: Piccolo
runs raw SQL before it creates a migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T17:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "One open round per permit and kind; one sign-off per party; one settlement"

STATEMENTS = (
    # A round number is used once per permit and kind; one round open at a time.
    "CREATE UNIQUE INDEX IF NOT EXISTS renovation_acceptance_round ON renovation_acceptance "
    '("permit", "kind", "round")',
    "CREATE UNIQUE INDEX IF NOT EXISTS renovation_acceptance_open ON renovation_acceptance "
    '("permit", "kind") WHERE "status" = \'open\'',
    # Each party signs a round once; a phone's request id is stored once.
    "CREATE UNIQUE INDEX IF NOT EXISTS acceptance_signoff_party ON acceptance_signoff "
    '("acceptance", "party")',
    'CREATE UNIQUE INDEX IF NOT EXISTS acceptance_signoff_client_id ON acceptance_signoff ("client_id")',
    'CREATE INDEX IF NOT EXISTS renovation_deduction_permit ON renovation_deduction ("permit")',
    "CREATE UNIQUE INDEX IF NOT EXISTS renovation_settlement_permit ON renovation_settlement "
    '("permit")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
