"""Renovations (装修): the permit of a unit, its workers' passes, hot-work permits, extension
requests and the timeline of every step (see server/renovation_flow.py for the lifecycle)."""

from piccolo.columns import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

USER = "server.tables.accounts.User"


class RenovationPermit(Table):
    """装修申请 / 施工许可证 of one unit."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    unit = ForeignKey("server.tables.sites.Unit", on_delete=OnDelete.cascade, null=False)
    owner_name = Varchar(length=100)
    owner_phone = Varchar(length=32, default="")
    contractor_company = Varchar(length=200, default="")
    contractor_licence = Varchar(length=64, default="", help_text="Business licence number.")
    contractor_qualification = Varchar(length=100, default="")
    contractor_person = Varchar(length=100, default="", help_text="Person in charge.")
    contractor_phone = Varchar(length=32, default="")
    area_m2 = Float(default=0.0)
    starts_on = Date()
    ends_on = Date(
        help_text="Default three months after starts_on; moved by an approved extension."
    )
    owner_deposit = Integer(default=0, help_text="In fen (分).")
    contractor_deposit = Integer(default=0, help_text="In fen (分).")
    status = Varchar(length=24, default="applied")
    drawings_reviewer = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    drawings_reviewed_at = Timestamptz(null=True, default=None)
    fire_approval = Boolean(default=False)
    fire_approval_reference = Varchar(length=100, default="")
    cs_signed_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    cs_signed_at = Timestamptz(null=True, default=None)
    engineering_signed_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    engineering_signed_at = Timestamptz(null=True, default=None)
    security_signed_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    security_signed_at = Timestamptz(null=True, default=None)
    unit_status_before = Varchar(
        length=12, default="", help_text="The unit's status before the permit was issued."
    )
    checkpoint = ForeignKey(
        "server.tables.checkpoints.Checkpoint", on_delete=OnDelete.set_null, null=True
    )
    created_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    client_id = Varchar(length=36, null=True, default=None)
    body_hash = Varchar(length=64, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class RenovationWorker(Table):
    """装修人员出入证: a worker's pass. The ID number is stored whole, shown by its last 4 only."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    name = Varchar(length=50)
    id_number = Varchar(length=32, secret=True)
    pass_number = Varchar(length=32, default="")
    valid_until = Date()
    pass_deposit = Integer(default=10000, help_text="In fen; 100 元 by default (004).")
    pass_fee = Integer(default=500, help_text="In fen; 5 元 by default (004).")
    created_at = Timestamptz()


class HotWorkPermit(Table):
    """动火证."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    starts_on = Date()
    ends_on = Date()
    location = Varchar(length=200, default="")
    approved_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz()


class RenovationExtension(Table):
    """装修延期: reviewed by 工程, approved by the manager, optional fee."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    requested_until = Date()
    reason = Text(default="")
    fee = Integer(default=0, help_text="In fen.")
    status = Varchar(length=16, default="requested")
    requested_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    requested_at = Timestamptz()
    reviewed_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    reviewed_at = Timestamptz(null=True, default=None)
    approved_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    approved_at = Timestamptz(null=True, default=None)
    note = Text(default="")


class RenovationEvent(Table):
    """The permit's timeline, like WorkOrderEvent."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    action = Varchar(length=32)
    from_status = Varchar(length=24, default="")
    to_status = Varchar(length=24, default="")
    actor = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    device_time = Timestamptz()
    server_time = Timestamptz()
    note = Text(default="")
    client_id = Varchar(length=36, null=True, default=None)
    body_hash = Varchar(length=64, default="")
