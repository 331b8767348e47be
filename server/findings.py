"""Findings: a failed checklist item becomes a work order for the item's department.

A checkpoint item has at most one open order raised from checks (the partial unique index
``work_order_open_item``). A failure while one is open adds a report (inspection, reporter, note)
to it instead of raising another, so the order shows every sighting with its photos.

Called inside the sync batch's write transaction: the orders are stored with the inspections or
not at all. Two batches racing to raise the same order on PostgreSQL: the loser's insert fails on
the unique index, its transaction rolls back and the batch is run again, now joining the order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.sla import DISPATCH_WITHIN
from server.tables.work_orders import WorkOrder, WorkOrderReport

#: An order is raised at the time the phone says the item failed, but no earlier than this
#: before the server received it (and never in the future).
RAISED_AT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Failure:
    key: int  # the caller's handle for the record (its index in the batch)
    inspection_id: uuid.UUID
    site_id: int
    checkpoint_id: int
    item_code: str
    department_id: int | None
    severity: str
    title: str
    note: str
    device_time: datetime


def due_when_raised(raised_at: datetime) -> datetime:
    """A new order's ``due_at``: its only open deadline is the desk's dispatch (24 h, wall clock,
    so no calendar is needed)."""
    return raised_at + DISPATCH_WITHIN


def bounded_raised_at(device_time: datetime, received_at: datetime) -> datetime:
    return min(max(device_time, received_at - RAISED_AT_WINDOW), received_at)


async def raise_findings(
    failures: list[Failure], *, reporter_id: int, received_at: datetime
) -> dict[int, list[int]]:
    """Raise or join orders for ``failures`` (in order); returns {key: [work order ids]}.

    Must run inside a write transaction, after the inspections are inserted.
    """
    if not failures:
        return {}
    checkpoints = sorted({f.checkpoint_id for f in failures})
    open_orders = {
        (row["checkpoint"], row["item_code"]): row["id"]
        for row in await WorkOrder.select(
            WorkOrder.id, WorkOrder.checkpoint, WorkOrder.item_code
        ).where(
            WorkOrder.checkpoint.is_in(checkpoints)
            & (WorkOrder.source == "inspection")
            & (WorkOrder.status != "closed")
        )
    }
    orders: dict[int, list[int]] = {}
    reports: list[WorkOrderReport] = []
    for failure in failures:
        key = (failure.checkpoint_id, failure.item_code)
        order_id = open_orders.get(key)
        if order_id is None:
            raised_at = bounded_raised_at(failure.device_time, received_at)
            inserted = await WorkOrder.insert(
                WorkOrder(
                    site=failure.site_id,
                    checkpoint=failure.checkpoint_id,
                    item_code=failure.item_code,
                    department=failure.department_id,
                    source="inspection",
                    status="raised",
                    severity=failure.severity,
                    title=failure.title,
                    description=failure.note,
                    raised_by=reporter_id,
                    raised_at=raised_at,
                    created_at=received_at,
                    updated_at=received_at,
                    due_at=due_when_raised(raised_at),
                )
            ).returning(WorkOrder.id)
            order_id = inserted[0]["id"]
            open_orders[key] = order_id
        ids = orders.setdefault(failure.key, [])
        if order_id not in ids:
            ids.append(order_id)
        reports.append(
            WorkOrderReport(
                work_order=order_id,
                inspection=failure.inspection_id,
                reporter=reporter_id,
                note=failure.note,
                reported_at=failure.device_time,
                created_at=received_at,
            )
        )
    await WorkOrderReport.insert(*reports)
    return orders


__all__ = ["RAISED_AT_WINDOW", "Failure", "bounded_raised_at", "due_when_raised", "raise_findings"]
