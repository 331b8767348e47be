"""Exactly-once ingest of the records phones made offline (POST /api/sync).

A batch is checked record by record against what the server knows (labels, checklists, photos),
and every accepted record is stored in ONE write transaction with its item results, photos and
findings. A record is never stored half: it is either all there or not at all.

Identity is the UUID the phone made. The same id again with the same body (same canonical
hash) is a ``duplicate`` (success: the phone may forget it); with another body it is rejected
``conflict``. Two servers' workers racing on the same batch: on SQLite the write transaction is
IMMEDIATE (writers queue); on PostgreSQL the second insert of the same id waits for the first and
then fails with a unique violation, and the batch is simply run again (it then reads
``duplicate``).

Lookups are done per batch, not per record: one query for the ids already stored, one for the
checkpoints, one for the templates and their items, a few for the photos. Rows are written with
``executemany`` (SQLite) or ``COPY`` (PostgreSQL).

Nothing here knows about HTTP; ``server.routes.sync`` calls in.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from asyncpg.exceptions import DeadlockDetectedError, UniqueViolationError
from piccolo.engine.sqlite import SQLiteEngine

from qr.signing import CODE_RE, verify
from server import compliance_store, violations
from server.auth import CurrentUser
from server.db import write_transaction
from server.errors import ApiError, message_for
from server.findings import Failure, raise_findings
from server.labels import check_label_version, label_secret
from server.settings import Settings
from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem
from server.tables.inspections import Inspection, InspectionPhoto, ItemResult, Photo
from server.tables.work_orders import WorkOrderReport

log = logging.getLogger("xunjian.sync")

#: Most records one request may carry (more → 413 ``batch_too_large``).
MAX_RECORDS = 500
#: Largest request body read (more → 413, refused while streaming).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: A device clock further off than this is flagged on read.
CLOCK_FLAG_SECONDS = 600
#: Device times further than this from the server's are nonsense, not a skewed clock.
DEVICE_TIME_WINDOW = timedelta(days=366 * 20)
#: How often a batch is re-run after losing an insert race (PostgreSQL).
RETRIES = 5

_INT32 = 2_147_483_647
Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
Note = Annotated[str, msgspec.Meta(max_length=2000)]


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    """One checklist line as filled in on the phone."""

    item: Annotated[str, msgspec.Meta(min_length=1, max_length=48)]
    result: Literal["pass", "fail", "na"]
    note: Note = ""
    defect_type: Annotated[str, msgspec.Meta(max_length=32)] = ""
    photos: Annotated[list[Sha256], msgspec.Meta(max_length=20)] = []


class RecordIn(msgspec.Struct, forbid_unknown_fields=True):
    """One check made on the phone. The field order is the canonical order of the body hash."""

    id: uuid.UUID
    checkpoint: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    source: Literal["scan", "manual"]
    device_time: Annotated[
        datetime, msgspec.Meta(description="RFC 3339 with an offset; without one → bad_device_time")
    ]
    items: Annotated[list[ItemIn], msgspec.Meta(max_length=200)]
    site: Annotated[int, msgspec.Meta(ge=1, le=_INT32)] | None = None
    version: Annotated[int, msgspec.Meta(ge=0, le=_INT32)] | None = None
    signature: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    template: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    note: Note = ""
    photos: Annotated[list[Sha256], msgspec.Meta(max_length=20)] = []


_encoder = msgspec.json.Encoder()


def body_hash(record: RecordIn) -> str:
    """SHA-256 of the record's canonical encoding: struct field order, so a re-send with its keys
    in another order (or its defaults spelled out) hashes the same."""
    return hashlib.sha256(_encoder.encode(record)).hexdigest()


class Rejected(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Outcome:
    id: str
    status: str  # accepted | duplicate | rejected
    code: str | None = None
    work_orders: list[int] = field(default_factory=list)

    def as_dict(self, english: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.code is not None:
            out["code"] = self.code
            out["reason"] = message_for(self.code, english)
        if self.status != "rejected":
            out["work_orders"] = self.work_orders
        return out


@dataclass
class _Accepted:
    index: int
    record: RecordIn
    hash: str
    checkpoint: dict
    template: dict
    device_time: datetime
    skew: int
    label_version: int | None


async def apply_batch(
    settings: Settings, user: CurrentUser, records: list[RecordIn]
) -> list[Outcome]:
    """Check and store a batch; one outcome per record, in order."""
    if len(records) > MAX_RECORDS:
        raise ApiError(413, "batch_too_large")
    hashes = [body_hash(r) for r in records]
    engine = Inspection._meta.db
    for attempt in range(RETRIES):
        try:
            async with write_transaction(engine) as tx:
                outcomes = await _apply(settings, user, records, hashes, tx, engine)
            # Committed: recompute the patrol rounds these checks can change (never raises).
            await compliance_store.after_sync([o.id for o in outcomes if o.status == "accepted"])
            return outcomes
        except (UniqueViolationError, DeadlockDetectedError, sqlite3.IntegrityError) as exc:
            # Another request stored one of these ids (or raised the same order) first.
            log.info("sync batch lost an insert race (attempt %s): %s", attempt + 1, exc)
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _apply(settings, user, records, hashes, tx, engine) -> list[Outcome]:
    received_at = datetime.now(UTC)
    outcomes: list[Outcome | None] = [None] * len(records)
    stored = await _stored_hashes(tx, engine, list({r.id for r in records}))

    # Duplicates and conflicts first: a re-send of a stored record is a success even if its label
    # was re-issued since.
    pending: list[int] = []
    first_of: dict[uuid.UUID, int] = {}
    for i, record in enumerate(records):
        key = str(record.id)
        if key in stored:
            same = stored[key] == hashes[i]
            outcomes[i] = (
                Outcome(key, "duplicate") if same else Outcome(key, "rejected", "conflict")
            )
        elif record.id in first_of:
            continue  # decided after the first occurrence
        else:
            first_of[record.id] = i
            pending.append(i)

    accepted: list[_Accepted] = []
    if pending:
        context = await _Context.load(settings, user, [records[i] for i in pending])
        for i in pending:
            try:
                accepted.append(context.check(i, records[i], hashes[i], received_at))
            except Rejected as rejected:
                outcomes[i] = Outcome(str(records[i].id), "rejected", rejected.code)

    orders = await _store(tx, engine, user, accepted, received_at)
    for a in accepted:
        outcomes[a.index] = Outcome(
            str(a.record.id), "accepted", work_orders=sorted(orders.get(a.index, []))
        )

    # Later copies of an id in the same batch answer like the first one did.
    for i, record in enumerate(records):
        if outcomes[i] is not None:
            continue
        first = outcomes[first_of[record.id]]
        key = str(record.id)
        if first.status == "rejected":
            outcomes[i] = Outcome(key, "rejected", first.code)
        elif hashes[i] == hashes[first_of[record.id]]:
            outcomes[i] = Outcome(key, "duplicate", work_orders=first.work_orders)
        else:
            outcomes[i] = Outcome(key, "rejected", "conflict")

    duplicates = [o for o in outcomes if o.status == "duplicate" and not o.work_orders]
    if duplicates:
        # The same answer as the first time, so a lost response costs nothing.
        rows = await WorkOrderReport.select(
            WorkOrderReport.inspection, WorkOrderReport.work_order
        ).where(WorkOrderReport.inspection.is_in([uuid.UUID(o.id) for o in duplicates]))
        found: dict[str, list[int]] = {}
        for row in rows:
            found.setdefault(str(row["inspection"]), []).append(row["work_order"])
        for o in duplicates:
            o.work_orders = sorted(set(found.get(o.id, [])))
    return outcomes  # type: ignore[return-value]


async def _stored_hashes(tx, engine, ids: list[uuid.UUID]) -> dict[str, str]:
    """{id: body_hash} of the ids already stored. Plain SQL on the transaction's connection: a
    500-value IN list is slow to build through the ORM."""
    name = Inspection._meta.tablename
    if isinstance(engine, SQLiteEngine):
        marks = ", ".join("?" * len(ids))
        cursor = await tx.connection.execute(
            f'SELECT "id", "body_hash" FROM "{name}" WHERE "id" IN ({marks})',
            [str(i) for i in ids],
        )
        rows = await cursor.fetchall()
        await cursor.close()
    else:
        rows = await tx.connection.fetch(
            f'SELECT "id", "body_hash" FROM "{name}" WHERE "id" = ANY($1::uuid[])', ids
        )
    return {str(row["id"]): row["body_hash"] for row in rows}


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Context:
    """Everything a batch's records are checked against, loaded in a handful of queries."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, list[dict]] = {}
        self.templates_by_id: dict[int, dict] = {}
        self.templates_by_code: dict[str, dict] = {}
        self.photos: set[str] = set()
        self._signatures: dict[tuple, bool] = {}

    @classmethod
    async def load(cls, settings: Settings, user: CurrentUser, records: list[RecordIn]):
        self = cls()
        self.settings = settings
        self.secret = label_secret(settings)
        self.user = user
        codes: set[str] = set()
        for r in records:
            codes.add(r.checkpoint)
            codes.add(r.checkpoint.strip().upper())
        if user.is_admin or user.site_ids:
            where = Checkpoint.code.is_in(sorted(codes)) & (Checkpoint.active == True)  # noqa: E712
            if not user.is_admin:
                where &= Checkpoint.site.is_in(sorted(user.site_ids))
            rows = (
                await Checkpoint.select(
                    Checkpoint.id,
                    Checkpoint.code,
                    Checkpoint.site,
                    Checkpoint.site.code.as_alias("site_code"),
                    Checkpoint.kind,
                    Checkpoint.template,
                    Checkpoint.label_version,
                )
                .where(where)
                .order_by(Checkpoint.id)
            )
            for row in rows:
                self.checkpoints.setdefault(row["code"], []).append(row)

        template_ids = {
            row["template"] for rows in self.checkpoints.values() for row in rows if row["template"]
        }
        template_codes = {r.template for r in records if r.template}
        where = ChecklistTemplate.kind == "renovation"
        if template_ids:
            where |= ChecklistTemplate.id.is_in(sorted(template_ids))
        if template_codes:
            where |= ChecklistTemplate.code.is_in(sorted(template_codes))
        templates = await ChecklistTemplate.select(
            ChecklistTemplate.id,
            ChecklistTemplate.code,
            ChecklistTemplate.kind,
            ChecklistTemplate.inspecting_department,
            ChecklistTemplate.defect_types,
        ).where(where)
        for t in templates:
            t["items"] = {}
            if isinstance(t["defect_types"], str):
                t["defect_types"] = msgspec.json.decode(t["defect_types"] or "[]")
            self.templates_by_id[t["id"]] = t
            self.templates_by_code[t["code"]] = t
        if templates:
            items = await TemplateItem.select(
                TemplateItem.template,
                TemplateItem.code,
                TemplateItem.text_zh,
                TemplateItem.department,
                TemplateItem.photo_required_on_fail,
                TemplateItem.severity,
                TemplateItem.is_confirmation,
            ).where(TemplateItem.template.is_in(sorted(self.templates_by_id)))
            for item in items:
                self.templates_by_id[item["template"]]["items"][item["code"]] = item

        shas = sorted({p for r in records for p in _photos_of(r)})
        for chunk in _chunks(shas):
            rows = await Photo.select(Photo.sha256).where(Photo.sha256.is_in(chunk))
            self.photos.update(row["sha256"] for row in rows)
        return self

    # --- one record ---------------------------------------------------------------------

    def check(self, index: int, record: RecordIn, hash_: str, received_at: datetime) -> _Accepted:
        device_time = record.device_time
        if device_time.tzinfo is None or device_time.utcoffset() is None:
            raise Rejected("bad_device_time")
        try:
            skew = (device_time - received_at).total_seconds()
        except OverflowError:
            raise Rejected("bad_device_time") from None
        if abs(skew) > DEVICE_TIME_WINDOW.total_seconds():
            raise Rejected("bad_device_time")
        checkpoint, label_version = self._checkpoint(record)
        template = self._template(record, checkpoint)
        self._check_items(record, template)
        return _Accepted(
            index=index,
            record=record,
            hash=hash_,
            checkpoint=checkpoint,
            template=template,
            device_time=device_time,
            skew=round(skew),
            label_version=label_version,
        )

    def _checkpoint(self, record: RecordIn) -> tuple[dict, int | None]:
        if record.source == "manual":
            code = record.checkpoint.strip().upper()
            if not CODE_RE.fullmatch(code):
                raise Rejected("unknown_checkpoint")
            candidates = self._candidates(code, record.site)
            if not candidates:
                raise Rejected("unknown_checkpoint")
            if len(candidates) > 1:
                raise Rejected("ambiguous_checkpoint")
            return candidates[0], None
        # Scanned: the label's signature must verify against the checkpoint's site.
        candidates = self._candidates(record.checkpoint, record.site)
        if not candidates:
            raise Rejected("unknown_checkpoint")
        if record.version is None or record.signature is None:
            raise Rejected("bad_signature")
        for row in candidates:
            if self._verified(row, record.version, record.signature):
                try:
                    check_label_version(row, record.version, self.user)
                except ApiError as error:
                    raise Rejected(error.code) from None
                return row, record.version
        log.warning(
            "synced record with a bad label signature: user=%s code=%s version=%s",
            self.user.username,
            record.checkpoint,
            record.version,
        )
        raise Rejected("bad_signature")

    def _verified(self, row: dict, version: int, signature: str) -> bool:
        # A batch often holds several checks of one label: verify each label once.
        key = (row["id"], version, signature)
        ok = self._signatures.get(key)
        if ok is None:
            ok = verify(self.secret, row["site_code"], row["code"], version, signature)
            self._signatures[key] = ok
        return ok

    def _candidates(self, code: str, site: int | None) -> list[dict]:
        rows = self.checkpoints.get(code, [])
        if site is not None:
            rows = [row for row in rows if row["site"] == site]
        return rows

    def _template(self, record: RecordIn, checkpoint: dict) -> dict:
        given = self.templates_by_code.get(record.template) if record.template else None
        if checkpoint["kind"] == "renovation":
            # Each inspecting department has its own list; the phone names the one it filled.
            if given is not None and given["kind"] == "renovation":
                return given
            department = self.user.department_id
            for template in self.templates_by_id.values():
                if (
                    template["kind"] == "renovation"
                    and department is not None
                    and template["inspecting_department"] == department
                ):
                    return template
            raise Rejected("no_template")
        if given is not None and given["kind"] == checkpoint["kind"]:
            return given  # what was filled in (the phone's list may predate a change)
        template = self.templates_by_id.get(checkpoint["template"])
        if template is None:
            raise Rejected("no_template")
        return template

    def _check_items(self, record: RecordIn, template: dict) -> None:
        items = template["items"]
        seen: set[str] = set()
        for item in record.items:
            if item.item not in items:
                raise Rejected("unknown_item")
            if item.item in seen:
                raise Rejected("incomplete_check")
            seen.add(item.item)
        if len(seen) != len(items):
            raise Rejected("incomplete_check")
        defect_codes = {d.get("code") for d in template.get("defect_types") or []}
        for item in record.items:
            spec = items[item.item]
            if item.defect_type and item.defect_type not in defect_codes:
                raise Rejected("unknown_defect_type")
            if spec["is_confirmation"] and item.result != "pass":
                raise Rejected("incomplete_check")
            if item.result == "fail" and spec["photo_required_on_fail"] and not item.photos:
                raise Rejected("photo_required")
        for sha in _photos_of(record):
            if sha not in self.photos:
                raise Rejected("missing_photo")


