"""Work orders (派工单): what must be fixed, by which department, and who reported it."""

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
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
#: The owner's answer on the follow-up call: 满意 / 基本满意 / 不满意.
SATISFACTION = ("satisfied", "acceptable", "dissatisfied")


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
    # When each step was done (the step's effective time: device time, bounded); None = not yet.
    dispatched_at = Timestamptz(null=True, default=None)
    arranged_at = Timestamptz(null=True, default=None)
    reported_at = Timestamptz(null=True, default=None)
    deferred_at = Timestamptz(null=True, default=None, help_text="The latest deferral.")
    verified_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    assignee = ForeignKey(
        "server.tables.accounts.User",
        on_delete=OnDelete.set_null,
        null=True,
        help_text="The named worker who accepted it.",
    )
    escalation_level = Integer(
        default=0, help_text="0 none, 1 department head, 2 manager (server/sla.py)."
    )
    owner_signed = Boolean(default=False, help_text="Owner's signature or 'not at home' recorded.")
    followed_up = Boolean(default=False, help_text="The desk's follow-up call (回访) recorded.")
    # Exactly-once raising by hand: the phone's id for the request and the hash of what it sent
    # (unique index work_order_client_id; null for orders raised from checks).
    client_id = Varchar(length=36, null=True, default=None)
    body_hash = Varchar(length=64, default="")
    # An owner's report taken by the front desk (source "owner").
    owner_name = Varchar(length=100, default="")
    owner_unit = Varchar(length=100, default="")
    owner_phone = Varchar(length=32, default="")
    signature = Varchar(
        length=64, null=True, default=None, help_text="SHA-256 of the owner's signature image."
    )
    owner_absent = Boolean(default=False, help_text="业主不在家: recorded instead of a signature.")
    satisfaction = Varchar(
        length=16, null=True, default=None, help_text=" | ".join(SATISFACTION) + " (回访)"
    )
    due_at = Timestamptz(
        null=True,
        default=None,
        help_text="The soonest open deadline (UTC); null when nothing is due. The board's sort key.",
    )


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


class WorkOrderEvent(Table):
    """One step of an order's life: who did what, when (device and server time), with what note
    and photos. ``actor`` is empty for the server's own escalation."""

    work_order = ForeignKey(
        "server.tables.work_orders.WorkOrder", on_delete=OnDelete.cascade, null=False
    )
    action = Varchar(length=16)
    from_status = Varchar(length=16)
    to_status = Varchar(length=16)
    actor = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    device_time = Timestamptz(help_text="When the step counts (the phone's time, bounded).")
    server_time = Timestamptz(help_text="When the server recorded it.")
    note = Text(default="")
    department = ForeignKey(
        "server.tables.accounts.Department",
        on_delete=OnDelete.restrict,
        null=True,
        help_text="Where a dispatch or redirect sent the order.",
    )
    photos = JSON(default="[]", help_text="SHA-256 of each photo.")
    # Exactly-once steps from phones' outboxes (unique index work_order_event_client_id).
    client_id = Varchar(length=36, null=True, default=None)
    body_hash = Varchar(length=64, default="")


class WorkOrderPhoto(Table):
    """Every photo attached to an order (raise, steps, the owner's signature), so that whoever
    can see the order can see its photos with one indexed lookup (server/photos.py)."""

    work_order = ForeignKey(
        "server.tables.work_orders.WorkOrder", on_delete=OnDelete.cascade, null=False
    )
    photo = Varchar(length=64, help_text="SHA-256 of a stored Photo.")


__all__ = [
    "CLOSED_STATUSES",
    "SATISFACTION",
    "WORK_ORDER_SOURCES",
    "WorkOrder",
    "WorkOrderEvent",
    "WorkOrderPhoto",
    "WorkOrderReport",
]
