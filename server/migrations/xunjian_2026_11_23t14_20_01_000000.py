"""Indexes of patrol plans and compliance results (a separate step: Piccolo runs raw SQL before
it creates a migration's tables)."""

from server.migration_indexes import index_migration

ID = "2026-11-23T14:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Plan checkpoints and assignees once each; occurrences by key, report, checkpoint"

STATEMENTS = (
    'CREATE UNIQUE INDEX IF NOT EXISTS plan_checkpoint_key ON plan_checkpoint ("plan", "checkpoint")',
    'CREATE INDEX IF NOT EXISTS plan_checkpoint_checkpoint ON plan_checkpoint ("checkpoint")',
    'CREATE UNIQUE INDEX IF NOT EXISTS plan_assignee_key ON plan_assignee ("plan", "user")',
    'CREATE INDEX IF NOT EXISTS patrol_plan_site ON patrol_plan ("site")',
    # One row per expected round: the upsert key of every recompute.
    "CREATE UNIQUE INDEX IF NOT EXISTS plan_occurrence_key "
    'ON plan_occurrence ("plan", "checkpoint", "period", "slot")',
    # The month report by building or floor reads only this index (covering).
    "CREATE INDEX IF NOT EXISTS plan_occurrence_report "
    'ON plan_occurrence ("site", "day", "building", "floor", "status")',
    # The missed list; rounds that become missed as time passes.
    'CREATE INDEX IF NOT EXISTS plan_occurrence_missed ON plan_occurrence ("site", "day") '
    "WHERE \"status\" = 'missed'",
    'CREATE INDEX IF NOT EXISTS plan_occurrence_pending ON plan_occurrence ("closes_at") '
    "WHERE \"status\" = 'pending'",
    'CREATE INDEX IF NOT EXISTS plan_occurrence_plan_day ON plan_occurrence ("plan", "day")',
    'CREATE INDEX IF NOT EXISTS plan_occurrence_person ON plan_occurrence ("person", "day")',
    "CREATE UNIQUE INDEX IF NOT EXISTS missed_acknowledgement_occurrence "
    'ON missed_acknowledgement ("occurrence")',
)


forwards = index_migration(ID, DESCRIPTION, STATEMENTS)
