"""Escalation (§4.3.11): an order deferred ("cannot finish now") and not back within 2 working days
is re-issued to the department head, and 2 working days later to the manager.

``escalate_due`` is run by the server itself (a periodic task started in the app's lifespan) and is
idempotent: the level an order has reached is a pure function of its deferral time and now
(``sla.escalation_level``); the order stores the level it was escalated to, and each run records
one "escalate" event per level newly reached, raising the stored level with a conditional UPDATE
(``WHERE escalation_level = <the level read>``) in the same transaction. Two runs at once, or one
run repeated, can therefore never record a level twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from server import sla
from server.db import write_transaction
from server.settings import Settings
from server.tables.work_orders import WorkOrder, WorkOrderEvent
from server.work_order_flow import Actor, OrderState, TransitionError, apply
from server.work_orders import backfill_due, calendar_for, site_calendars, store_due

log = logging.getLogger("xunjian.escalation")

SYSTEM = Actor(role="system", department_id=None, is_system=True)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def level_dues(calendar: sla.WorkCalendar, deferred_at: datetime) -> list[datetime]:
    """When each escalation level falls due for an order deferred at ``deferred_at``."""
    dues, due = [], deferred_at
    for _ in sla.ESCALATION_LEVELS:
        due = calendar.add_working_days(due, sla.DEFERRAL_WORKING_DAYS)
        dues.append(due)
    return dues


async def escalate_due(now: datetime, settings: Settings) -> int:
    """Escalate every deferred order whose level is due by ``now``; returns the number of
    escalation events recorded (0 when run again at the same ``now``)."""
    candidates = await WorkOrder.select(
        WorkOrder.id,
        WorkOrder.site.id.as_alias("site_id"),
        WorkOrder.site.timezone.as_alias("timezone"),
        WorkOrder.deferred_at,
        WorkOrder.escalation_level,
    ).where(
        (WorkOrder.status == "deferred")
        & WorkOrder.deferred_at.is_not_null()
        & (WorkOrder.escalation_level < len(sla.ESCALATION_LEVELS))
    )
    recorded = 0
    # Each site's own calendar (holidays and 调休), two queries for all of them.
    calendars = await site_calendars({row["site_id"] for row in candidates}, settings.timezone)
    for row in candidates:
        calendar = calendars.get(row["site_id"]) or calendar_for(row["timezone"], settings.timezone)
        if sla.escalation_level(calendar, _utc(row["deferred_at"]), now) <= row["escalation_level"]:
            continue
        recorded += await _escalate(row["id"], calendar, now, settings.timezone)
    return recorded


async def _escalate(
    order_id: int, calendar: sla.WorkCalendar, now: datetime, default_timezone: str
) -> int:
    async with write_transaction(WorkOrder._meta.db):
        row = (
            await WorkOrder.select(
                WorkOrder.status,
                WorkOrder.department,
                WorkOrder.source,
                WorkOrder.deferred_at,
                WorkOrder.escalation_level,
            )
            .where(WorkOrder.id == order_id)
            .first()
        )
        if row is None or row["deferred_at"] is None:
            return 0
        try:
            apply(OrderState(row["status"], row["department"], row["source"]), "escalate", SYSTEM)
        except TransitionError:
            return 0  # resumed or reported in the meantime
        deferred_at = _utc(row["deferred_at"])
        stored = row["escalation_level"]
        level = sla.escalation_level(calendar, deferred_at, now)
        if level <= stored:
            return 0
        moved = (
            await WorkOrder.update({WorkOrder.escalation_level: level, WorkOrder.updated_at: now})
            .where(
                (WorkOrder.id == order_id)
                & (WorkOrder.status == "deferred")
                & (WorkOrder.escalation_level == stored)
            )
            .returning(WorkOrder.id)
        )
        if not moved:
            return 0  # another run got there first
        dues = level_dues(calendar, deferred_at)
        await WorkOrderEvent.insert(
            *[
                WorkOrderEvent(
                    work_order=order_id,
                    action="escalate",
                    from_status="deferred",
                    to_status="deferred",
                    actor=None,
                    device_time=dues[n - 1],
                    server_time=now,
                    note=sla.ESCALATION_LEVELS[n - 1],
                    photos=[],
                )
                for n in range(stored + 1, level + 1)
            ]
        )
        # The return deadline is unchanged by escalation, but keep due_at in step with the
        # site's calendar as it is now.
        await store_due(order_id, default_timezone)
    log.info("work order %s escalated to level %s", order_id, level)
    return level - stored


async def run_periodically(
    settings: Settings, interval_seconds: float, *, job: str = "escalation"
) -> None:
    """Escalate every ``interval_seconds`` until cancelled (the app's lifespan owns the task), in
    the one worker leading the job (server/leader.py). A failed run is logged and the next one
    tries again. First, orders stored before their deadline was (``due_at``) get one. ``job``
    names the leadership lock (a test runs a loop of its own beside the app's)."""
    from server import leader

    backfilled = False

    async def tick() -> None:
        nonlocal backfilled
        if not backfilled:
            backfilled = True
            try:
                filled = await backfill_due(settings.timezone)
                if filled:
                    log.info("stored the deadline of %s open work orders", filled)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not store the deadlines of older work orders")
        await escalate_due(datetime.now(UTC), settings)

    await leader.run_periodically(job, interval_seconds, tick)


__all__ = ["escalate_due", "level_dues", "run_periodically"]