def _photos_of(record: RecordIn):
    yield from record.photos
    for item in record.items:
        yield from item.photos


# --- writing ----------------------------------------------------------------------------------

INSPECTION_COLUMNS = (
    "id",
    "checkpoint",
    "template",
    "inspector",
    "device_time",
    "received_at",
    "source",
    "label_version",
    "note",
    "clock_skew_seconds",
    "body_hash",
)
ITEM_COLUMNS = ("inspection", "item_code", "result", "note", "defect_type")
PHOTO_COLUMNS = ("inspection", "item_code", "photo")


async def insert_rows(tx, engine, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk insert on the transaction's own connection: executemany on SQLite, COPY on
    PostgreSQL."""
    if not rows:
        return
    name = table._meta.tablename
    if isinstance(engine, SQLiteEngine):
        quoted = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        await tx.connection.executemany(f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})', rows)
    else:
        await tx.connection.copy_records_to_table(name, records=rows, columns=list(columns))


async def _store(tx, engine, user: CurrentUser, accepted: list[_Accepted], received_at: datetime):
    if not accepted:
        return {}
    inspections, items, photos, failures = [], [], [], []
    for a in accepted:
        r = a.record
        inspections.append(
            (
                r.id,
                a.checkpoint["id"],
                a.template["id"],
                user.id,
                a.device_time,
                received_at,
                r.source,
                a.label_version,
                r.note,
                a.skew,
                a.hash,
            )
        )
        seen_photos: set[tuple[str, str]] = set()
        for sha in r.photos:
            if ("", sha) not in seen_photos:
                seen_photos.add(("", sha))
                photos.append((r.id, "", sha))
        spec_items = a.template["items"]
        for item in r.items:
            items.append((r.id, item.item, item.result, item.note, item.defect_type))
            for sha in item.photos:
                if (item.item, sha) not in seen_photos:
                    seen_photos.add((item.item, sha))
                    photos.append((r.id, item.item, sha))
            if item.result == "fail":
                spec = spec_items[item.item]
                failures.append(
                    Failure(
                        key=a.index,
                        inspection_id=r.id,
                        site_id=a.checkpoint["site"],
                        checkpoint_id=a.checkpoint["id"],
                        item_code=item.item,
                        department_id=spec["department"],
                        severity=spec["severity"],
                        title=_title(spec["text_zh"], item.defect_type, a.template),
                        note=item.note,
                        device_time=a.device_time,
                    )
                )
    # In id order: two batches holding the same ids in another order wait for each other
    # instead of deadlocking (PostgreSQL locks each new key as it is inserted).
    inspections.sort(key=lambda row: row[0])
    await insert_rows(tx, engine, Inspection, INSPECTION_COLUMNS, inspections)
    await insert_rows(tx, engine, ItemResult, ITEM_COLUMNS, items)
    await insert_rows(tx, engine, InspectionPhoto, PHOTO_COLUMNS, photos)
    orders = await raise_findings(failures, reporter_id=user.id, received_at=received_at)
    # Violations and their rectification notices (renovation checkpoints), in this transaction.
    await violations.from_checks(accepted, user=user, received_at=received_at)
    return orders


def _title(text_zh: str, defect_type: str, template: dict) -> str:
    title = text_zh
    if defect_type:
        names = {d.get("code"): d.get("zh") for d in template.get("defect_types") or []}
        title = f"{text_zh}：{names.get(defect_type) or defect_type}"
    return title[:200]


__all__ = [
    "CLOCK_FLAG_SECONDS",
    "INSPECTION_COLUMNS",
    "ITEM_COLUMNS",
    "MAX_BODY_BYTES",
    "MAX_RECORDS",
    "ItemIn",
    "Outcome",
    "RecordIn",
    "apply_batch",
    "body_hash",
    "insert_rows",
]
