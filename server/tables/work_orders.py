"""Work orders (派工单): what must be fixed, by which department, and who reported it."""

from piccolo.columns import (
    ForeignKey,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

WORK_ORDER_SOURCES = ("inspection", "manual", "owner")
# A work order is open until it is closed; a failed check of the same checkpoint item attaches to
# the open order instead of raising another.
CLOSED_STATUSES = ("closed",)


class WorkOrder(Table):
    """派工单. Raised from a failed checklist item, by hand, or from an owner's report."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    checkpoint = ForeignKey(
        "server.tables.checkpoints.Checkpoint", on_delete=OnDelete.set_null, null=True
    )
    item_code = Varchar(
        length=48, default="", help_text="The failed template item; empty when raised by hand."
    )
    department = ForeignKey(
        "server.tables.accounts.Department",
        on_delete=OnDelete.restrict,
        null=True,
        help_text="Who must act (工程 / 保安 / 保洁 / 客服).",
    )
    source = Varchar(length=12, help_text=" | ".join(WORK_ORDER_SOURCES))
    status = Varchar(length=16, default="raised")
    severity = Varchar(length=10, default="minor")
    title = Varchar(length=200, help_text="Short description: the failed item's text.")
    description = Text(default="")
    raised_by = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    raised_at = Timestamptz(help_text="When the problem was found (the phone's time, bounded).")
    created_at = Timestamptz(help_text="When the server stored it.")
    updated_at = Timestamptz()


class WorkOrderReport(Table):
    """One sighting of the problem: the check (or hand report) that raised or joined the order.

    Several patrols failing the same item while the order is open each add a report, so the order
    shows every reporter and every photo.
    """

    work_order = ForeignKey(
        "server.tables.work_orders.WorkOrder", on_delete=OnDelete.cascade, null=False
    )
    inspection = ForeignKey(
        "server.tables.inspections.Inspection", on_delete=OnDelete.cascade, null=True
    )
    reporter = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    note = Text(default="")
    reported_at = Timestamptz(help_text="Device time of the check that reported it.")
    created_at = Timestamptz()


__all__ = ["CLOSED_STATUSES", "WORK_ORDER_SOURCES", "WorkOrder", "WorkOrderReport"]
