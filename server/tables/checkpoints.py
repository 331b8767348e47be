"""Checkpoints (巡检点): the things that carry a QR label, and their checklist templates."""

from piccolo.columns import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.columns.readable import Readable
from piccolo.table import Table

CHECKPOINT_KINDS = ("facility", "vacant_unit", "signage", "renovation")
SEVERITIES = ("minor", "major", "critical")


class ChecklistTemplate(Table):
    """A checklist for one kind of checkpoint (and optionally one facility or sign type).

    Renovation has one template per inspecting department (客服, 工程, 保安): each inspector
    sees their own department's list.
    """

    code = Varchar(length=64, unique=True)
    kind = Varchar(length=16, help_text=" | ".join(CHECKPOINT_KINDS))
    type_code = Varchar(
        length=48,
        null=True,
        default=None,
        help_text="Facility or sign type this template is for; empty = any.",
    )
    inspecting_department = ForeignKey(
        "server.tables.accounts.Department",
        on_delete=OnDelete.set_null,
        null=True,
        help_text="Renovation only: whose inspection this is.",
    )
    name_zh = Varchar(length=100)
    name_en = Varchar(length=100)
    allow_gallery = Boolean(
        default=False, help_text="Photos may come from the gallery, not only the camera."
    )
    defect_types = JSON(
        default="[]", help_text="Signage: [{code, zh, en}] defect types to pick from."
    )
    updated_at = Timestamptz()

    @classmethod
    def get_readable(cls):
        return Readable(template="%s", columns=[cls.name_zh])


class TemplateItem(Table):
    """One line of a checklist."""

    template = ForeignKey(
        "server.tables.checkpoints.ChecklistTemplate", on_delete=OnDelete.cascade, null=False
    )
    position = Integer(default=0)
    code = Varchar(length=48, help_text="Stable within the template; phones send it back.")
    text_zh = Varchar(length=200)
    text_en = Varchar(length=200)
    department = ForeignKey(
        "server.tables.accounts.Department",
        on_delete=OnDelete.set_null,
        null=True,
        help_text="Who must act when this item fails (gets the work order).",
    )
    photo_required_on_fail = Boolean(default=True)
    severity = Varchar(length=10, default="minor", help_text=" | ".join(SEVERITIES))
    is_confirmation = Boolean(
        default=False, help_text="A closing confirmation (e.g. power off) that must be ticked."
    )
    source = Varchar(length=80, default="", help_text="Where the rule comes from (SOP section).")


class Checkpoint(Table):
    """巡检点: a facility, vacant unit, sign or renovation site with a QR label."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    code = Varchar(length=24, help_text="Short, human-typable; unique within the site.")
    kind = Varchar(length=16, help_text=" | ".join(CHECKPOINT_KINDS))
    type_code = Varchar(length=48, default="", help_text="Facility or sign type, e.g. hydrant.")
    name = Varchar(length=100, help_text="Chinese name shown on the label and the phone.")
    building = ForeignKey("server.tables.sites.Building", on_delete=OnDelete.cascade, null=True)
    floor = ForeignKey("server.tables.sites.Floor", on_delete=OnDelete.cascade, null=True)
    unit = ForeignKey("server.tables.sites.Unit", on_delete=OnDelete.set_null, null=True)
    template = ForeignKey(
        "server.tables.checkpoints.ChecklistTemplate", on_delete=OnDelete.set_null, null=True
    )
    plan_x = Float(
        null=True, default=None, help_text="Position on the floor plan, 0..1 from the left."
    )
    plan_y = Float(
        null=True, default=None, help_text="Position on the floor plan, 0..1 from the top."
    )
    label_version = Integer(default=1, help_text="Bumped when a damaged label is re-issued.")
    active = Boolean(default=True)
    updated_at = Timestamptz(help_text="Drives the phones' catalogue cursor.")

    @classmethod
    def get_readable(cls):
        return Readable(template="%s %s", columns=[cls.code, cls.name])
