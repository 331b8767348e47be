"""Violations (违章) found on inspections and their rectification notices (整改通知).

A failed item of a check on a renovation checkpoint opens a violation (one open per checkpoint and
item) with a deadline from the item's severity; it is rectified by a later check where the item
passes (``reinspection``) or by hand, or cancelled by a manager. Records are kept 1 year (general)
or 5 years (major) from the day they were found, or from the day they were closed (``keep_until``).
"""

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

USER = "server.tables.accounts.User"
INSPECTION = "server.tables.inspections.Inspection"

#: Violation states.
STATUSES = ("open", "rectified", "cancelled")
#: 一般 / 重大 (001 §3.3.7).
GRADES = ("general", "major")


class Violation(Table):
    """One violation and its rectification notice."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    checkpoint = ForeignKey(
        "server.tables.checkpoints.Checkpoint", on_delete=OnDelete.cascade, null=False
    )
    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.set_null, null=True
    )
    inspection = ForeignKey(
        INSPECTION, on_delete=OnDelete.set_null, null=True, help_text="The check that found it."
    )
    item_code = Varchar(length=48)
    title = Varchar(length=200, help_text="The item's Chinese text.")
    severity = Varchar(length=10, default="minor", help_text="The item's severity.")
    grade = Varchar(length=8, default="general", help_text="general (一般) | major (重大)")
    category = Varchar(length=16, default="renovation")
    found_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    found_department = ForeignKey(
        "server.tables.accounts.Department", on_delete=OnDelete.set_null, null=True
    )
    found_at = Timestamptz(help_text="The phone's time of the check, bounded like a work order's.")
    deadline = Timestamptz(help_text="Rectify by: found_at + 1 / 3 / 7 days by severity.")
    work_order = ForeignKey(
        "server.tables.work_orders.WorkOrder", on_delete=OnDelete.set_null, null=True
    )
    status = Varchar(length=12, default="open")
    reinspection = ForeignKey(
        INSPECTION,
        on_delete=OnDelete.set_null,
        null=True,
        help_text="The check that found it rectified (none when rectified by hand).",
    )
    rectified_at = Timestamptz(null=True, default=None)
    closed_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    note = Text(default="")
    keep_until = Date(help_text="Purged after this day unless open (1 year general, 5 major).")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ViolationEvent(Table):
    """What happened to a violation: found, seen again, re-inspected (passed or not), cancelled.
    Also the exactly-once record of the phone's ``client_id`` for the hand-made steps."""

    violation = ForeignKey(
        "server.tables.violations.Violation", on_delete=OnDelete.cascade, null=False
    )
    action = Varchar(length=16, help_text="found | reinspect | rectified | cancel")
    passed = Boolean(null=True, default=None, help_text="reinspect: the outcome.")
    inspection = ForeignKey(INSPECTION, on_delete=OnDelete.set_null, null=True)
    actor = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    at = Timestamptz()
    note = Text(default="")
    photos = JSON(default="[]", help_text="SHA-256 of photos taken at a re-inspection by hand.")
    client_id = Varchar(length=36, null=True, default=None)
    body_hash = Varchar(length=64, default="")
