"""Inspections (巡检记录) made on phones, their item results and photos."""

from piccolo.columns import (
    UUID,
    BigInt,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Photo(Table):
    """A photo stored content-addressed by the SHA-256 of the bytes the phone uploaded."""

    sha256 = Varchar(length=64, primary_key=True)
    content_type = Varchar(length=32)
    byte_size = BigInt()
    width = Integer()
    height = Integer()
    path = Varchar(length=200, help_text="Relative to the photo store.")
    thumb_path = Varchar(length=200)
    uploaded_by = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz()


class Inspection(Table):
    """One check of one checkpoint. The id is the UUID the phone made: the sync identity."""

    id = UUID(primary_key=True)
    checkpoint = ForeignKey(
        "server.tables.checkpoints.Checkpoint", on_delete=OnDelete.restrict, null=False
    )
    template = ForeignKey(
        "server.tables.checkpoints.ChecklistTemplate",
        on_delete=OnDelete.restrict,
        null=True,
        help_text="The checklist filled in (renovation: the inspector's department's list).",
    )
    inspector = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.restrict, null=False)
    device_time = Timestamptz(help_text="When the phone says the check was made.")
    received_at = Timestamptz(help_text="When the server stored it.")
    source = Varchar(length=8, help_text="scan | manual (manual = typed code, unverified)")
    label_version = Integer(null=True, default=None)
    note = Text(default="")
    clock_skew_seconds = Integer(
        default=0, help_text="device_time minus received time, when large."
    )
    body_hash = Varchar(
        length=64, help_text="Hash of the record as sent, to tell a re-send from a conflict."
    )


class ItemResult(Table):
    inspection = ForeignKey(
        "server.tables.inspections.Inspection", on_delete=OnDelete.cascade, null=False
    )
    item_code = Varchar(length=48)
    result = Varchar(length=4, help_text="pass | fail | na")
    note = Text(default="")
    defect_type = Varchar(length=32, default="")


class InspectionPhoto(Table):
    inspection = ForeignKey(
        "server.tables.inspections.Inspection", on_delete=OnDelete.cascade, null=False
    )
    item_code = Varchar(length=48, default="", help_text="Empty for a photo of the whole check.")
    photo = ForeignKey("server.tables.inspections.Photo", on_delete=OnDelete.restrict, null=False)
