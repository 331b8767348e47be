"""Patrol plans (巡检计划) and their compliance results, stored for fast month reports.

A plan's checkpoint selection is kept as written (JSON) and resolved into ``PlanCheckpoint`` rows
whenever the plan is saved; its named people into ``PlanAssignee``. The rules live in
``server/compliance.py``; ``server/compliance_store.py`` writes one ``PlanOccurrence`` row per
plan × checkpoint × expected round with its status, so reports are a GROUP BY over one table.
Indexes: migration 2026-11-23T14:20:01.
"""

from piccolo.columns import (
    JSON,
    UUID,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.readable import Readable
from piccolo.table import Table

PLAN_PERIODS = ("day", "week", "month")
OCCURRENCE_STATUSES = ("done", "late", "unverified", "missed", "pending")


class PatrolPlan(Table):
    """巡检计划: N rounds a day, week or month over a set of checkpoints, by whom, from when."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    name = Varchar(length=100)
    selection = JSON(
        default="{}",
        help_text='{"buildings": [ids], "floors": [ids], "kinds": [..], "types": [..], '
        '"checkpoints": [ids]} — resolved into plan_checkpoint when saved.',
    )
    per = Varchar(length=8, help_text=" | ".join(PLAN_PERIODS))
    times = Integer(default=1, help_text="Rounds per period.")
    windows = JSON(
        default="[]", help_text='[["08:00", "12:00"], ["22:00", "06:00"]] local wall-clock times.'
    )
    grace_minutes = Integer(default=30)
    role = Varchar(
        length=16, null=True, default=None, help_text="Members of the site with this role."
    )
    department = ForeignKey(
        "server.tables.accounts.Department",
        on_delete=OnDelete.set_null,
        null=True,
        help_text="Members of the site in this department (with the role, when both are set).",
    )
    starts_on = Date()
    ends_on = Date(null=True, default=None)
    timezone = Varchar(length=64, default="Asia/Shanghai", help_text="The site's, when saved.")
    materialised_through = Date(
        null=True, default=None, help_text="Occurrences are stored up to this local day."
    )
    created_by = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()

    @classmethod
    def get_readable(cls):
        return Readable(template="%s", columns=[cls.name])


class PlanCheckpoint(Table):
    """A checkpoint of a plan (the selection, resolved), with the days it joined and left the
    plan (a renovation unit from its permit's issue to its close; None: the plan's own days)."""

    plan = ForeignKey("server.tables.plans.PatrolPlan", on_delete=OnDelete.cascade, null=False)
    checkpoint = ForeignKey(
        "server.tables.checkpoints.Checkpoint", on_delete=OnDelete.cascade, null=False
    )
    since = Date(null=True, default=None, help_text="First local day a round is expected.")
    until = Date(null=True, default=None, help_text="Last local day a round is expected.")


class PlanAssignee(Table):
    """A person named on a plan (besides its role / department)."""

    plan = ForeignKey("server.tables.plans.PatrolPlan", on_delete=OnDelete.cascade, null=False)
    user = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.cascade, null=False)


class PlanOccurrence(Table):
    """One expected round of one checkpoint and its outcome. ``site``, ``building`` and ``floor``
    are copied from the checkpoint so a month report is one scan of an index."""

    plan = ForeignKey("server.tables.plans.PatrolPlan", on_delete=OnDelete.cascade, null=False)
    checkpoint = ForeignKey(
        "server.tables.checkpoints.Checkpoint", on_delete=OnDelete.cascade, null=False
    )
    site = Integer()
    building = Integer(null=True, default=None)
    floor = Integer(null=True, default=None)
    period = Date(help_text="First day of the period: the day, the ISO Monday or the 1st.")
    slot = Integer(help_text="Window or slot number within the period, from 0.")
    day = Date(help_text="The local day the round starts on; reports group by it.")
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    closes_at = Timestamptz(help_text="ends_at + grace: missed from then on.")
    status = Varchar(length=10, help_text=" | ".join(OCCURRENCE_STATUSES))
    inspection = ForeignKey(
        "server.tables.inspections.Inspection", on_delete=OnDelete.set_null, null=True
    )
    person = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    checked_at = Timestamptz(null=True, default=None)


class MissedAcknowledgement(Table):
    """A manager's acknowledgement of a missed round, with a comment (one per occurrence)."""

    occurrence = ForeignKey(
        "server.tables.plans.PlanOccurrence", on_delete=OnDelete.cascade, null=False
    )
    by = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    at = Timestamptz()
    comment = Text(default="")


class ComplianceBacklog(Table):
    """Stored checks whose compliance periods still need a recompute (the recompute after a
    sync failed); drained by the periodic task and before every report."""

    inspection = UUID(help_text="inspection.id (no foreign key: a backlog row is only a hint).")
    created_at = Timestamptz()
