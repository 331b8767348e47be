"""Benchmark: the dispatcher's board and the monthly statistics over 100,000 work orders and
1,000,000 events on SQLite, with the indexes the migrations create and without them (issue 5 §11).

    python bench/bench_work_orders.py [--orders 100000] [--events 1000000] [--repeat 9]

A fresh SQLite file database, migrated like production, gets two sites (90 % / 10 % of the
orders), 500 checkpoints and ``--orders`` orders raised over the last 12 months, written with
``sqlite3.executemany`` (not through the API): older orders mostly closed, recent ones in every
status, 10 % deferred at some point, escalated ones among them; each order's step times, its
stored soonest deadline (``due_at``, from ``server.work_orders.soonest_due`` like the server
keeps it) and, spread over the orders, ``--events`` timeline events (every step, plus comments).

Measured in-process, as the API runs them (median of ``--repeat`` runs after one warm-up):

* the board: ``server.work_orders.list_work_orders`` as a dispatcher of the big site, first page
  of 50, ``sort=overdue`` — open orders; one department's; only overdue ones; and
  ``sort=newest`` with a status filter;
* the monthly statistics: ``server.work_order_stats.monthly_stats`` for a full past month.

Then every non-primary-key index on ``work_order`` and ``work_order_event`` is dropped and the
same queries are measured again; the ratio is without / with. Prints a markdown section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from server import sla  # noqa: E402
from server.auth import CurrentUser  # noqa: E402
from server.db import bind_engine, make_engine  # noqa: E402
from server.migrate import migrate  # noqa: E402
from server.reference import DEPARTMENTS  # noqa: E402
from server.work_order_stats import export_orders, monthly_stats  # noqa: E402
from server.work_orders import list_work_orders, soonest_due  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
SEED = 5
CALENDAR = sla.WorkCalendar.of("Asia/Shanghai")
STATUSES = ("raised", "dispatched", "arranged", "deferred", "reported", "verified", "closed")


def _ts(value: datetime | None) -> str | None:
    """A UTC instant (every time here is one) as Piccolo stores it in SQLite."""
    return str(value) if value is not None else None


def build(path: Path, n_orders: int, n_events: int, now: datetime) -> dict:
    """Sites, checkpoints, orders and events, written with plain sqlite3."""
    rng = random.Random(SEED)
    db = sqlite3.connect(path)
    stamp = _ts(now)
    sites = []
    for code, name in (("BENCHA", "压测小区"), ("BENCHB", "压测二期")):
        cur = db.execute(
            "INSERT INTO site (code, name, timezone, address, created_at) "
            "VALUES (?, ?, 'Asia/Shanghai', '', ?)",
            (code, name, stamp),
        )
        sites.append(cur.lastrowid)
    db.executemany(
        "INSERT INTO checkpoint (site, code, kind, type_code, name, label_version, active, "
        "updated_at) VALUES (?, ?, 'facility', 'hydrant', ?, 1, 1, ?)",
        [(sites[i % 10 == 9], f"C{i}", f"消火栓 {i}", stamp) for i in range(500)],
    )
    checkpoints = {
        site: [r[0] for r in db.execute("SELECT id FROM checkpoint WHERE site = ?", (site,))]
        for site in sites
    }
    if not db.execute("SELECT COUNT(*) FROM department").fetchone()[0]:
        db.executemany(
            "INSERT INTO department (code, name_zh, name_en) VALUES (?, ?, ?)",
            [(code, zh, en) for code, (zh, en) in DEPARTMENTS.items()],
        )
    departments = [r[0] for r in db.execute("SELECT id FROM department ORDER BY id")]
    year_ago = now - timedelta(days=365)
    span = (now - year_ago).total_seconds()

    orders, events = [], []
    for order_id in range(1, n_orders + 1):
        site = sites[1] if rng.random() < 0.1 else sites[0]
        raised = year_ago + timedelta(seconds=rng.random() * span)
        age = now - raised
        source = rng.choices(("inspection", "manual", "owner"), (6, 3, 1))[0]
        if age > timedelta(days=30):
            status = "closed" if rng.random() < 0.95 else rng.choice(("deferred", "reported"))
        else:
            status = rng.choices(STATUSES, (2, 2, 2, 1, 2, 1, 6))[0]
        order = {
            "raised_at": raised,
            "dispatched_at": None,
            "arranged_at": None,
            "reported_at": None,
            "deferred_at": None,
            "verified_at": None,
            "closed_at": None,
        }
        rank = STATUSES.index(status)
        trail = [("raise", "", "raised", raised)]
        department = None
        if rank >= 1:
            department = rng.choice(departments)
            order["dispatched_at"] = raised + timedelta(hours=rng.random() * 30)
            trail.append(("dispatch", "raised", "dispatched", order["dispatched_at"]))
        if rank >= 2:
            order["arranged_at"] = order["dispatched_at"] + timedelta(hours=rng.random() * 3)
            trail.append(("accept", "dispatched", "arranged", order["arranged_at"]))
        deferred = status == "deferred" or (rank >= 4 and rng.random() < 0.1)
        if deferred:
            order["deferred_at"] = order["arranged_at"] + timedelta(hours=1 + rng.random())
            trail.append(("defer", "arranged", "deferred", order["deferred_at"]))
        if rank >= 4:
            start = order["deferred_at"] or order["arranged_at"]
            if deferred:
                back = start + timedelta(days=rng.random() * 4)
                trail.append(("resume", "deferred", "arranged", back))
                start = back
            order["reported_at"] = start + timedelta(hours=0.5 + rng.random() * 5)
            trail.append(("report", "arranged", "reported", order["reported_at"]))
        if rank >= 5:
            order["verified_at"] = order["reported_at"] + timedelta(hours=rng.random() * 5)
            trail.append(("verify", "reported", "verified", order["verified_at"]))
        if rank >= 6:
            order["closed_at"] = order["verified_at"] + timedelta(hours=rng.random() * 2)
            trail.append(("close", "verified", "closed", order["closed_at"]))
        # Steps done later than now would be in the future: keep the clock honest.
        for key, value in order.items():
            if value is not None and value > now:
                order[key] = now
        escalation = 0
        if order["deferred_at"] is not None:
            escalation = sla.escalation_level(
                CALENDAR, order["deferred_at"], order["reported_at"] or now
            )
            for _level in range(escalation):
                trail.append(("escalate", "deferred", "deferred", order["deferred_at"]))
        due = soonest_due({"status": status, **order}, CALENDAR)
        satisfaction = None
        if status == "closed" and source == "owner":
            satisfaction = rng.choices(("satisfied", "acceptable", "dissatisfied"), (7, 2, 1))[0]
        cps = checkpoints[site]
        orders.append(
            (
                order_id,
                site,
                rng.choice(cps) if source == "inspection" else None,
                # One open order per checkpoint item: every order its own item here.
                f"item-{order_id}" if source == "inspection" else "",
                department,
                source,
                status,
                f"工单 {order_id}",
                _ts(raised),
                _ts(raised),
                _ts(max(t for *_, t in trail)),
                *(_ts(order[k]) for k in list(order)[1:]),
                escalation,
                satisfaction,
                _ts(due),
            )
        )
        for action, before, after, at in trail:
            at = _ts(min(at, now))
            events.append((order_id, action, before, after, at, at))
    # Comments (phone calls, notes) on random orders bring the events to the wanted number.
    while len(events) < n_events:
        order_id = rng.randrange(1, n_orders + 1)
        updated_at = orders[order_id - 1][10]
        events.append((order_id, "comment", "", "", updated_at, updated_at))
    events = events[:n_events]
    rng.shuffle(events)  # events arrive interleaved across orders, not order by order

    started = time.monotonic()
    # Bulk load: indexes are built once afterwards (sorted), like a restore would.
    db.commit()
    db.execute("PRAGMA synchronous = OFF")
    indexes = [
        r[0]
        for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name IN ('work_order', 'work_order_event') AND sql IS NOT NULL"
        )
    ]
    drop_indexes(db)
    db.executemany(
        "INSERT INTO work_order (id, site, checkpoint, item_code, department, source, status, title, "
        "raised_at, created_at, updated_at, dispatched_at, arranged_at, reported_at, "
        "deferred_at, verified_at, closed_at, escalation_level, satisfaction, due_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        orders,
    )
    db.executemany(
        "INSERT INTO work_order_event (work_order, action, from_status, to_status, "
        "device_time, server_time, note, photos, body_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, '', '[]', '')",
        events,
    )
    for statement in indexes:
        db.execute(statement)
    db.commit()
    insert_seconds = time.monotonic() - started
    db.close()
    return {"sites": sites, "departments": departments, "insert_seconds": insert_seconds}


def drop_indexes(db: sqlite3.Connection) -> list[str]:
    """Drop every non-primary-key index on the two work-order tables (SQLite's own
    unique-constraint indexes cannot be dropped, and there are none); their names."""
    names = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name IN ('work_order', 'work_order_event') AND sql IS NOT NULL"
        )
    ]
    for name in names:
        db.execute(f'DROP INDEX "{name}"')
    db.commit()
    return names


async def measure(label_fn, repeat: int, budget: float) -> tuple[float, int]:
    """Median seconds of ``repeat`` runs after a warm-up (fewer if ``budget`` seconds run out)."""
    await label_fn()
    samples = []
    deadline = time.monotonic() + budget
    for _ in range(repeat):
        started = time.perf_counter()
        await label_fn()
        samples.append(time.perf_counter() - started)
        if time.monotonic() > deadline and len(samples) >= 3:
            break
    return statistics.median(samples), len(samples)


async def run(args) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-work-orders-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        url = f"sqlite:///{path}"
        with contextlib.redirect_stdout(io.StringIO()):  # the migrations' progress
            await migrate(url)
        started = time.monotonic()
        world = build(path, args.orders, args.events, now)
        generated = time.monotonic() - started
        engine = make_engine(url)
        bind_engine(engine)
        await engine.run_ddl("PRAGMA journal_mode=WAL")
        site = world["sites"][0]
        user = CurrentUser(
            id=1,
            username="bench-dispatcher",
            display_name="调度",
            role="dispatcher",
            department_id=None,
            site_ids=frozenset(world["sites"]),
            session_id=0,
        )
        codes = [r["code"] for r in await engine.run_querystring(_q("SELECT code FROM department"))]
        engineering = "engineering" if "engineering" in codes else codes[0]
        last_month = (now.astimezone(TZ).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")

        def board(**filters):
            async def call():
                return await list_work_orders(
                    user, site=site, page=1, page_size=50, now=now, **filters
                )

            return call

        async def stats():
            return await monthly_stats(user, site, last_month, "Asia/Shanghai", now=now)

        cases = [
            ("board: open orders, overdue first", board(sort="overdue", open_=True)),
            (
                f"board: one department ({engineering}), overdue first",
                board(sort="overdue", department=engineering, open_=True),
            ),
            ("board: only overdue", board(sort="overdue", overdue=True)),
            ("board: status dispatched, newest first", board(sort="newest", status="dispatched")),
            (f"monthly statistics ({last_month})", stats),
        ]
        facts = {}
        page = await cases[0][1]()
        facts["open"] = page["total"]
        facts["overdue"] = (await cases[2][1]())["total"]
        month = await stats()
        facts["month_orders"] = month["total"]
        facts["month_deferred"] = sum(month["on_time"]["return"][k] for k in ("on_time", "late"))

        with_index = {}
        for name, fn in cases:
            with_index[name] = await measure(fn, args.repeat, budget=20)
        # Context: the month as an Excel workbook (one run; it is a download, not a screen).
        first = datetime.strptime(last_month + "-01", "%Y-%m-%d").date()
        last = now.astimezone(TZ).date().replace(day=1) - timedelta(days=1)
        started = time.perf_counter()
        workbook, _ = await export_orders(user, site, first, last, "Asia/Shanghai", now=now)
        export_seconds = time.perf_counter() - started
        db = sqlite3.connect(path)
        dropped = drop_indexes(db)
        db.close()
        without = {}
        for name, fn in cases:
            without[name] = await measure(fn, args.repeat, budget=25)

    print(
        f"`python bench/bench_work_orders.py --orders {args.orders} --events {args.events} "
        f"--repeat {args.repeat}`: SQLite file database (WAL), {args.orders:,} orders on two sites "
        f"(90 % / 10 %) raised over 12 months, {args.events:,} events; generated and inserted "
        f"with executemany in {generated:.1f} s (insert alone {world['insert_seconds']:.1f} s). "
        f"The big site has {facts['open']:,} open orders, {facts['overdue']:,} of them overdue; "
        f"the month measured has {facts['month_orders']:,} orders, "
        f"{facts['month_deferred']:,} of them deferred and back. No `ANALYZE` (as in production). "
        f"Median of {args.repeat} runs after a warm-up, in-process (no HTTP), first page of 50.\n"
    )
    print("| query | with indexes (ms) | without (ms) | without / with |")
    print("|---|---:|---:|---:|")
    for name, _ in cases:
        (a, _na), (b, nb) = with_index[name], without[name]
        runs = "" if nb == args.repeat else f" ({nb} runs)"
        print(f"| {name} | {a * 1000:,.1f} | {b * 1000:,.1f}{runs} | {b / a:,.1f}× |")
    print(
        f"\nContext: the same month exported as XLSX ({facts['month_orders']:,} rows, "
        f"{len(workbook) / 1e6:.1f} MB) took {export_seconds:.1f} s, written in a worker thread."
    )
    print(
        "\nIndexes dropped for the second column: "
        + ", ".join(f"`{name}`" for name in sorted(dropped))
        + "."
    )


def _q(sql: str):
    from piccolo.querystring import QueryString

    return QueryString(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
