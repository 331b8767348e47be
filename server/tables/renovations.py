"""Renovations (装修): the permit of a unit, its workers' passes, hot-work permits, extension
requests and the timeline of every step (see server/renovation_flow.py for the lifecycle)."""

from piccolo.columns import (
    JSON,
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


# --- joint acceptance, deductions, settlement (issue 7, A) ----------------------------------------


class RenovationAcceptance(Table):
    """One round of a joint acceptance (隐蔽工程验收 / 竣工验收): every party signs off; a failed
    round is followed by the next round (the re-inspection)."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    kind = Varchar(length=16, help_text="hidden_works | completion")
    round = Integer(default=1, help_text="1 for the first inspection, 2… for re-inspections.")
    status = Varchar(length=8, default="open", help_text="open | passed | failed")
    opened_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    opened_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)


class AcceptanceSignoff(Table):
    """One party's sign-off in a round: a department (客服 / 工程 / 保安) or, at completion, the
    owner and the contractor (their signature drawn on the inspector's phone)."""

    acceptance = ForeignKey(
        "server.tables.renovations.RenovationAcceptance", on_delete=OnDelete.cascade, null=False
    )
    party = Varchar(length=20)
    passed = Boolean(default=False)
    items = JSON(default="[]", help_text="What is to be rectified, one text each.")
    note = Text(default="")
    signer_name = Varchar(length=100, default="", help_text="The owner's / contractor's name.")
    signature = Varchar(length=64, null=True, default=None, help_text="SHA-256 of the photo.")
    photos = JSON(default="[]", help_text="SHA-256 of each photo.")
    signed_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    signed_at = Timestamptz()
    client_id = Varchar(length=36, null=True, default=None)


class RenovationDeduction(Table):
    """An amount kept back from the deposits (扣款), with its reason and photos; withdrawn (soft
    delete) until the settlement is approved."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    amount = Integer(help_text="In fen, > 0.")
    reason = Text(default="")
    photos = JSON(default="[]", help_text="SHA-256 of each photo.")
    created_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    created_at = Timestamptz()
    deleted_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    deleted_at = Timestamptz(null=True, default=None)


class RenovationSettlement(Table):
    """The deposit settlement statement (押金结算单) as the manager approved it: frozen numbers."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    contractor_deposit = Integer(default=0)
    owner_deposit = Integer(default=0)
    total = Integer(default=0, help_text="All deductions, in fen.")
    from_contractor = Integer(default=0)
    from_owner = Integer(default=0)
    uncovered = Integer(default=0, help_text="Deductions beyond both deposits.")
    refund_contractor = Integer(default=0)
    refund_owner = Integer(default=0)
    pass_deposits_refund = Integer(default=0)
    deductions = JSON(default="[]", help_text="The deductions as approved.")
    approved_by = ForeignKey(USER, on_delete=OnDelete.set_null, null=True)
    approved_at = Timestamptz()


class RenovationPhoto(Table):
    """The photos of a permit's acceptance sign-offs (and their signatures) and deductions, one
    row per permit and photo, so whoever can see the permit's site can see them
    (server/photos.py visible_photo)."""

    permit = ForeignKey(
        "server.tables.renovations.RenovationPermit", on_delete=OnDelete.cascade, null=False
    )
    photo = Varchar(length=64)
